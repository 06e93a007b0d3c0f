/* Integration: boot real guests with the vmdefrag program on /dev/kvm. */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/check_run.h"
#include "tests/vmm_harness.h"

#define ck_ran(r, expect_code) \
	ck_assert_msg(!(r).timed_out && (r).code == (expect_code), \
		      "expected exit %d, got %d%s\nstdout:\n%s\nstderr:\n%s", (expect_code), (r).code, \
		      (r).timed_out ? " (timed out)" : "", (r).out, (r).err)

#define ck_has(text, needle) \
	ck_assert_msg(strstr((text), (needle)), "expected \"%s\" in:\n%s", (needle), (text))

START_TEST(test_hello)
{
	struct vmm_result r;

	run_vmm(&r, 60, 0, 0, "run", guest_path("hello"), NULL);
	ck_ran(r, 0);
	ck_has(r.out, "Hello from a vmdefrag guest: 256 MiB, 1 vCPU(s)");
	vmm_result_free(&r);
}
END_TEST

static const int exit_codes[] = { 0, 1, 42, 255 };

START_TEST(test_exit_code)
{
	struct vmm_result r;
	char args[32];

	snprintf(args, sizeof(args), "code=%d", exit_codes[_i]);
	run_vmm(&r, 60, 0, 0, "run", guest_path("exitcode"), "--args", args, "--mem", "32M", NULL);
	ck_ran(r, exit_codes[_i]);
	vmm_result_free(&r);
}
END_TEST

START_TEST(test_assert_reports_file_line)
{
	struct vmm_result r;

	run_vmm(&r, 60, 0, 0, "run", guest_path("assertfail"), NULL);
	ck_ran(r, 123);
	ck_has(r.err, "guest assertion failed on vCPU 0: ");
	ck_has(r.err, "assertfail.c:8: two + two == 5");
	vmm_result_free(&r);
}
END_TEST

START_TEST(test_memtest_1g)
{
	struct vmm_result r;

	run_vmm(&r, 300, 0, 0, "run", guest_path("memtest"), "--mem", "1G", NULL);
	ck_ran(r, 0);
	ck_has(r.out, "memtest: 1020 MiB");
	ck_has(r.out, "report: memtest_bad_pages 0");
	vmm_result_free(&r);
}
END_TEST

/* The pool's resident size, from fstat of the pool file at exit: writing
 * all memory and discarding 512 MiB leaves 512 MiB less than writing it
 * all and discarding nothing. */
START_TEST(test_discard_returns_memory)
{
	struct vmm_result keep, give;
	long long a, b;

	run_vmm(&keep, 300, 0, 0, "run", guest_path("balloon"), "--mem", "1G", "--args", "mb=0",
		"--stats", NULL);
	ck_ran(keep, 0);
	run_vmm(&give, 300, 0, 0, "run", guest_path("balloon"), "--mem", "1G", "--args", "mb=512",
		"--stats", NULL);
	ck_ran(give, 0);
	a = stat_value(keep.out, "pool_resident_bytes");
	b = stat_value(give.out, "pool_resident_bytes");
	ck_assert_msg(a > (1000LL << 20), "writing 1 GiB left only %lld bytes resident", a);
	ck_assert_msg(a - b > (508LL << 20) && a - b < (516LL << 20),
		      "discarding 512 MiB freed %lld bytes (%lld -> %lld)", a - b, a, b);
	vmm_result_free(&keep);
	vmm_result_free(&give);
}
END_TEST

START_TEST(test_two_vcpus_at_once)
{
	struct vmm_result r;

	run_vmm(&r, 60, 0, 0, "run", guest_path("smp"), "--cpus", "2", NULL);
	ck_ran(r, 0);
	ck_has(r.out, "smp: 1 of 1 other vCPUs ran alongside vCPU 0");
	vmm_result_free(&r);
}
END_TEST

static const struct {
	const char *mode, *why;
} crashes[] = {
	{ "mode=ud2", "triple fault" },
	{ "mode=unmapped", "triple fault" },
	{ "mode=discarded", "not backed" },
};

START_TEST(test_crash_reported)
{
	struct vmm_result r;

	run_vmm(&r, 60, 0, 0, "run", guest_path("crash"), "--args", crashes[_i].mode, NULL);
	ck_ran(r, 124);
	ck_has(r.err, "guest crashed on vCPU 0: ");
	ck_has(r.err, crashes[_i].why);
	ck_has(r.err, "rip 0x2");
	ck_assert_msg(!strstr(r.out, "still alive"), "%s", r.out);
	vmm_result_free(&r);
}
END_TEST

