/* Integration: boot real guests with the vmdefrag program on /dev/kvm. */
#include <check.h>
#include <elf.h>
#include <stdbool.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
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
	ck_has(r.err, "assertfail.c:10: two + two == 5");
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

/* More vCPUs than the guest library has stacks for: the extra ones stop at
 * once instead of running on memory past the stacks, and the program is
 * told how many run. */
START_TEST(test_vcpus_past_the_library)
{
	struct vmm_result r;

	run_vmm(&r, 60, 0, 0, "run", guest_path("smp"), "--cpus", "20", "--args", "count=1", NULL);
	ck_ran(r, 0);
	ck_has(r.out, "report: nr_cpus 16");
	ck_has(r.out, "report: secondaries 15");
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

static long read_max_map_count(void)
{
	FILE *f = fopen("/proc/sys/vm/max_map_count", "r");
	long v = -1;

	if (f) {
		if (fscanf(f, "%ld", &v) != 1)
			v = -1;
		fclose(f);
	}
	return v;
}

#define HOLD_RECORD "/run/vmdefrag/vm.max_map_count"

/* The shared hold record's text, "" when there is none. Static buffer. */
static const char *hold_record(void)
{
	static char text[16384];
	FILE *f = fopen(HOLD_RECORD, "r");
	size_t n = 0;

	if (f) {
		n = fread(text, 1, sizeof(text) - 1, f);
		fclose(f);
	}
	text[n] = 0;
	return text;
}

/*
 * A VMM killed with SIGKILL is not reaped at once: its leader stays a
 * zombie while the kernel tears the guest down (~0.1 s for 1 GiB), and for
 * as long as a parent does not wait. A VMM that starts and exits within
 * that time must not keep the dead one's raise in force, for nobody would
 * come after to put the limit back. Here the test is the parent and waits
 * only once the second VMM is done.
 */
START_TEST(test_killed_vmm_leaves_no_raise)
{
	char out[] = "/tmp/vmdefrag-test-killed-XXXXXX", dead_line[48];
	long before = read_max_map_count(), after;
	int had_record = access(HOLD_RECORD, F_OK) == 0, fd = mkstemp(out);
	const char *record;
	bool names_dead;
	struct vmm_result r;
	siginfo_t si;
	pid_t dead;

	ck_assert_int_ge(fd, 0);
	close(fd);
	dead = spawn_vmm(out, "run", guest_path("memtest"), "--mem", "1G", "--args", "loops=0", NULL);
	ck_assert_int_eq(wait_for_output(out, "memtest: ", 1, 120), 1);
	ck_assert_int_eq(kill(dead, SIGKILL), 0);
	ck_assert_int_eq(waitid(P_PID, (id_t)dead, &si, WEXITED | WNOWAIT), 0);	/* not reaped */
	run_vmm(&r, 60, 0, 0, "run", guest_path("hello"), "--mem", "1G", NULL);
	record = hold_record();
	snprintf(dead_line, sizeof(dead_line), "holder %ld ", (long)dead);
	names_dead = strstr(record, dead_line) != NULL;
	after = read_max_map_count();
	waitpid(dead, NULL, 0);
	unlink(out);
	if (names_dead) {
		/* put the host back before failing: now that the dead VMM is
		 * reaped, any VMM leaving drops it */
		struct vmm_result fix;

		run_vmm(&fix, 60, 0, 0, "run", guest_path("hello"), "--mem", "16M", NULL);
		vmm_result_free(&fix);
	}
	ck_ran(r, 0);
	ck_assert_msg(!names_dead, "the hold record still names the killed VMM %ld:\n%s",
		      (long)dead, record);
	/* others' VMMs may hold the limit meanwhile: compare only when none did */
	if (!had_record && !*record)
		ck_assert_int_eq(after, before);
	vmm_result_free(&r);
}
END_TEST

/* A scratch directory for pool files: "old", a file of known bytes, and
 * "link", a symlink to it; "pool" is a path that does not exist yet. */
struct pool_dir {
	char dir[40], old[64], link[64], pool[64], arg[80];
};

static void pool_dir_make(struct pool_dir *d)
{
	int fd;

	snprintf(d->dir, sizeof(d->dir), "/tmp/vmdefrag-test-pool-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(d->dir));
	snprintf(d->old, sizeof(d->old), "%s/old", d->dir);
	snprintf(d->link, sizeof(d->link), "%s/link", d->dir);
	snprintf(d->pool, sizeof(d->pool), "%s/pool", d->dir);
	snprintf(d->arg, sizeof(d->arg), "file:%s", d->pool);
	fd = open(d->old, O_WRONLY | O_CREAT | O_EXCL, 0644);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, "not guest memory", 16), 16);
	close(fd);
	ck_assert_int_eq(symlink(d->old, d->link), 0);
}

