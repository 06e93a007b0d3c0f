/* The control protocol without KVM: QMP's rules, every kind of bad input
 * refused with the right class and description, and the commands' answers
 * against the pool they describe. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "mm/vmstat.h"
#include "tests/check_run.h"
#include "tests/control_fake.h"

static struct fake f;

static void setup(void)
{
	fake_init(&f);
}

static void teardown(void)
{
	fake_destroy(&f);
}

#define ck_reply(in, expect) do { \
	const char *got_ = fake_talk(&f, (in)); \
	ck_assert_msg(strstr(got_, (expect)), "sent %s\nexpected %s\ngot %s", (in), (expect), got_); \
} while (0)

static void negotiate(void)
{
	ck_reply("{\"execute\":\"qmp_capabilities\"}", "{\"return\":{}}\r\n");
}

START_TEST(test_greeting_and_negotiation)
{
	ck_assert_str_eq(f.out, "{\"QMP\":{\"version\":{\"qemu\":{\"major\":0,\"minor\":1,\"micro\":0},"
			 "\"package\":\"vmdefrag\"},\"capabilities\":[]}}\r\n");
	ck_reply("{\"execute\":\"query-status\",\"id\":1}",
		 "{\"error\":{\"class\":\"CommandNotFound\",\"desc\":\"Expecting capabilities negotiation "
		 "with 'qmp_capabilities'\"},\"id\":1}");
	negotiate();
	ck_reply("{\"execute\":\"qmp_capabilities\"}",
		 "\"class\":\"CommandNotFound\",\"desc\":\"Capabilities negotiation is already complete, command ignored\"");
	ck_reply("{\"execute\":\"query-status\",\"id\":\"abc\"}",
		 "{\"return\":{\"running\":true,\"singlestep\":false,\"status\":\"running\"},\"id\":\"abc\"}");
}
END_TEST

static const struct {
	const char *in, *out;
} bad[] = {
	{ "{\"execute\":", "" },	/* incomplete: waits */
	{ "}{oops", "JSON parse error" },
	{ "[1,2,3]", "QMP input must be a JSON object" },
	{ "42 ", "QMP input must be a JSON object" },
	{ "{\"id\":5}", "\"desc\":\"QMP input lacks member 'execute'\"},\"id\":5" },
	{ "{\"execute\":7}", "QMP input member 'execute' must be a string" },
	{ "{\"execute\":\"query-memory\",\"arguments\":[]}", "QMP input member 'arguments' must be an object" },
	{ "{\"execute\":\"query-memory\",\"bogus\":1}", "QMP input member 'bogus' is unexpected" },
	{ "{\"execute\":\"no-such\"}", "{\"class\":\"CommandNotFound\",\"desc\":\"The command no-such has not been found\"}" },
	{ "{\"execute\":\"compact\",\"arguments\":{\"order\":\"9\"}}", "Invalid parameter type for 'order', expected: integer" },
	{ "{\"execute\":\"compact\",\"arguments\":{\"order\":11}}", "Parameter 'order' expects a value from 0 to 10" },
	{ "{\"execute\":\"compact\",\"arguments\":{\"order\":-1}}", "Parameter 'order' expects a value from 0 to 10" },
	{ "{\"execute\":\"compact\",\"arguments\":{\"order\":99999999999999999999}}", "Parameter 'order' expects a value from 0 to 10" },
	{ "{\"execute\":\"compact\",\"arguments\":{\"order\":9.5}}", "Invalid parameter type for 'order', expected: integer" },
	{ "{\"execute\":\"compact\",\"arguments\":{\"policy\":5}}", "Invalid parameter type for 'policy', expected: string" },
	{ "{\"execute\":\"compact\",\"arguments\":{\"policy\":\"fastest\"}}", "Parameter 'policy' expects 'twoscanner', 'minmove' or 'minmove-max'" },
	{ "{\"execute\":\"compact\",\"arguments\":{\"speed\":1}}", "Parameter 'speed' is unexpected" },
	{ "{\"execute\":\"set-compaction\",\"arguments\":{\"proactiveness\":101}}", "Parameter 'proactiveness' expects a value from 0 to 100" },
	{ "{\"execute\":\"set-compaction\",\"arguments\":{\"extfrag_threshold\":1001}}", "Parameter 'extfrag_threshold' expects a value from 0 to 1000" },
	{ "{\"execute\":\"set-compaction\",\"arguments\":{\"proactiveness\":true}}", "Invalid parameter type for 'proactiveness', expected: integer" },
	{ "{\"execute\":\"query-memory\",\"arguments\":{\"x\":1}}", "Parameter 'x' is unexpected" },
};

START_TEST(test_bad_input)
{
	negotiate();
	ck_reply(bad[_i].in, bad[_i].out);
	if (*bad[_i].out)
		ck_assert_msg(strstr(f.out, "\"error\""), "%s", f.out);
	/* the session goes on */
	fake_talk(&f, "\n");
	json_tokener_reset(f.session.tok);
	ck_reply("{\"execute\":\"query-status\"}", "\"status\":\"running\"");
	ck_assert(!f.session.closing);
}
END_TEST