START_TEST(test_bad_requests)
{
	struct vmm_result r;

	run_vmm(&r, 60, 0, 0, "run", guest_path("badreq"), NULL);
	ck_ran(r, 0);
	ck_has(r.out, "badreq: 0 unexpected statuses");
	vmm_result_free(&r);
	/* the plug area: no request reaches a slot nobody plugged */
	run_vmm(&r, 60, 0, 0, "run", guest_path("badreq"), "--plug", "4M", "--args", "mode=plug", NULL);
	ck_ran(r, 0);
	ck_has(r.out, "badreq: 0 unexpected statuses");
	vmm_result_free(&r);
}
END_TEST

/* What a guest makes the VMM print on stderr is escaped and rate limited:
 * 1000 unreadable request blocks, then an assertion whose text would
 * clear the terminal and retitle it. */
START_TEST(test_guest_messages_tamed)
{
	struct vmm_result r;
	int lines = 0;

	run_vmm(&r, 60, 0, 0, "run", guest_path("badreq"), "--args", "mode=noisy", NULL);
	ck_ran(r, 123);
	for (const char *p = r.err; (p = strchr(p, '\n')); p++)
		lines++;
	ck_assert_msg(lines <= 12, "%d lines on stderr:\n%s", lines, r.err);
	ck_has(r.err, "messages from the guest suppressed");
	ck_has(r.err, "request block at 0x1003 is not in guest memory or not 8-byte aligned");
	ck_has(r.err, "\\x1b[2J\\x1b]0;pwned\\x07 == \"quiet\"");
	ck_has(r.err, "\\x1b[31mred.c:1:");
	ck_assert_msg(!strchr(r.err, 0x1b) && !strchr(r.err, 0x07), "raw escapes on stderr:\n%s", r.err);
	vmm_result_free(&r);
}
END_TEST

/* The buddyinfo line after "-- buddyinfo" in out: free blocks per order. */
static void parse_buddyinfo(const char *out, unsigned long counts[11])
{
	const char *p = out ? strstr(out, "-- buddyinfo\nNode 0, zone   Normal ") : NULL;

	ck_assert_ptr_nonnull(p);
	ck_assert_int_eq(sscanf(p + strlen("-- buddyinfo\nNode 0, zone   Normal "),
				"%lu %lu %lu %lu %lu %lu %lu %lu %lu %lu %lu", &counts[0], &counts[1],
				&counts[2], &counts[3], &counts[4], &counts[5], &counts[6], &counts[7],
				&counts[8], &counts[9], &counts[10]), 11);
}

START_TEST(test_fragment_then_memtest)
{
	struct vmm_result r;
	unsigned long counts[11], free_frames = 0;

	run_vmm(&r, 300, 0, 0, "run", guest_path("fragment"), "--mem", "1G", "--args", "seed=3",
		"--views", "--proactiveness", "0", NULL);
	ck_ran(r, 0);
	ck_has(r.out, "report: memtest_bad_pages 0");
	parse_buddyinfo(strstr(r.out, "== pool at exit"), counts);
	for (int o = 0; o < 11; o++)
		free_frames += counts[o] << o;
	ck_assert_msg(free_frames > 262144 / 4, "only %lu frames free", free_frames);
	ck_assert_msg(counts[9] + 2 * counts[10] <= 2, "%lu free 2 MiB blocks: not fragmented",
		      counts[9] + 2 * counts[10]);
	vmm_result_free(&r);
}
END_TEST

START_TEST(test_ctrl_c)
{
	struct vmm_result r;

	run_vmm(&r, 60, 1500, SIGINT, "run", guest_path("memtest"), "--args", "loops=0", NULL);
	ck_ran(r, 130);
	ck_has(r.err, "Interrupt, stopping the guest");
	vmm_result_free(&r);
}
END_TEST

