/* vm.max_map_count raised for as long as VMMs need it and put back by the
 * last one to leave, against a scratch /proc/sys and hold directory. */
#include <check.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
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

static bool record_exists(void)
{
	char path[128];

	snprintf(path, sizeof(path), "%s/vm.max_map_count", holds);
	return access(path, F_OK) == 0;
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
	tcase_add_test(tc, test_cannot_raise);
	suite_add_tcase(s, tc);
	return check_run(s);
}
