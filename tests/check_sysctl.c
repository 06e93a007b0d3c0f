/* vm.max_map_count raised for as long as VMMs need it and put back by the
 * last one to leave, against a scratch /proc/sys and hold directory. */
#include <check.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sched.h>
#include <unistd.h>

#include "tests/check_run.h"
#include "vmm/sysctl.h"

#define NAME "vm/max_map_count"

static char root[64], holds[80];

static void setup(void)
{
	char vm[96];

	snprintf(root, sizeof(root), "/tmp/check-sysctl-%d", getpid());
	snprintf(holds, sizeof(holds), "%s/holds", root);
	snprintf(vm, sizeof(vm), "%s/vm", root);
	mkdir(root, 0700);
	mkdir(vm, 0700);
	sysctl_root = root;
	sysctl_hold_dir = holds;
	ck_assert_int_eq(sysctl_write_long(NAME, 65530), 0);
}

static void teardown(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
	if (system(cmd)) {
		/* scratch only */
	}
}

static const char *record_path(void)
{
	static char path[128];

	snprintf(path, sizeof(path), "%s/vm.max_map_count", holds);
	return path;
}

static bool record_exists(void)
{
	return access(record_path(), F_OK) == 0;
}

/* The record's text ("" when there is none). Static buffer. */
static const char *record_text(void)
{
	static char text[4096];
	FILE *f = fopen(record_path(), "r");
	size_t n = 0;

	if (f) {
		n = fread(text, 1, sizeof(text) - 1, f);
		fclose(f);
	}
	text[n] = 0;
	return text;
}

static void write_record(const char *text)
{
	FILE *f;

	mkdir(holds, 0755);
	f = fopen(record_path(), "w");
	ck_assert_ptr_nonnull(f);
	ck_assert_int_ge(fputs(text, f), 0);
	ck_assert_int_eq(fclose(f), 0);
}

/* Waits until the process is a zombie, leaving it unreaped (WNOWAIT). */
static void wait_zombie(pid_t pid)
{
	siginfo_t si;

	ck_assert_int_eq(waitid(P_PID, (id_t)pid, &si, WEXITED | WNOWAIT), 0);
}

/* A holder in a child process: holds need, then waits for a byte on the
 * pipe; unholds (or, with crash, just exits) when it comes. */
struct child {
	pid_t pid;
	int go;
};

static struct child child_hold(long need, bool crash)
{
	int to_child[2], ready[2];
	struct child c;
	char b = 0;

	ck_assert_int_eq(pipe(to_child), 0);
	ck_assert_int_eq(pipe(ready), 0);
	c.pid = fork();
	if (c.pid == 0) {
		long got = sysctl_hold(NAME, need);

		if (write(ready[1], &b, 1) != 1 || got < need)
			_exit(2);
		if (read(to_child[0], &b, 1) != 1)
			_exit(3);
		if (!crash)
			sysctl_unhold(NAME);
		_exit(0);
	}
	ck_assert_int_eq(read(ready[0], &b, 1), 1);
	close(ready[0]);
	close(ready[1]);
	close(to_child[0]);
	c.go = to_child[1];
	return c;
}

static void child_leave(struct child c)
{
	int status;

	ck_assert_int_eq(write(c.go, "x", 1), 1);
	close(c.go);
	ck_assert_int_eq(waitpid(c.pid, &status, 0), c.pid);
	ck_assert_int_eq(WEXITSTATUS(status), 0);
}

START_TEST(test_raise_and_put_back)
{
	ck_assert_int_eq(sysctl_hold(NAME, 270337), 270337);
	ck_assert_int_eq(sysctl_read_long(NAME), 270337);
	ck_assert(record_exists());
	sysctl_unhold(NAME);
	ck_assert_int_eq(sysctl_read_long(NAME), 65530);
	ck_assert(!record_exists());
}
END_TEST

START_TEST(test_high_enough_is_left_alone)
{
	ck_assert_int_eq(sysctl_hold(NAME, 1000), 65530);
	ck_assert(!record_exists());
	sysctl_unhold(NAME);
	ck_assert_int_eq(sysctl_read_long(NAME), 65530);
}
END_TEST

/* The first VMM to leave must not pull the value from under the second,
 * even when the second found it already high enough: it comes down only
 * to what the second needs. */
START_TEST(test_last_holder_puts_back)
{
	struct child big = child_hold(300000, false);

	ck_assert_int_eq(sysctl_read_long(NAME), 300000);
	ck_assert_int_eq(sysctl_hold(NAME, 200000), 300000);
	child_leave(big);
	ck_assert_int_eq(sysctl_read_long(NAME), 200000);
	sysctl_unhold(NAME);
	ck_assert_int_eq(sysctl_read_long(NAME), 65530);
	ck_assert(!record_exists());
}
END_TEST