static void pool_dir_remove(struct pool_dir *d)
{
	unlink(d->old);
	unlink(d->link);
	unlink(d->pool);
	rmdir(d->dir);
}

#define ck_gone(path) \
	ck_assert_msg(access((path), F_OK) && errno == ENOENT, "%s is still there", (path))

/* --backing file:PATH makes a new file, which is gone after the run. */
START_TEST(test_file_backing)
{
	struct vmm_result r;
	struct pool_dir d;

	pool_dir_make(&d);
	run_vmm(&r, 60, 0, 0, "run", guest_path("memtest"), "--backing", d.arg, "--mem", "64M", NULL);
	ck_ran(r, 0);
	ck_has(r.out, "memtest: passed");
	ck_gone(d.pool);
	vmm_result_free(&r);
	pool_dir_remove(&d);
}
END_TEST

/* ,keep leaves the file, mode 0600 whatever the umask, guest memory in it. */
START_TEST(test_file_backing_keep)
{
	struct vmm_result r;
	struct pool_dir d;
	struct stat st;
	char arg[96];
	mode_t old_umask;

	pool_dir_make(&d);
	snprintf(arg, sizeof(arg), "%s,keep", d.arg);
	old_umask = umask(0277);	/* would give 0400 */
	run_vmm(&r, 60, 0, 0, "run", guest_path("memtest"), "--backing", arg, "--mem", "64M", NULL);
	umask(old_umask);
	ck_ran(r, 0);
	ck_assert_int_eq(stat(d.pool, &st), 0);
	ck_assert_int_eq(st.st_mode & 07777, 0600);
	ck_assert_int_eq(st.st_size, 64 << 20);
	vmm_result_free(&r);
	pool_dir_remove(&d);
}
END_TEST

/* A VMM with its pool in d's "pool" stopped by QMP's quit: exit 0. */
static void quit_over_socket(struct pool_dir *d)
{
	static const char talk[] = "{\"execute\":\"qmp_capabilities\"}\n{\"execute\":\"quit\"}\n";
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	char out[64];
	pid_t pid;
	int fd;

	snprintf(out, sizeof(out), "%s/out", d->dir);
	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s/sock", d->dir);
	pid = spawn_vmm(out, "run", guest_path("memtest"), "--args", "loops=0", "--backing", d->arg,
			"--mem", "64M", "--socket", addr.sun_path, NULL);
	ck_assert_int_eq(wait_for_socket(addr.sun_path, 60), 0);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
	ck_assert_int_eq(write(fd, talk, sizeof(talk) - 1), (ssize_t)sizeof(talk) - 1);
	ck_assert_int_eq(wait_vmm(pid, 60), 0);
	close(fd);
	unlink(out);
}

/* The file goes on every way out after it was made: SIGINT, SIGTERM, QMP's
 * quit, a VMM error (a guest that cannot be loaded). */
START_TEST(test_file_backing_removed_on_stop)
{
	struct vmm_result r;
	struct pool_dir d;

	pool_dir_make(&d);
	run_vmm(&r, 60, 1500, SIGINT, "run", guest_path("memtest"), "--args", "loops=0",
		"--backing", d.arg, "--mem", "64M", NULL);
	ck_ran(r, 130);
	ck_gone(d.pool);
	vmm_result_free(&r);
	run_vmm(&r, 60, 1500, SIGTERM, "run", guest_path("memtest"), "--args", "loops=0",
		"--backing", d.arg, "--mem", "64M", NULL);
	ck_ran(r, 130);
	ck_gone(d.pool);
	vmm_result_free(&r);
	ck_gone(d.pool);
	quit_over_socket(&d);
	/* the pool exists before the guest is loaded */
	run_vmm(&r, 60, 0, 0, "run", d.old, "--backing", d.arg, "--mem", "64M", NULL);
	ck_ran(r, 1);
	ck_has(r.err, "not an ELF file");
	ck_gone(d.pool);
	vmm_result_free(&r);
	pool_dir_remove(&d);
}
END_TEST

