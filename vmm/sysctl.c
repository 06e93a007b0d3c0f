/* /proc/sys access, and raises shared between VMMs (see sysctl.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vmm/sysctl.h"

const char *sysctl_root = "/proc/sys";
const char *sysctl_hold_dir = "/run/vmdefrag";

#define MAX_HOLDERS 256

long sysctl_read_long(const char *name)
{
	char path[256];
	long v;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", sysctl_root, name);
	f = fopen(path, "r");
	if (!f)
		return -errno;
	if (fscanf(f, "%ld", &v) != 1)
		v = -EINVAL;
	fclose(f);
	return v;
}

int sysctl_write_long(const char *name, long value)
{
	char path[256];
	FILE *f;
	int err = 0;

	snprintf(path, sizeof(path), "%s/%s", sysctl_root, name);
	f = fopen(path, "w");
	if (!f)
		return -errno;
	if (fprintf(f, "%ld\n", value) < 0)
		err = -errno;
	if (fclose(f) && !err)
		err = -errno;
	return err;
}

/* ---- shared holds ---- */

/* The record of one held value: "original N", then "holder PID NEED START"
 * lines (START: the holder's start time, field 22 of /proc/PID/stat; records
 * written before it was kept have none). */
struct hold_record {
	long original;			/* -1: nobody raised it yet */
	unsigned int nr;
	struct { pid_t pid; long need; unsigned long long start; } holders[MAX_HOLDERS];
};

/*
 * Opens and locks the record file for name; -errno on failure. A holder
 * that empties the record unlinks it while it holds the lock, so the file
 * this one waited on may be gone (or replaced) once the lock is granted:
 * a hold written there would be lost. Lock the file that is at the path.
 */
static int hold_open(const char *name, char *path, size_t len)
{
	char flat[128];

	snprintf(flat, sizeof(flat), "%s", name);
	for (char *p = flat; *p; p++)
		if (*p == '/')
			*p = '.';
	if (mkdir(sysctl_hold_dir, 0755) && errno != EEXIST)
		return -errno;
	snprintf(path, len, "%s/%s", sysctl_hold_dir, flat);
	for (;;) {
		struct stat locked, named;
		int fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644), err;

		if (fd < 0)
			return -errno;
		if (flock(fd, LOCK_EX) || fstat(fd, &locked)) {
			err = -errno;
			close(fd);
			return err;
		}
		if (locked.st_nlink && !lstat(path, &named) && named.st_dev == locked.st_dev &&
		    named.st_ino == locked.st_ino)
			return fd;
		close(fd);
	}
}

#define PF_EXITING	0x00000004	/* include/linux/sched.h: the task is in do_exit() */

/* From a /proc/.../stat line: the state (field 3), the kernel flags (field
 * 9) and the start time (field 22). -1 when it cannot be read. */
static int read_stat(const char *path, char *state, unsigned long *flags,
		     unsigned long long *start)
{
	char buf[1024], *p;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	/* the command name, field 2, is in parentheses and may hold anything */
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 1, " %c %*d %*d %*d %*d %*d %lu %*u %*u %*u %*u %*u %*u %*d %*d "
			 "%*d %*d %*d %*d %llu", state, flags, start) != 3) {
		errno = EINVAL;
		return -1;
	}
	return 0;
}

/*
 * Whether the holder may still run and unhold. kill(pid, 0) is not enough:
 * it succeeds on a process killed with SIGKILL until its parent reaps it
 * (for a 1 GiB guest, ~0.1 s of teardown in which the leader is already a
 * zombie, and for ever under a parent that does not wait), and on an
 * unrelated process that got the PID later. A holder is alive while the
 * process started at START exists and one of its threads is neither a
 * zombie nor in do_exit().
 */
static bool holder_alive(pid_t pid, unsigned long long start)
{
	unsigned long long started;
	unsigned long flags;
	char path[64], state;
	struct dirent *de;
	bool alive = false;
	DIR *tasks;

	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	if (read_stat(path, &state, &flags, &started)) {
		if (errno == ENOENT || errno == ESRCH)
			return false;
		return kill(pid, 0) == 0 || errno == EPERM;	/* no /proc to ask */
	}
	if (start && started != start)
		return false;
	snprintf(path, sizeof(path), "/proc/%ld/task", (long)pid);
	tasks = opendir(path);
	if (!tasks)
		return false;
	while (!alive && (de = readdir(tasks))) {
		char tpath[300];

		if (de->d_name[0] == '.')
			continue;
		snprintf(tpath, sizeof(tpath), "/proc/%ld/task/%s/stat", (long)pid, de->d_name);
		alive = !read_stat(tpath, &state, &flags, &started) && state != 'Z' &&
			state != 'X' && state != 'x' && !(flags & PF_EXITING);
	}
	closedir(tasks);
	return alive;
}