/* A later, bigger guest raises further; the original comes back at the end
 * whatever the order of leaving. */
START_TEST(test_growing_needs)
{
	struct child small;

	ck_assert_int_eq(sysctl_hold(NAME, 100000), 100000);
	small = child_hold(200000, false);
	ck_assert_int_eq(sysctl_read_long(NAME), 200000);
	sysctl_unhold(NAME);
	ck_assert_int_eq(sysctl_read_long(NAME), 200000);
	child_leave(small);
	ck_assert_int_eq(sysctl_read_long(NAME), 65530);
}
END_TEST

/* A big guest leaving while a smaller one runs: the value comes down to
 * what the smaller one needs. */
START_TEST(test_shrinks_to_remaining_need)
{
	struct child small = child_hold(100000, false);

	ck_assert_int_eq(sysctl_hold(NAME, 300000), 300000);
	sysctl_unhold(NAME);
	ck_assert_int_eq(sysctl_read_long(NAME), 100000);
	child_leave(small);
	ck_assert_int_eq(sysctl_read_long(NAME), 65530);
	ck_assert(!record_exists());
}
END_TEST

/* A VMM killed while holding: the next VMM to leave puts the value back. */
START_TEST(test_crashed_holder)
{
	struct child dead = child_hold(270337, true);

	child_leave(dead);
	ck_assert_int_eq(sysctl_read_long(NAME), 270337);
	ck_assert_int_eq(sysctl_hold(NAME, 1000), 270337);
	sysctl_unhold(NAME);
	ck_assert_int_eq(sysctl_read_long(NAME), 65530);
	ck_assert(!record_exists());
}
END_TEST

/* A VMM killed with SIGKILL and not reaped yet (a zombie: its parent has
 * not waited, or the kernel is still tearing its threads down) can never
 * leave: a VMM that needs no raise must put the value back when it goes.
 * kill(pid, 0) succeeds on a zombie, so the old liveness check kept the
 * dead holder's raise for good. */
START_TEST(test_killed_unreaped_holder)
{
	struct child dead = child_hold(270337, false);

	ck_assert_int_eq(kill(dead.pid, SIGKILL), 0);
	wait_zombie(dead.pid);
	ck_assert_int_eq(sysctl_hold(NAME, 1000), 270337);
	sysctl_unhold(NAME);
	ck_assert_int_eq(sysctl_read_long(NAME), 65530);
	ck_assert(!record_exists());
	close(dead.go);
	ck_assert_int_eq(waitpid(dead.pid, NULL, 0), dead.pid);
}
END_TEST

/* A record naming a PID that an unrelated process has taken since: the
 * start time kept with the holder tells them apart. */
START_TEST(test_reused_pid)
{
	int p[2];
	char b, text[128];
	pid_t other;

	ck_assert_int_eq(pipe(p), 0);
	other = fork();
	if (other == 0) {
		close(p[1]);
		_exit(read(p[0], &b, 1) < 0);	/* lives until the pipe closes */
	}
	close(p[0]);
	ck_assert_int_eq(sysctl_write_long(NAME, 270337), 0);
	/* start time 1: a process that started 10 ms after boot */
	snprintf(text, sizeof(text), "original 65530\nholder %ld 270337 1\n", (long)other);
	write_record(text);
	ck_assert_int_eq(sysctl_hold(NAME, 1000), 270337);
	sysctl_unhold(NAME);
	ck_assert_int_eq(sysctl_read_long(NAME), 65530);
	ck_assert(!record_exists());
	close(p[1]);
	ck_assert_int_eq(waitpid(other, NULL, 0), other);
}
END_TEST

/* A holder whose main thread has ended (a zombie thread) while another
 * of its threads runs on is alive. */
static void *hold_in_thread(void *arg)
{
	int *fds = arg;
	char b = 0;

	if (sysctl_hold(NAME, 270337) != 270337 || write(fds[1], &b, 1) != 1)
		_exit(2);
	if (read(fds[2], &b, 1) != 1)
		_exit(3);
	sysctl_unhold(NAME);
	_exit(0);
}

