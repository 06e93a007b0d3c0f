/* The control protocol without KVM: QMP's rules, every kind of bad input
 * refused with the right class and description, and the commands' answers
 * against the pool they describe. */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "mm/buddy.h"
#include "mm/p2m.h"
#include "mm/vmstat.h"
#include "tests/check_run.h"
#include "tests/control_fake.h"

static struct fake f;

static unsigned int count_states(const uint8_t *states, int state)
{
	unsigned int n = 0;

	for (uint32_t p = 0; p < 8192; p++)
		n += states[p] == state;
	return n;
}

static void setup(void)
{
	fake_init(&f);
}

static void teardown(void)
{
	fake_destroy(&f);
}

static int count(const char *text, const char *needle)
{
	int n = 0;

	for (const char *p = text; (p = strstr(p, needle)); p++)
		n++;
	return n;
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

/* Each bad input, what it is answered, and how a client gets the session
 * back: a parse error's line ends at its newline, an incomplete request
 * is dropped by a 0xFF byte (qmp-spec.rst). */
static const struct {
	const char *in, *out, *recover;
} bad[] = {
	{ "{\"execute\":", "", "\xff" },	/* incomplete: waits */
	{ "}{oops", "JSON parse error", "\n" },
	{ "[1,2,3]", "QMP input must be a JSON object", "\n" },
	{ "42 ", "QMP input must be a JSON object", "\n" },
	{ "{\"id\":5}", "\"desc\":\"QMP input lacks member 'execute'\"},\"id\":5", "\n" },
	{ "{\"execute\":7}", "QMP input member 'execute' must be a string", "\n" },
	{ "{\"execute\":\"query-memory\",\"arguments\":[]}", "QMP input member 'arguments' must be an object", "\n" },
	{ "{\"execute\":\"query-memory\",\"bogus\":1}", "QMP input member 'bogus' is unexpected", "\n" },
	{ "{\"execute\":\"no-such\"}", "{\"class\":\"CommandNotFound\",\"desc\":\"The command no-such has not been found\"}", "\n" },
	{ "{\"execute\":\"compact\",\"arguments\":{\"order\":\"9\"}}", "Invalid parameter type for 'order', expected: integer", "\n" },
	{ "{\"execute\":\"compact\",\"arguments\":{\"order\":11}}", "Parameter 'order' expects a value from 0 to 10", "\n" },
	{ "{\"execute\":\"compact\",\"arguments\":{\"order\":-1}}", "Parameter 'order' expects a value from 0 to 10", "\n" },
	{ "{\"execute\":\"compact\",\"arguments\":{\"order\":99999999999999999999}}", "Parameter 'order' expects a value from 0 to 10", "\n" },
	{ "{\"execute\":\"compact\",\"arguments\":{\"order\":9.5}}", "Invalid parameter type for 'order', expected: integer", "\n" },
	{ "{\"execute\":\"compact\",\"arguments\":{\"policy\":5}}", "Invalid parameter type for 'policy', expected: string", "\n" },
	{ "{\"execute\":\"compact\",\"arguments\":{\"policy\":\"fastest\"}}", "Parameter 'policy' expects 'twoscanner', 'minmove' or 'minmove-max'", "\n" },
	{ "{\"execute\":\"compact\",\"arguments\":{\"speed\":1}}", "Parameter 'speed' is unexpected", "\n" },
	{ "{\"execute\":\"set-compaction\",\"arguments\":{\"proactiveness\":101}}", "Parameter 'proactiveness' expects a value from 0 to 100", "\n" },
	{ "{\"execute\":\"set-compaction\",\"arguments\":{\"extfrag_threshold\":1001}}", "Parameter 'extfrag_threshold' expects a value from 0 to 1000", "\n" },
	{ "{\"execute\":\"set-compaction\",\"arguments\":{\"proactiveness\":true}}", "Invalid parameter type for 'proactiveness', expected: integer", "\n" },
	{ "{\"execute\":\"query-memory\",\"arguments\":{\"x\":1}}", "Parameter 'x' is unexpected", "\n" },
	{ "{\"execute\":\"query-status\"}\x01", "\"status\":\"running\"", "" },	/* control byte: a reset */
	{ "{ \"execute\": tru }", "JSON parse error, boolean expected", "\n" },
};

START_TEST(test_bad_input)
{
	char text[512];
	const char *got;

	negotiate();
	ck_reply(bad[_i].in, bad[_i].out);
	if (*bad[_i].out && !strstr(bad[_i].out, "running"))
		ck_assert_msg(strstr(f.out, "\"error\""), "%s", f.out);
	/* the session goes on: the bad input, its way back and a good request
	 * in one read, as a client pipelining them sends it */
	snprintf(text, sizeof(text), "%s%s{\"execute\":\"query-status\",\"id\":\"after\"}",
		 bad[_i].in, bad[_i].recover);
	fake_new_session(&f);
	negotiate();
	got = fake_talk(&f, text);
	ck_assert_msg(strstr(got, "\"status\":\"running\"},\"id\":\"after\"}\r\n"), "sent %s\ngot %s", text, got);
	ck_assert(!f.session.closing);
}
END_TEST

/* Requests sent back to back, some bad, are answered one by one, in order. */
START_TEST(test_pipelined_after_errors)
{
	static const char *const expect[] = {
		"\"id\":1}", "JSON parse error", "\"id\":2}", "JSON parse error",
		"\"id\":3}", "request dropped at a reset byte", "\"id\":4}", "JSON parse error",
		"\"id\":5}",
	};
	const char *got, *at;

	negotiate();
	got = fake_talk(&f, "{\"execute\":\"query-status\",\"id\":1}\r\n"
			    "{ this is not json\r\n"
			    "{\"execute\":\"query-status\",\"id\":2}\r\n"
			    "{\"execute\":\"query-status\",\"id\":}{\"execute\":\"query-status\",\"id\":9}\r\n"
			    "{\"execute\":\"query-status\",\"id\":3}{\"execute\":\"query-st\xff"
			    "{\"execute\":\"query-status\",\"id\":4}\r\n"
			    "{ more garbage \xff{\"execute\":\"query-status\",\"id\":5}");
	at = got;
	for (size_t i = 0; i < sizeof(expect) / sizeof(expect[0]); i++) {
		const char *next = strstr(at, expect[i]);

		ck_assert_msg(next, "no %s after %s\nall: %s", expect[i], at, got);
		at = strstr(next, "\r\n");
		ck_assert_ptr_nonnull(at);
	}
	ck_assert_msg(!strstr(got, "\"id\":9"), "the rest of a bad line is skipped: %s", got);
	ck_assert_str_eq(at, "\r\n");
	/* a reset byte with nothing half read is silent */
	ck_assert_str_eq(fake_talk(&f, "\xff\xfe\x1b"), "");
}
END_TEST

/* A request in any number of pieces; whitespace between requests is not
 * part of any request's size. */
START_TEST(test_pieces_and_spaces)
{
	static const char req[] = "{\"execute\":\"query-status\",\"id\":7}";
	size_t spaces = 3 * QMP_MAX_REQUEST;
	char *text = malloc(spaces + 1);

	negotiate();
	for (size_t i = 0; i + 1 < sizeof(req); i++) {
		char one[2] = { req[i], 0 };

		ck_assert_str_eq(fake_talk(&f, one), i + 2 < sizeof(req) ? "" :
				 "{\"return\":{\"running\":true,\"singlestep\":false,\"status\":\"running\"},\"id\":7}\r\n");
	}
	for (size_t i = 0; i < spaces; i++)
		text[i] = " \r\n\t"[i % 4];
	text[spaces] = '\0';
	ck_assert_str_eq(fake_talk(&f, text), "");
	ck_reply(req, "\"id\":7}");
	ck_assert(!f.session.closing);
	free(text);
}
END_TEST

/* qmp_session_feed_some answers at most max requests and says how far it read. */
START_TEST(test_feed_some_stops)
{
	static const char req[] = "{\"execute\":\"query-status\"}\r\n";
	char text[20 * sizeof(req)] = "";
	size_t used, len;

	negotiate();
	for (int i = 0; i < 20; i++)
		strcat(text, req);
	len = strlen(text);
	f.out_len = 0;
	used = qmp_session_feed_some(&f.session, text, len, 8);
	ck_assert_uint_ge(used, 8 * (sizeof(req) - 1) - 2);
	ck_assert_uint_le(used, 8 * (sizeof(req) - 1));
	f.out[f.out_len] = '\0';
	ck_assert_int_eq(count(f.out, "\"status\""), 8);
	f.out_len = 0;
	used += qmp_session_feed_some(&f.session, text + used, len - used, 0);
	ck_assert_uint_eq(used, len);
	f.out[f.out_len] = '\0';
	ck_assert_int_eq(count(f.out, "\"status\""), 12);
}
END_TEST

/* A session may have QMP_MAX_PENDING compactions waiting; one more is
 * refused with a clear error, and accepted again once replies came. */
START_TEST(test_compactions_bounded)
{
	const char *got;

	f.defer_jobs = 1;
	negotiate();
	for (int i = 0; i < QMP_MAX_PENDING; i++)
		ck_assert_str_eq(fake_talk(&f, "{\"execute\":\"compact\",\"arguments\":{\"order\":9}}"), "");
	ck_reply("{\"execute\":\"compact\",\"id\":\"one-more\"}",
		 "{\"error\":{\"class\":\"GenericError\",\"desc\":\"Too many compactions pending for this "
		 "session (at most 8): wait for a reply before asking for more\"},\"id\":\"one-more\"}");
	ck_assert_uint_eq(f.session.pending_replies, QMP_MAX_PENDING);
	f.out_len = 0;
	fake_run_jobs(&f);
	f.out[f.out_len] = '\0';
	ck_assert_int_eq(count(f.out, "{\"return\":{\"policy\""), QMP_MAX_PENDING);
	ck_assert_uint_eq(f.session.pending_replies, 0);
	got = fake_talk(&f, "{\"execute\":\"compact\",\"id\":\"again\"}");
	ck_assert_str_eq(got, "");
	ck_assert_uint_eq(f.session.pending_replies, 1);
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

enum { S_FREE, S_MOVABLE, S_UNMOVABLE, S_PINNED, S_HUGE, S_ISOLATED, NR_S };
static const char *const state_names[NR_S] = {
	"free", "movable", "unmovable", "pinned", "huge", "isolated",
};

static uint32_t alloc_frame(enum migratetype mt)
{
	uint32_t pfn;

	ck_assert_int_eq(buddy_alloc(&f.pool.zone, 0, mt, &pfn), 0);
	return pfn;
}

static size_t unbase64(const char *in, uint8_t *out, size_t max)
{
	static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	uint32_t v = 0;
	size_t n = 0;
	int bits = 0;

	for (; *in && *in != '='; in++) {
		const char *p = strchr(abc, *in);

		ck_assert_msg(p && *in, "bad base64 character %c", *in);
		v = v << 6 | (uint32_t)(p - abc);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			ck_assert_uint_lt(n, max);
			out[n++] = (uint8_t)(v >> bits);
		}
	}
	return n;
}

/* Every frame in a state the test put it in, then the map decoded frame
 * by frame: frame 2i is the low nibble of byte i, 2i+1 the high one. */
START_TEST(test_frame_map_states)
{
	static uint8_t expect[8192], map[4096];
	struct zone *z;
	struct json_object *reply, *ret, *v;
	uint32_t gfn = 0, blk, pfn, mixed;
	int index_of[NR_S];

	fake_destroy(&f);
	fake_init_scenario(&f, NULL);
	z = &f.pool.zone;
	memset(expect, S_FREE, sizeof(expect));
	/* odd counts, so frames sharing a byte differ in state */
	for (int i = 0; i < 301; i++) {		/* guest frames */
		pfn = alloc_frame(MIGRATE_MOVABLE);
		ck_assert_int_eq(p2m_map(&f.p2m, gfn++, pfn), 0);
		expect[pfn] = S_MOVABLE;
	}
	mixed = pfn;
	for (int i = 0; i < 99; i++)		/* the VMM's own */
		expect[alloc_frame(MIGRATE_UNMOVABLE)] = S_UNMOVABLE;
	for (int i = 0; i < 11; i++)		/* movable, but no guest frame to remap */
		expect[alloc_frame(MIGRATE_MOVABLE)] = S_UNMOVABLE;
	for (int i = 0; i < 49; i++) {		/* pinned guest frames */
		pfn = alloc_frame(MIGRATE_MOVABLE);
		ck_assert_int_eq(p2m_map(&f.p2m, gfn++, pfn), 0);
		ck_assert_int_eq(buddy_pin(z, pfn), 0);
		expect[pfn] = S_PINNED;
	}
	/* a huge range: one aligned 2 MiB block behind 512 guest frames */
	ck_assert_int_eq(buddy_alloc(z, 9, MIGRATE_MOVABLE, &blk), 0);
	ck_assert_int_eq(buddy_split(z, blk), 0);
	for (uint32_t i = 0; i < 512; i++) {
		ck_assert_int_eq(p2m_map(&f.p2m, gfn++, blk + i), 0);
		z->frames[blk + i].flags |= FRAME_HUGE;
		expect[blk + i] = S_HUGE;
	}
	/* isolated, as by compaction: the free frames of the last pageblock
	 * (all free) and of one holding guest frames */
	ck_assert_int_eq(expect[8191], S_FREE);
	buddy_set_pageblock_migratetype(z, 8191, MIGRATE_ISOLATE);
	buddy_set_pageblock_migratetype(z, mixed, MIGRATE_ISOLATE);
	for (uint32_t p = 0; p < 8192; p++)
		if (expect[p] == S_FREE && (p >> 9 == 8191 >> 9 || p >> 9 == mixed >> 9))
			expect[p] = S_ISOLATED;
	ck_assert_uint_gt(count_states(expect, S_ISOLATED), 512);
	ck_assert_uint_gt(count_states(expect, S_FREE), 4096);
	for (pfn = 0; pfn < 8192 && expect[pfn] == expect[pfn ^ 1]; pfn += 2)
		;
	ck_assert_msg(pfn < 8192, "no byte holds two states: the nibble order goes untested");

	negotiate();
	reply = json_tokener_parse(fake_talk(&f, "{\"execute\":\"query-frame-map\"}"));
	ck_assert_ptr_nonnull(reply);
	ck_assert(json_object_object_get_ex(reply, "return", &ret));
	ck_assert(json_object_object_get_ex(ret, "states", &v));
	for (int st = 0; st < NR_S; st++) {
		index_of[st] = -1;
		for (size_t i = 0; i < json_object_array_length(v); i++)
			if (!strcmp(json_object_get_string(json_object_array_get_idx(v, i)), state_names[st]))
				index_of[st] = (int)i;
		ck_assert_msg(index_of[st] >= 0, "no state %s", state_names[st]);
	}
	ck_assert(json_object_object_get_ex(ret, "map", &v));
	ck_assert_uint_eq(unbase64(json_object_get_string(v), map, sizeof(map)), sizeof(map));
	for (uint32_t p = 0; p < 8192; p++) {
		int got = map[p / 2] >> (p % 2 * 4) & 0xf;

		ck_assert_msg(got == index_of[expect[p]], "frame %u: state %d, expected %d (%s)", p, got,
			      index_of[expect[p]], state_names[expect[p]]);
	}
	json_object_put(reply);
}
END_TEST

/* A peer that takes a little less than comes each time: the output queue
 * grows to megabytes, yet moves each byte O(1) times (moving all that was
 * left at every send, as it did, is quadratic) and hands out every byte
 * in order. */
START_TEST(test_outq_moves_little)
{
	static char msg[44 << 10];
	struct qmp_outq q = { 0 };
	size_t max = 32 << 20, peak = 0;
	uint64_t appended = 0, sent = 0, wrong = 0;

	/* plain checks in the loops: a Check assertion per byte is far too slow */
	while (appended < (16ULL << 20)) {
		size_t n;

		for (size_t i = 0; i < sizeof(msg); i++)
			msg[i] = (char)((appended + i) % 251);
		ck_assert_int_eq(qmp_outq_append(&q, msg, sizeof(msg), max), 0);
		appended += sizeof(msg);
		ck_assert_uint_le(q.cap, 2 * max);
		for (size_t taken = 0; taken < (40 << 10) && qmp_outq_len(&q); taken += n) {
			n = qmp_outq_len(&q) < 4096 ? qmp_outq_len(&q) : 4096;
			for (size_t i = 0; i < n; i++)
				wrong += qmp_outq_data(&q)[i] != (char)((sent + i) % 251);
			qmp_outq_consume(&q, n);
			sent += n;
		}
		if (qmp_outq_len(&q) > peak)
			peak = qmp_outq_len(&q);
	}
	ck_assert_uint_gt(peak, 1 << 20);
	while (qmp_outq_len(&q)) {
		size_t n = qmp_outq_len(&q) < 4096 ? qmp_outq_len(&q) : 4096;

		for (size_t i = 0; i < n; i++)
			wrong += qmp_outq_data(&q)[i] != (char)((sent + i) % 251);
		qmp_outq_consume(&q, n);
		sent += n;
	}
	ck_assert_uint_eq(wrong, 0);
	ck_assert_uint_eq(sent, appended);
	ck_assert_msg(q.moved <= appended, "%lu bytes moved for %lu appended",
		      (unsigned long)q.moved, (unsigned long)appended);
	qmp_outq_free(&q);
}
END_TEST

/* The queue's bound: what would pass it is refused, and nothing changes. */
START_TEST(test_outq_bound)
{
	struct qmp_outq q = { 0 };
	char text[100] = "";

	ck_assert_int_eq(qmp_outq_append(&q, text, 100, 150), 0);
	ck_assert_int_eq(qmp_outq_append(&q, text, 51, 150), -ENOBUFS);
	ck_assert_uint_eq(qmp_outq_len(&q), 100);
	ck_assert_int_eq(qmp_outq_append(&q, text, 50, 150), 0);
	qmp_outq_consume(&q, 100);
	ck_assert_int_eq(qmp_outq_append(&q, text, 100, 150), 0);
	ck_assert_uint_eq(qmp_outq_len(&q), 150);
	qmp_outq_free(&q);
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
	tcase_add_test(tc, test_pipelined_after_errors);
	tcase_add_test(tc, test_pieces_and_spaces);
	tcase_add_test(tc, test_feed_some_stops);
	tcase_add_test(tc, test_compactions_bounded);
	tcase_add_test(tc, test_set_compaction_all_or_nothing);
	tcase_add_test(tc, test_huge_request_closes);
	tcase_add_test(tc, test_views_match_the_pool);
	tcase_add_test(tc, test_compact_reports_and_events);
	tcase_add_test(tc, test_frame_map);
	tcase_add_test(tc, test_frame_map_states);
	tcase_add_test(tc, test_outq_moves_little);
	tcase_add_test(tc, test_outq_bound);
	tcase_add_test(tc, test_stop_cont_quit);
	tcase_set_timeout(tc, 30);
	suite_add_tcase(s, tc);
	return check_run(s);
}