/* An existing path (a file, a symlink to one) is refused with a clear
 * error and left as it was: its bytes would become guest memory. */
START_TEST(test_file_backing_refuses_existing)
{
	struct vmm_result r;
	struct pool_dir d;
	struct stat st;
	char arg[96], text[32] = "", target[80];
	const char *path;
	ssize_t n;
	int fd;

	pool_dir_make(&d);
	path = _i ? d.link : d.old;
	snprintf(arg, sizeof(arg), "file:%s", path);
	run_vmm(&r, 60, 0, 0, "run", guest_path("hello"), "--backing", arg, "--mem", "64M", NULL);
	ck_ran(r, 1);
	ck_has(r.err, "cannot create the pool file ");
	ck_has(r.err, path);
	ck_has(r.err, "exists already");
	/* untouched: the same bytes, size, mode; the symlink still a symlink */
	ck_assert_int_eq(stat(d.old, &st), 0);
	ck_assert_int_eq(st.st_size, 16);
	ck_assert_int_eq(st.st_mode & 07777, 0644);
	fd = open(d.old, O_RDONLY);
	ck_assert_int_eq(read(fd, text, sizeof(text) - 1), 16);
	close(fd);
	ck_assert_str_eq(text, "not guest memory");
	n = readlink(d.link, target, sizeof(target) - 1);
	ck_assert_int_gt(n, 0);
	target[n] = 0;
	ck_assert_str_eq(target, d.old);
	vmm_result_free(&r);
	pool_dir_remove(&d);
}
END_TEST

static const struct {
	const char *suffix, *message;
} bad_file_options[] = {
	{ ",bogus", "unknown option 'bogus' after the path (options: keep, persistent, sync;" },
	{ ",keep,sync", "sync orders a persistent pool's stores on the disk: add ,persistent" },
	{ ",keep,", "unknown option '' after the path" },
	{ ",keep,persist", "unknown option 'persist'" },
};

/* A bad option after the path: exit 2, and no file is made. */
START_TEST(test_file_backing_bad_option)
{
	struct vmm_result r;
	struct pool_dir d;
	char arg[128], message[160];

	pool_dir_make(&d);
	snprintf(arg, sizeof(arg), "%s%s", d.arg, bad_file_options[_i].suffix);
	run_vmm(&r, 30, 0, 0, "run", guest_path("hello"), "--backing", arg, NULL);
	ck_ran(r, 2);
	snprintf(message, sizeof(message), "--backing %s: ", arg);
	ck_has(r.err, message);
	ck_has(r.err, bad_file_options[_i].message);
	ck_gone(d.pool);
	vmm_result_free(&r);
	pool_dir_remove(&d);
}
END_TEST

/* A persistent pool: kept at exit, opened and recovered by the next run;
 * an existing file that is no such pool refused, untouched; the buddy
 * refused for it. */
