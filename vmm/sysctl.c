/* /proc/sys access, and raises shared between VMMs (see sysctl.h). */
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

/* The record of one held value: "original N", then "holder PID NEED" lines. */
struct hold_record {
	long original;			/* -1: nobody raised it yet */
	unsigned int nr;
	struct { pid_t pid; long need; } holders[MAX_HOLDERS];
};

/* Opens and locks the record file for name; -errno on failure. */
static int hold_open(const char *name, char *path, size_t len)
{
	char flat[128];
	int fd;

	snprintf(flat, sizeof(flat), "%s", name);
	for (char *p = flat; *p; p++)
		if (*p == '/')
			*p = '.';
	if (mkdir(sysctl_hold_dir, 0755) && errno != EEXIST)
		return -errno;
	snprintf(path, len, "%s/%s", sysctl_hold_dir, flat);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	if (flock(fd, LOCK_EX)) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

static bool alive(pid_t pid)
{
	return kill(pid, 0) == 0 || errno == EPERM;
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
		long pid, v;

		if (sscanf(line, "original %ld", &v) == 1 && v >= 0) {
			r->original = v;
		} else if (sscanf(line, "holder %ld %ld", &pid, &v) == 2 && pid > 0 &&
			   pid != getpid() && alive((pid_t)pid) && r->nr < MAX_HOLDERS) {
			r->holders[r->nr].pid = (pid_t)pid;
			r->holders[r->nr].need = v;
			r->nr++;
		}
	}
	fclose(f);
}

static void hold_write(int fd, const struct hold_record *r)
{
	char buf[64 + MAX_HOLDERS * 48];
	size_t len = 0;

	if (r->original >= 0)
		len += (size_t)snprintf(buf + len, sizeof(buf) - len, "original %ld\n", r->original);
	for (unsigned int i = 0; i < r->nr; i++)
		len += (size_t)snprintf(buf + len, sizeof(buf) - len, "holder %ld %ld\n",
					(long)r->holders[i].pid, r->holders[i].need);
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