START_TEST(test_holder_without_main_thread)
{
	int ready[2], go[2], status;
	char b, stat_path[64], line[256];
	pid_t pid;

	ck_assert_int_eq(pipe(ready), 0);
	ck_assert_int_eq(pipe(go), 0);
	pid = fork();
	if (pid == 0) {
		static int fds[3];
		pthread_t t;

		fds[1] = ready[1];
		fds[2] = go[0];
		if (pthread_create(&t, NULL, hold_in_thread, fds))
			_exit(4);
		pthread_exit(NULL);
	}
	ck_assert_int_eq(read(ready[0], &b, 1), 1);
	/* poll until the main thread is a zombie */
	snprintf(stat_path, sizeof(stat_path), "/proc/%ld/stat", (long)pid);
	for (;;) {
		FILE *f = fopen(stat_path, "r");
		char *p;

		ck_assert_ptr_nonnull(f);
		ck_assert_ptr_nonnull(fgets(line, sizeof(line), f));
		fclose(f);
		p = strrchr(line, ')');
		ck_assert_ptr_nonnull(p);
		if (p[2] == 'Z')
			break;
		sched_yield();
	}
	ck_assert_int_eq(sysctl_hold(NAME, 1000), 270337);
	sysctl_unhold(NAME);
	ck_assert_int_eq(sysctl_read_long(NAME), 270337);
	ck_assert_int_eq(write(go[1], "x", 1), 1);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_int_eq(WEXITSTATUS(status), 0);
	ck_assert_int_eq(sysctl_read_long(NAME), 65530);
}
END_TEST

/* Whether pid waits for a flock (a "->" line in /proc/locks). */
static bool waits_on_flock(pid_t pid)
{
	FILE *f = fopen("/proc/locks", "r");
	char line[256], want[64];
	bool found = false;

	ck_assert_ptr_nonnull(f);
	snprintf(want, sizeof(want), " %ld ", (long)pid);
	while (!found && fgets(line, sizeof(line), f))
		found = strstr(line, "-> FLOCK") && strstr(line, want);
	fclose(f);
	return found;
}

/* The last holder to leave unlinks the record while it holds its lock.
 * A VMM that was waiting for that lock must not write its hold into the
 * unlinked file, where no one would ever see it: it must lock the record
 * at the path. Played here with the test holding the lock, a child
 * blocked in sysctl_hold, and the record unlinked before the unlock. */
START_TEST(test_record_unlinked_under_waiter)
{
	struct child waiter;
	int fd, ready[2], go[2], status;
	char b = 0, want[64];

	mkdir(holds, 0755);
	fd = open(record_path(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(flock(fd, LOCK_EX), 0);
	ck_assert_int_eq(pipe(ready), 0);
	ck_assert_int_eq(pipe(go), 0);
	waiter.pid = fork();
	if (waiter.pid == 0) {
		long got;

		close(fd);	/* the lock stays with the parent's descriptor */
		got = sysctl_hold(NAME, 270337);

		if (write(ready[1], &b, 1) != 1 || got != 270337)
			_exit(2);
		if (read(go[0], &b, 1) != 1)
			_exit(3);
		sysctl_unhold(NAME);
		_exit(0);
	}
	close(go[0]);
	waiter.go = go[1];
	/* poll until the child is blocked on the record's lock */
	while (!waits_on_flock(waiter.pid)) {
		ck_assert_int_eq(waitpid(waiter.pid, &status, WNOHANG), 0);
		sched_yield();
	}
	ck_assert_int_eq(unlink(record_path()), 0);
	close(fd);
	ck_assert_int_eq(read(ready[0], &b, 1), 1);
	ck_assert_int_eq(sysctl_read_long(NAME), 270337);
	snprintf(want, sizeof(want), "holder %ld 270337", (long)waiter.pid);
	ck_assert_msg(strstr(record_text(), want), "expected \"%s\" in the record at %s, found:\n%s",
		      want, record_path(), record_text());
	child_leave(waiter);
	ck_assert_int_eq(sysctl_read_long(NAME), 65530);
	ck_assert(!record_exists());
}
END_TEST

/* When the value cannot be written, hold fails and changes nothing. */
START_TEST(test_cannot_raise)
{
	char path[128];

	snprintf(path, sizeof(path), "%s/vm/max_map_count", root);
	ck_assert_int_eq(chmod(path, 0444), 0);
	if (geteuid() == 0) {
		/* root writes through 0444: use a value file that is a directory */
		ck_assert_int_eq(unlink(path), 0);
		ck_assert_int_eq(mkdir(path, 0700), 0);
	}
	ck_assert_int_lt(sysctl_hold(NAME, 270337), 0);
	ck_assert(!record_exists());
}
END_TEST

int main(void)
{
	Suite *s = suite_create("sysctl");
	TCase *tc = tcase_create("hold");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_raise_and_put_back);
	tcase_add_test(tc, test_high_enough_is_left_alone);
	tcase_add_test(tc, test_last_holder_puts_back);
	tcase_add_test(tc, test_growing_needs);
	tcase_add_test(tc, test_shrinks_to_remaining_need);
	tcase_add_test(tc, test_crashed_holder);
	tcase_add_test(tc, test_killed_unreaped_holder);
	tcase_add_test(tc, test_reused_pid);
	tcase_add_test(tc, test_holder_without_main_thread);
	tcase_add_test(tc, test_record_unlinked_under_waiter);
	tcase_add_test(tc, test_cannot_raise);
	suite_add_tcase(s, tc);
	return check_run(s);
}