START_TEST(test_persistent_backing)
{
	struct vmm_result r;
	struct pool_dir d;
	char arg[128], old_arg[128], sync_arg[128], back[32] = "";
	const char *syncs;
	int fd;

	pool_dir_make(&d);
	snprintf(arg, sizeof(arg), "%s,persistent", d.arg);
	run_vmm(&r, 60, 0, 0, "run", guest_path("memtest"), "--backing", arg, "--mem", "32M", NULL);
	ck_ran(r, 0);
	ck_has(r.out, "memtest: passed");
	ck_assert_int_eq(access(d.pool, F_OK), 0);
	vmm_result_free(&r);
	run_vmm(&r, 60, 0, 0, "run", guest_path("hello"), "--backing", arg, "--mem", "32M", NULL);
	ck_ran(r, 0);
	ck_has(r.err, "vmdefrag: recovered the pool in ");
	ck_has(r.err, "0 frames nobody owned freed");
	vmm_result_free(&r);
	/* ,sync: the same, an msync at each step's boundary (pmemtest
	 * discards and populates, and kcompactd moves meanwhile: every step
	 * makes some, from vCPU and compactor threads at once, which TSan
	 * watches) */
	snprintf(sync_arg, sizeof(sync_arg), "%s,persistent,sync", d.arg);
	run_vmm(&r, 60, 0, 0, "run", guest_path("pmemtest"), "--backing", sync_arg, "--mem", "32M", "--stats",
		"--proactiveness", "100", "--args", "seconds=2 discard=16", NULL);
	ck_ran(r, 0);
	ck_has(r.out, "report: pmemtest_discards ");
	ck_has(r.err, "vmdefrag: recovered the pool in ");
	syncs = strstr(r.out, "stats: pool_syncs ");
	ck_assert_ptr_nonnull(syncs);
	ck_assert_int_gt(atol(syncs + strlen("stats: pool_syncs ")), 0);
	ck_has(r.out, "stats: invariants ok");
	vmm_result_free(&r);
	/* another --mem: refused, the file as it was */
	run_vmm(&r, 60, 0, 0, "run", guest_path("hello"), "--backing", arg, "--mem", "64M", NULL);
	ck_ran(r, 1);
	ck_has(r.err, "the pool holds 32 MiB of frames for 32 MiB of guest memory; this VM asks for "
		      "64 MiB for 64 MiB; it is left as it was");
	vmm_result_free(&r);
	run_vmm(&r, 60, 0, 0, "run", guest_path("hello"), "--backing", arg, "--mem", "32M",
		"--allocator", "buddy", NULL);
	ck_ran(r, 2);
	ck_has(r.err, "a persistent pool runs on the lockfree allocator, not --allocator buddy");
	vmm_result_free(&r);
	/* a file of someone else's */
	snprintf(old_arg, sizeof(old_arg), "file:%s,persistent", d.old);
	run_vmm(&r, 60, 0, 0, "run", guest_path("hello"), "--backing", old_arg, "--mem", "32M", NULL);
	ck_ran(r, 1);
	ck_has(r.err, "the file is 16 bytes, too short for a persistent pool's header; it is left as it was");
	fd = open(d.old, O_RDONLY);
	ck_assert_int_eq(read(fd, back, sizeof(back)), 16);
	close(fd);
	ck_assert_str_eq(back, "not guest memory");
	vmm_result_free(&r);
	pool_dir_remove(&d);
}
END_TEST

/* ",," is a comma in the path. */
START_TEST(test_file_backing_comma_in_path)
{
	struct vmm_result r;
	struct pool_dir d;
	char arg[128], kept[80];

	pool_dir_make(&d);
	snprintf(arg, sizeof(arg), "%s,,a,keep", d.arg);
	snprintf(kept, sizeof(kept), "%s,a", d.pool);
	run_vmm(&r, 60, 0, 0, "run", guest_path("hello"), "--backing", arg, "--mem", "16M", NULL);
	ck_ran(r, 0);
	ck_assert_int_eq(access(kept, F_OK), 0);
	ck_assert_int_eq(unlink(kept), 0);
	vmm_result_free(&r);
	pool_dir_remove(&d);
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
	{ "--backing", "tmpfs", "--backing tmpfs: want memfd, hugetlb or file:PATH[,keep][,persistent[,sync]]" },
	{ "--backing", "file:", "--backing file:: want file:PATH[,keep][,persistent[,sync]] with a PATH" },
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
	ck_has(r.err, "not an ELF file: it starts with 23 21 2f 62");
	vmm_result_free(&r);
	unlink(path);
	run_vmm(&r, 30, 0, 0, "run", "/nonexistent/guest.elf", NULL);
	ck_ran(r, 1);
	ck_has(r.err, "/nonexistent/guest.elf: No such file or directory");
	vmm_result_free(&r);
	run_vmm(&r, 30, 0, 0, "run", "/tmp", NULL);
	ck_ran(r, 1);
	ck_has(r.err, "/tmp: not a regular file");
	vmm_result_free(&r);
	/* a PIE binary is refused for its type */
	run_vmm(&r, 30, 0, 0, "run", "/bin/true", NULL);
	ck_ran(r, 1);
	ck_has(r.err, "not an ELF executable (ET_EXEC): e_type is 3 (ET_DYN");
	vmm_result_free(&r);
}
END_TEST

/* Real guests made bad in one field each: hello.elf as built (ET_EXEC, a
 * text and a data segment), then patched. */
static void grow_data(Elf64_Ehdr *eh, Elf64_Phdr *ph)
{
	(void)eh;
	ph[1].p_memsz = 15ULL << 20;	/* from 0x202000: past a 16 MiB guest */
}

