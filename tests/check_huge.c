/* Integration: huge regions for the guest - back-huge and plug-huge on a
 * fragmented pool, real 2 MiB host pages as the kernel reports them, and
 * the statuses when they cannot be had. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/check_run.h"
#include "tests/thp_probe.h"
#include "tests/vmm_harness.h"
#include "tools/qmp_client.h"

static int64_t member(struct json_object *o, const char *key)
{
	struct json_object *v;

	ck_assert_msg(json_object_object_get_ex(o, key, &v), "no %s in %s", key, json_object_to_json_string(o));
	return json_object_get_int64(v);
}

/* The shortest hold of the zone lock by site, from --stats at exit (the
 * shortest: a hold the scheduler interrupted says nothing of the code);
 * -1 if the site never held it. */
static double lock_min_us(const char *path, const char *site)
{
	FILE *f = fopen(path, "r");
	char line[512], want[128];
	double min = -1;

	ck_assert_ptr_nonnull(f);
	snprintf(want, sizeof(want), "stats: zone_lock %s holds ", site);
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, want, strlen(want)))
			ck_assert_int_eq(sscanf(line + strlen(want), "%*s mean_us %*s min_us %lf", &min), 1);
	fclose(f);
	return min;
}

START_TEST(test_back_and_plug_huge)
{
	char sock[96], out[96], err[256];
	struct qmp_client *c;
	struct json_object *reply, *ret;
	int64_t huge, host;
	pid_t pid;

	snprintf(sock, sizeof(sock), "/tmp/vmdefrag-huge-%d.sock", getpid());
	snprintf(out, sizeof(out), "/tmp/vmdefrag-huge-%d.out", getpid());
	pid = spawn_vmm(out, "run", guest_path("hugetest"), "--mem", "512M", "--plug", "16M",
			"--proactiveness", "0", "--socket", sock, "--stats", "--args", "mode=ok ranges=8 hold=1",
			NULL);
	ck_assert_int_eq(wait_for_socket(sock, 60), 0);
	ck_assert_int_eq(wait_for_output(out, "hugetest_done", 1, 240), 1);
	/* data intact everywhere, every request answered as expected */
	ck_assert_int_eq(wait_for_output(out, "hugetest_bad_pages 0", 1, 0), 1);
	ck_assert_int_eq(wait_for_output(out, "hugetest_plug_bad_pages 0", 1, 0), 1);
	ck_assert_int_eq(wait_for_output(out, "hugetest: 0 unexpected statuses", 1, 0), 1);
	/* a fragmented pool: at least one request had to compact, and said so */
	ck_assert_int_lt(wait_for_output(out, " stall 0 us", 0, 0), wait_for_output(out, " stall ", 0, 0));
	c = qmp_connect(sock, err, sizeof(err));
	ck_assert_msg(c != NULL, "%s", err);
	reply = qmp_execute(c, "query-memory", NULL, err, sizeof(err));
	ck_assert_ptr_nonnull(reply);
	ret = json_object_object_get(reply, "return");
	huge = member(ret, "huge-ranges");
	host = member(ret, "host-huge-ranges");
	/* the allocator run asked for (tests/lockfree-vmm.sh) is the one in use */
	ck_assert_str_eq(json_object_get_string(json_object_object_get(ret, "allocator")),
			 getenv("VMDEFRAG_TEST_ALLOCATOR") ? getenv("VMDEFRAG_TEST_ALLOCATOR") : "buddy");
	/* 8 backed ranges, an order-9 and an order-10 plug: 11 ranges */
	ck_assert_int_eq(huge, 11);
	/* the kernel's own count agrees with what query-memory says */
	ck_assert_int_eq(host * 2048, shmem_pmd_kb(pid));
	if (!thp_denied()) {
		ck_assert_int_eq(host, 11);
		ck_assert_int_eq(wait_for_output(out, "hugetest_back_huge_host_huge 8", 1, 0), 1);
		/* the first range, moved three more times between its
		 * memslot's sides, is host-huge after each move */
		ck_assert_int_eq(wait_for_output(out, "hugetest_reback_host_huge 3", 1, 0), 1);
	}
	/* the huge reserve: on by default, and asked for a block by every
	 * order-9 request that could not use the range in place */
	{
		struct json_object *hr = json_object_object_get(ret, "huge-reserve");

		ck_assert_ptr_nonnull(hr);
		ck_assert_int_eq(member(hr, "target"), thp_denied() ? 0 : 4);
		if (!thp_denied())
			ck_assert_int_ge(member(hr, "taken") + member(hr, "missed"), 1);
	}
	json_object_put(reply);
	reply = qmp_execute(c, "query-vmstat", NULL, err, sizeof(err));
	ret = json_object_object_get(reply, "return");
	ck_assert_int_ge(member(ret, "compact_stall"), 1);
	ck_assert_int_eq(member(ret, "compact_stall"), member(ret, "compact_success") + member(ret, "compact_fail"));
	/* the stalls woke kcompactd (with proactiveness 0 nothing else does);
	 * wakeups that come while it is awake fold into one run, as in the
	 * kernel, which counts compact_daemon_wake per run */
	ck_assert_int_ge(member(ret, "compact_daemon_wake"), 1);
	ck_assert_int_le(member(ret, "compact_daemon_wake"), member(ret, "compact_stall"));
	json_object_put(reply);
	/* for the zone lock's holders at exit: queries side by side */
	for (int i = 0; i < 20; i++) {
		json_object_put(qmp_execute(c, "query-memory", NULL, err, sizeof(err)));
		json_object_put(qmp_execute(c, "query-vmstat", NULL, err, sizeof(err)));
	}
	reply = qmp_execute(c, "quit", NULL, err, sizeof(err));
	json_object_put(reply);
	qmp_close(c);
	ck_assert_int_eq(wait_vmm(pid, 60), 0);
	/* query-memory asks the kernel about host huge pages (page tables
	 * of hundreds of mappings) without the zone lock: it holds the lock
	 * about as long as a query that only formats counters, where reading
	 * the host's mappings under it kept the guest's requests waiting */
	{
		double mem = lock_min_us(out, "cmd_query_memory"), vmstat = lock_min_us(out, "cmd_query_vmstat");

		ck_assert_msg(mem >= 0 && vmstat >= 0, "no zone_lock stats for the queries");
		ck_assert_msg(mem < 20 * vmstat, "query-memory holds the zone lock %.1f us at the least, "
			      "query-vmstat %.1f us", mem, vmstat);
	}
	unlink(out);
}
END_TEST