static unsigned long long own_start_time(void)
{
	unsigned long long start;
	unsigned long flags;
	char state;

	return read_stat("/proc/self/stat", &state, &flags, &start) ? 0 : start;
}

/* Reads the record, keeping only live holders other than self. */
static void hold_read(int fd, struct hold_record *r)
{
	FILE *f = fdopen(dup(fd), "r");
	char line[128];

	r->original = -1;
	r->nr = 0;
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		unsigned long long start = 0;
		long pid, v;

		if (sscanf(line, "original %ld", &v) == 1 && v >= 0) {
			r->original = v;
		} else if (sscanf(line, "holder %ld %ld %llu", &pid, &v, &start) >= 2 && pid > 0 &&
			   pid != getpid() && r->nr < MAX_HOLDERS && holder_alive((pid_t)pid, start)) {
			r->holders[r->nr].pid = (pid_t)pid;
			r->holders[r->nr].need = v;
			r->holders[r->nr].start = start;
			r->nr++;
		}
	}
	fclose(f);
}

static void hold_write(int fd, const struct hold_record *r)
{
	char buf[64 + MAX_HOLDERS * 72];
	size_t len = 0;

	if (r->original >= 0)
		len += (size_t)snprintf(buf + len, sizeof(buf) - len, "original %ld\n", r->original);
	for (unsigned int i = 0; i < r->nr; i++)
		len += (size_t)snprintf(buf + len, sizeof(buf) - len, "holder %ld %ld %llu\n",
					(long)r->holders[i].pid, r->holders[i].need,
					r->holders[i].start);
	if (ftruncate(fd, 0) || pwrite(fd, buf, len, 0) != (ssize_t)len) {
		/* the record is advisory: the next holder rebuilds it */
	}
}

long sysctl_hold(const char *name, long need)
{
	struct hold_record *r = malloc(sizeof(*r));
	char path[256];
	long now = sysctl_read_long(name);
	int fd, err;

	if (!r)
		return -ENOMEM;
	fd = hold_open(name, path, sizeof(path));
	if (fd < 0) {
		free(r);
		return now < need ? fd : now;	/* no record, but nothing to raise */
	}
	hold_read(fd, r);
	now = sysctl_read_long(name);
	if (now < 0)
		goto out;
	/* an original with no live holder is a crashed VMM's raise: it is
	 * still owed back, by whoever leaves last from now on */
	if (now < need) {
		err = sysctl_write_long(name, need);
		if (err) {
			now = err;
			goto out;
		}
		if (r->original < 0)
			r->original = now;
		now = need;
	}
	/* register whenever a raise is in force, ours or another's, so the
	 * value is not put back under us */
	if (r->original >= 0 && r->nr < MAX_HOLDERS) {
		r->holders[r->nr].pid = getpid();
		r->holders[r->nr].need = need;
		r->holders[r->nr].start = own_start_time();
		r->nr++;
	}
out:
	hold_write(fd, r);
	if (!r->nr && r->original < 0)
		unlink(path);
	close(fd);
	free(r);
	return now;
}

void sysctl_unhold(const char *name)
{
	struct hold_record *r = malloc(sizeof(*r));
	char path[256];
	int fd;

	if (!r)
		return;
	fd = hold_open(name, path, sizeof(path));
	if (fd < 0) {
		free(r);
		return;
	}
	hold_read(fd, r);
	if (!r->nr) {
		if (r->original >= 0)
			sysctl_write_long(name, r->original);
		unlink(path);
	} else {
		/* down to what those left need, never below the original */
		long keep = r->original;

		for (unsigned int i = 0; i < r->nr; i++)
			if (r->holders[i].need > keep)
				keep = r->holders[i].need;
		if (r->original >= 0 && sysctl_read_long(name) > keep)
			sysctl_write_long(name, keep);
		hold_write(fd, r);
	}
	close(fd);
	free(r);
}
