/* Integration: guest/reqfuzz - vCPUs sending random requests, valid and
 * not, every op - while the test compacts the pool through the control
 * socket, both policies, whole pool and order 9. The guest checks every
 * status and byte of its own memory; the VMM checks its invariants at
 * exit (--stats). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/check_run.h"
#include "tests/vmm_harness.h"
#include "tools/qmp_client.h"

/* long enough for many compactions to meet the guest's requests, short
 * enough for three builds of the suite; REQFUZZ_SECONDS for a long run */
#define SECONDS_DEFAULT	15

static int seconds(void)
{
	const char *s = getenv("REQFUZZ_SECONDS");

	return s && atoi(s) > 0 ? atoi(s) : SECONDS_DEFAULT;
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *text = calloc(1, 1 << 22);
	size_t n;

	ck_assert_ptr_nonnull(f);
	n = fread(text, 1, (1 << 22) - 1, f);
	text[n] = '\0';
	fclose(f);
	return text;
}

START_TEST(test_reqfuzz_while_compacting)
{
	static const char *const modes[] = {
		"{\"policy\":\"twoscanner\"}", "{\"order\":9,\"policy\":\"twoscanner\"}",
		"{\"policy\":\"minmove\"}", "{\"order\":9,\"policy\":\"minmove\"}",
	};
	char sock[96], out[96], err[256], guest_args[64];
	struct qmp_client *c;
	int compactions = 0, code;
	long long moved = 0;
	char *text;
	pid_t pid;

	snprintf(sock, sizeof(sock), "/tmp/vmdefrag-reqfuzz-%d.sock", getpid());
	snprintf(out, sizeof(out), "/tmp/vmdefrag-reqfuzz-%d.out", getpid());
	snprintf(guest_args, sizeof(guest_args), "seconds=%d seed=7", seconds());
	pid = spawn_vmm(out, "run", guest_path("reqfuzz"), "--mem", "128M", "--plug", "32M", "--cpus",
			"3", "--socket", sock, "--stats", "--args", guest_args, NULL);
	ck_assert_int_eq(wait_for_socket(sock, 60), 0);
	c = qmp_connect(sock, err, sizeof(err));
	ck_assert_msg(c != NULL, "%s", err);
	/* compact until the guest is done (its report ends the run) */
	while (!wait_for_output(out, "reqfuzz_requests", 1, 0)) {
		struct json_object *args = json_tokener_parse(modes[compactions % 4]), *reply, *ret;

		reply = qmp_execute(c, "compact", args, err, sizeof(err));
		json_object_put(args);
		if (!reply)
			break;	/* the guest ended meanwhile: the VMM closed the socket */
		if (json_object_object_get_ex(reply, "return", &ret))
			moved += json_object_get_int64(json_object_object_get(ret, "frames-moved"));
		json_object_put(reply);
		compactions++;
	}
	qmp_close(c);
	code = wait_vmm(pid, 120 + seconds());
	text = slurp(out);
	ck_assert_msg(code == 0, "vmdefrag exited %d:\n%s", code, text);
	ck_assert_msg(report_value(text, "reqfuzz_requests") > 1000, "%s", text);
	ck_assert_int_eq(report_value(text, "reqfuzz_mismatches"), 0);
	ck_assert_int_eq(report_value(text, "reqfuzz_bad_pages"), 0);
	ck_assert_int_eq(report_value(text, "reqfuzz_nonzero_after_populate"), 0);
	ck_assert_msg(strstr(text, "stats: invariants ok\n"), "%s", text);
	/* the host really moved frames under the guest's requests */
	ck_assert_int_ge(compactions, 4);
	ck_assert_int_gt(moved, 0);
	printf("reqfuzz: %lld requests, %d compactions moved %lld frames\n",
	       report_value(text, "reqfuzz_requests"), compactions, moved);
	free(text);
	unlink(out);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("reqfuzz");
	TCase *tc = tcase_create("reqfuzz");

	require_kvm();
	tcase_set_timeout(tc, 300 + seconds());
	tcase_add_test(tc, test_reqfuzz_while_compacting);
	suite_add_tcase(s, tc);
	return check_run(s);
}