static const char *const statuses[][2] = {
	{ "mode=pinned", "16M" },
	{ "mode=args", "16M" },
	{ "mode=args", "0" },
};

START_TEST(test_statuses)
{
	struct vmm_result r;

	run_vmm(&r, 300, 0, 0, "run", guest_path("hugetest"), "--mem", "512M", "--plug", statuses[_i][1],
		"--proactiveness", "0", "--args", statuses[_i][0], NULL);
	ck_assert_msg(r.code == 0 && !r.timed_out, "exit %d\n%s\n%s", r.code, r.out, r.err);
	ck_assert_msg(strstr(r.out, "hugetest: 0 unexpected statuses"), "%s", r.out);
	vmm_result_free(&r);
}
END_TEST

/* Two vCPUs race back-huge and plug-huge against discard and populate in
 * the same range and slot. Once the VMM died of SIGSEGV here (it touched
 * a page another vCPU had just discarded), and a populate in a slot about
 * to be plugged left the p2m and the guest's view of it apart (what the
 * guest wrote there, the VMM could not read). */
START_TEST(test_race_huge_requests)
{
	struct vmm_result r;
	char line[64];

	run_vmm(&r, 300, 0, 0, "run", guest_path("hugerace"), "--mem", "64M", "--plug", "8M", "--cpus",
		"2", "--args", "iters=3000", "--stats", NULL);
	ck_assert_msg(r.code == 0 && !r.timed_out, "exit %d\n%s\n%s", r.code, r.out, r.err);
	ck_assert_msg(strstr(r.out, "report: hugerace_failures 0\n"), "%s", r.out);
	ck_assert_msg(strstr(r.out, "report: hugerace_bad_pages 0\n"), "%s", r.out);
	ck_assert_msg(strstr(r.out, "report: hugerace_back_huge_ok 3000\n"), "%s", r.out);
	ck_assert_msg(strstr(r.out, "report: hugerace_plugs 4\n"), "%s", r.out);
	/* what the guest wrote in each plugged region, the VMM read back */
	for (int n = 1; n <= 4; n++) {
		snprintf(line, sizeof(line), "hugerace: plug %d reads back\n", n);
		ck_assert_msg(strstr(r.out, line), "no \"%s\" in:\n%s", line, r.out);
	}
	/* vCPU 1 ran alongside, and was refused the slots nobody had plugged */
	ck_assert_int_gt(report_value(r.out, "hugerace_vcpu1_ops"), 0);
	ck_assert_int_gt(report_value(r.out, "hugerace_plug_slot_refused"), 0);
	ck_assert_msg(strstr(r.out, "stats: invariants ok\n"), "%s", r.out);
	vmm_result_free(&r);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("huge");
	TCase *tc = tcase_create("huge");

	require_kvm();
	tcase_set_timeout(tc, 600);
	tcase_add_test(tc, test_back_and_plug_huge);
	tcase_add_loop_test(tc, test_statuses, 0, 3);
	tcase_add_test(tc, test_race_huge_requests);
	suite_add_tcase(s, tc);
	return check_run(s);
}