/* A bad setting in set-compaction changes none of the others. */
START_TEST(test_set_compaction_all_or_nothing)
{
	negotiate();
	ck_reply("{\"execute\":\"set-compaction\",\"arguments\":{\"proactiveness\":70,\"policy\":\"nope\"}}",
		 "Parameter 'policy' expects");
	ck_assert_uint_eq(f.kcompactd.proactiveness, PROACTIVENESS_DEFAULT);
	ck_reply("{\"execute\":\"set-compaction\",\"arguments\":{\"proactiveness\":70,\"extfrag_threshold\":900,\"policy\":\"minmove\"}}",
		 "{\"return\":{}}");
	ck_reply("{\"execute\":\"query-compaction\"}", "\"proactiveness\":70");
	ck_assert_uint_eq(f.compactor.extfrag_threshold, 900);
	ck_assert_int_eq(f.ctl.policy, POLICY_MINMOVE);
	ck_reply("{\"execute\":\"query-compaction\"}", "\"wmark-low\":30,\"wmark-high\":40,\"policy\":\"minmove\"");
}
END_TEST

START_TEST(test_huge_request_closes)
{
	size_t n = 1 << 20;
	char *line = malloc(n + 1);

	negotiate();
	{
	static const char head[] = "{\"execute\":\"query-status\",\"id\":\"";

	memcpy(line, head, sizeof(head) - 1);
	memset(line + sizeof(head) - 1, 'x', n - (sizeof(head) - 1));
	}
	line[n] = '\0';
	ck_reply(line, "Request too large (more than 65536 bytes), closing");
	ck_assert(f.session.closing);
	free(line);
}
END_TEST

START_TEST(test_views_match_the_pool)
{
	char *text = NULL;
	size_t len;
	FILE *out = open_memstream(&text, &len);
	struct json_object *expect;

	negotiate();
	vmstat_buddyinfo(out, &f.pool.zone);
	fclose(out);
	/* the kernel-format text, exactly, as a JSON string */
	expect = json_object_new_string(text);
	ck_reply("{\"execute\":\"query-buddyinfo\"}",
		 json_object_to_json_string_ext(expect, JSON_C_TO_STRING_PLAIN));
	json_object_put(expect);
	free(text);
	ck_reply("{\"execute\":\"query-vmstat\"}", "\"pgmigrate_success\":0");
	ck_reply("{\"execute\":\"query-extfrag\"}", "\"index\":[");
	ck_reply("{\"execute\":\"query-pagetypeinfo\"}", "Page block order: 9");
	ck_reply("{\"execute\":\"query-memory\"}", "\"pool-frames\":8192");
}
END_TEST

START_TEST(test_compact_reports_and_events)
{
	const char *got;

	negotiate();
	got = fake_talk(&f, "{\"execute\":\"compact\",\"id\":9}");
	ck_assert_msg(strstr(got, "{\"event\":\"COMPACTION_BEGIN\",\"data\":{\"policy\":\"twoscanner\",\"order\":null,\"trigger\":\"command\"}"), "%s", got);
	ck_assert_msg(strstr(got, "{\"event\":\"COMPACTION_END\""), "%s", got);
	ck_assert_msg(strstr(got, "\"result\":\"complete\""), "%s", got);
	ck_assert_msg(strstr(got, "},\"id\":9}"), "%s", got);
	ck_assert_uint_eq(f.session.pending_replies, 0);
	ck_reply("{\"execute\":\"query-vmstat\"}", "pgmigrate_success");
}
END_TEST

START_TEST(test_frame_map)
{
	negotiate();
	ck_reply("{\"execute\":\"query-frame-map\"}",
		 "\"frames\":8192,\"pageblock-order\":9,\"encoding\":\"nibbles-base64\","
		 "\"states\":[\"free\",\"movable\",\"unmovable\",\"pinned\",\"huge\",\"isolated\"],\"map\":\"");
	/* 4096 bytes of nibbles: 5464 base64 characters */
	ck_assert_uint_gt(f.out_len, 5464);
}
END_TEST

START_TEST(test_stop_cont_quit)
{
	negotiate();
	ck_reply("{\"execute\":\"stop\"}", "{\"return\":{}}");
	ck_reply("{\"execute\":\"query-status\"}", "\"running\":false,\"singlestep\":false,\"status\":\"paused\"");
	ck_reply("{\"execute\":\"cont\"}", "{\"return\":{}}");
	ck_reply("{\"execute\":\"query-status\"}", "\"status\":\"running\"");
	ck_reply("{\"execute\":\"quit\"}", "{\"return\":{}}");
	ck_assert_int_eq(f.quit, 1);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("qmp");
	TCase *tc = tcase_create("qmp");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_greeting_and_negotiation);
	tcase_add_loop_test(tc, test_bad_input, 0, sizeof(bad) / sizeof(bad[0]));
	tcase_add_test(tc, test_set_compaction_all_or_nothing);
	tcase_add_test(tc, test_huge_request_closes);
	tcase_add_test(tc, test_views_match_the_pool);
	tcase_add_test(tc, test_compact_reports_and_events);
	tcase_add_test(tc, test_frame_map);
	tcase_add_test(tc, test_stop_cont_quit);
	tcase_set_timeout(tc, 30);
	suite_add_tcase(s, tc);
	return check_run(s);
}