START_TEST(test_max_map_count_restored)
{
	FILE *f = fopen("/proc/sys/vm/max_map_count", "r");
	struct vmm_result r;
	long before, after;

	ck_assert_int_eq(fscanf(f, "%ld", &before), 1);
	fclose(f);
	run_vmm(&r, 60, 0, 0, "run", guest_path("hello"), "--mem", "2G", "--stats", NULL);
	ck_ran(r, 0);
	/* booted in order: one mapping of the pool file behind all of it */
	ck_assert_int_eq(stat_value(r.out, "guest_mappings"), 1);
	/* a 2 GiB guest may need 524288 mappings, and one more per 2 MiB where
	 * the sides of two memslots differ: the limit was raised for it */
	ck_has(r.out, "(limit 525313)");
	f = fopen("/proc/sys/vm/max_map_count", "r");
	ck_assert_int_eq(fscanf(f, "%ld", &after), 1);
	fclose(f);
	ck_assert_int_eq(before, after);
	vmm_result_free(&r);
}
END_TEST

START_TEST(test_file_backing)
{
	struct vmm_result r;
	char path[] = "/tmp/vmdefrag-test-pool-XXXXXX", arg[64];
	int fd = mkstemp(path);

	ck_assert_int_ge(fd, 0);
	close(fd);
	snprintf(arg, sizeof(arg), "file:%s", path);
	run_vmm(&r, 60, 0, 0, "run", guest_path("memtest"), "--backing", arg, "--mem", "64M", NULL);
	unlink(path);
	ck_ran(r, 0);
	ck_has(r.out, "memtest: passed");
	vmm_result_free(&r);
}
END_TEST

static const struct {
	const char *opt, *value, *message;
} bad_options[] = {
	{ "--mem", "3M", "--mem 3M: want a multiple of 2M from 16M to 63G" },
	{ "--mem", "lots", "--mem lots: want a multiple of 2M" },
	{ "--mem", "128G", "--mem 128G: want" },
	{ "--cpus", "0", "--cpus 0: want 1 to 64" },
	{ "--cpus", "65", "--cpus 65: want 1 to 64" },
	{ "--backing", "tmpfs", "--backing tmpfs: want memfd, hugetlb or file:PATH" },
};

START_TEST(test_bad_options)
{
	struct vmm_result r;

	run_vmm(&r, 30, 0, 0, "run", guest_path("hello"), bad_options[_i].opt, bad_options[_i].value,
		NULL);
	ck_ran(r, 2);
	ck_has(r.err, bad_options[_i].message);
	vmm_result_free(&r);
}
END_TEST

START_TEST(test_bad_guest_files)
{
	struct vmm_result r;
	char path[] = "/tmp/vmdefrag-test-elf-XXXXXX";
	int fd = mkstemp(path);

	ck_assert_int_eq(write(fd, "#!/bin/sh\necho not an ELF\n", 26), 26);
	close(fd);
	run_vmm(&r, 30, 0, 0, "run", path, NULL);
	ck_ran(r, 1);
	ck_has(r.err, "not an x86-64 ELF executable");
	vmm_result_free(&r);
	unlink(path);
	run_vmm(&r, 30, 0, 0, "run", "/nonexistent/guest.elf", NULL);
	ck_ran(r, 1);
	ck_has(r.err, "/nonexistent/guest.elf: No such file or directory");
	vmm_result_free(&r);
	/* a guest linked where 16 MiB of memory cannot hold it */
	run_vmm(&r, 30, 0, 0, "run", "/bin/true", NULL);
	ck_ran(r, 1);
	vmm_result_free(&r);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("vmm");
	TCase *tc = tcase_create("boot");

	require_kvm();
	tcase_set_timeout(tc, 600);
	tcase_add_test(tc, test_hello);
	tcase_add_loop_test(tc, test_exit_code, 0, 4);
	tcase_add_test(tc, test_assert_reports_file_line);
	tcase_add_test(tc, test_two_vcpus_at_once);
	tcase_add_loop_test(tc, test_crash_reported, 0, 3);
	tcase_add_test(tc, test_bad_requests);
	tcase_add_test(tc, test_guest_messages_tamed);
	tcase_add_test(tc, test_ctrl_c);
	tcase_add_test(tc, test_max_map_count_restored);
	tcase_add_test(tc, test_file_backing);
	tcase_add_loop_test(tc, test_bad_options, 0, sizeof(bad_options) / sizeof(bad_options[0]));
	tcase_add_test(tc, test_bad_guest_files);
	suite_add_tcase(s, tc);
	tc = tcase_create("memory");
	tcase_set_timeout(tc, 600);
	tcase_add_test(tc, test_memtest_1g);
	tcase_add_test(tc, test_discard_returns_memory);
	tcase_add_test(tc, test_fragment_then_memtest);
	suite_add_tcase(s, tc);
	return check_run(s);
}