static void big_endian(Elf64_Ehdr *eh, Elf64_Phdr *ph)
{
	(void)ph;
	eh->e_ident[EI_DATA] = ELFDATA2MSB;
}

static void entry_in_gap(Elf64_Ehdr *eh, Elf64_Phdr *ph)
{
	eh->e_entry = ph[0].p_paddr + ph[0].p_memsz;	/* between text and data */
}

static void data_past_eof(Elf64_Ehdr *eh, Elf64_Phdr *ph)
{
	(void)eh;
	ph[1].p_offset = 1ULL << 40;
}

static const struct {
	void (*patch)(Elf64_Ehdr *eh, Elf64_Phdr *ph);
	const char *message;
} patched_guests[] = {
	{ grow_data, "segment past the end of guest memory: segment 1 at 0x202000-0x1102000, "
		     "guest memory ends at 0x1000000 (16 MiB)" },
	{ big_endian, "not a little-endian ELF file: EI_DATA is 2" },
	{ entry_in_gap, "entry point outside the loaded segments: e_entry 0x" },
	{ data_past_eof, "segment data past the end of the file: segment 1: 0x" },
};

START_TEST(test_bad_guest_segments)
{
	char path[] = "/tmp/vmdefrag-test-elf-XXXXXX";
	static uint8_t buf[1 << 20];
	struct vmm_result r;
	Elf64_Ehdr eh;
	Elf64_Phdr ph[2];
	FILE *f = fopen(guest_path("hello"), "rb");
	size_t len;
	int fd;

	ck_assert_ptr_nonnull(f);
	len = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	memcpy(&eh, buf, sizeof(eh));
	ck_assert_int_eq(eh.e_type, ET_EXEC);
	ck_assert_int_eq(eh.e_phnum, 2);
	memcpy(ph, buf + eh.e_phoff, sizeof(ph));
	ck_assert_int_eq(ph[0].p_type, PT_LOAD);
	ck_assert_int_eq(ph[1].p_type, PT_LOAD);
	ck_assert_uint_lt(ph[0].p_paddr + ph[0].p_memsz, ph[1].p_paddr);
	patched_guests[_i].patch(&eh, ph);
	memcpy(buf, &eh, sizeof(eh));
	memcpy(buf + eh.e_phoff, ph, sizeof(ph));
	fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, buf, len), (ssize_t)len);
	close(fd);
	run_vmm(&r, 30, 0, 0, "run", path, "--mem", "16M", NULL);
	unlink(path);
	ck_ran(r, 1);
	ck_has(r.err, path);
	ck_has(r.err, patched_guests[_i].message);
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
	tcase_add_test(tc, test_vcpus_past_the_library);
	tcase_add_loop_test(tc, test_crash_reported, 0, 3);
	tcase_add_test(tc, test_bad_requests);
	tcase_add_test(tc, test_guest_messages_tamed);
	tcase_add_test(tc, test_ctrl_c);
	tcase_add_test(tc, test_max_map_count_restored);
	tcase_add_test(tc, test_killed_vmm_leaves_no_raise);
	tcase_add_test(tc, test_file_backing);
	tcase_add_test(tc, test_file_backing_keep);
	tcase_add_test(tc, test_file_backing_removed_on_stop);
	tcase_add_loop_test(tc, test_file_backing_refuses_existing, 0, 2);
	tcase_add_loop_test(tc, test_file_backing_bad_option, 0,
			    sizeof(bad_file_options) / sizeof(bad_file_options[0]));
	tcase_add_test(tc, test_file_backing_comma_in_path);
	tcase_add_test(tc, test_persistent_backing);
	tcase_add_loop_test(tc, test_bad_options, 0, sizeof(bad_options) / sizeof(bad_options[0]));
	tcase_add_test(tc, test_bad_guest_files);
	tcase_add_loop_test(tc, test_bad_guest_segments, 0,
			    sizeof(patched_guests) / sizeof(patched_guests[0]));
	suite_add_tcase(s, tc);
	tc = tcase_create("memory");
	tcase_set_timeout(tc, 600);
	tcase_add_test(tc, test_memtest_1g);
	tcase_add_test(tc, test_discard_returns_memory);
	tcase_add_test(tc, test_fragment_then_memtest);
	suite_add_tcase(s, tc);
	return check_run(s);
}
