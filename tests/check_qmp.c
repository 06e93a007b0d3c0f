/* The control protocol without KVM: QMP's rules, every kind of bad input
 * refused with the right class and description, and the commands' answers
 * against the pool they describe. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mm/buddy.h"
#include "mm/compaction.h"
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

/* {"qemu":{"major":..,"minor":..,"micro":..},"package":"vmdefrag X.Y.Z"} */
static const char *version_json(void)
{
	static char text[160];
	int v[3] = { 0, 0, 0 };

	sscanf(PACKAGE_VERSION, "%d.%d.%d", &v[0], &v[1], &v[2]);
	snprintf(text, sizeof(text), "{\"qemu\":{\"major\":%d,\"minor\":%d,\"micro\":%d},"
		 "\"package\":\"vmdefrag %s\"}", v[0], v[1], v[2], PACKAGE_VERSION);
	return text;
}

START_TEST(test_greeting_and_negotiation)
{
	char greeting[256];

	snprintf(greeting, sizeof(greeting), "{\"QMP\":{\"version\":%s,\"capabilities\":[]}}\r\n",
		 version_json());
	ck_assert_str_eq(f.out, greeting);
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
	ck_assert_int_eq(count(f.out, "{\"return\":{\"run\""), QMP_MAX_PENDING);
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
	ck_assert_msg(strstr(got, "{\"event\":\"COMPACTION_BEGIN\",\"data\":{\"run\":1,\"policy\":\"twoscanner\","
			      "\"order\":null,\"trigger\":\"command\",\"free-2m-blocks-before\":"), "%s", got);
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

/* ---- what QEMU's own clients send (python qemu.qmp, the legacy API) ---- */

#define ck_exact(in, expect) do { \
	const char *got_ = fake_talk(&f, (in)); \
	ck_assert_msg(!strcmp(got_, (expect)), "sent %s\nexpected %s\ngot %s", (in), (expect), got_); \
} while (0)

#define STATUS_RETURN	"{\"return\":{\"running\":true,\"singlestep\":false,\"status\":\"running\"}"

/* Negotiation in each shape, answered byte for byte; what a capability
 * the greeting does not offer gets. */
START_TEST(test_negotiation_shapes)
{
	static const struct {
		const char *in, *out;
	} shapes[] = {
		{ "{\"execute\": \"qmp_capabilities\"}", "{\"return\":{}}\r\n" },
		{ "{\"execute\": \"qmp_capabilities\", \"arguments\": {}}", "{\"return\":{}}\r\n" },
		{ "{\"execute\": \"qmp_capabilities\", \"arguments\": {\"enable\": []}, \"id\": \"__qmp#00000\"}",
		  "{\"return\":{},\"id\":\"__qmp#00000\"}\r\n" },
		{ "{\"execute\": \"qmp_capabilities\", \"arguments\": {\"enable\": [\"oob\"]}}",
		  "{\"error\":{\"class\":\"GenericError\",\"desc\":\"Capability 'oob' not available\"}}\r\n" },
		{ "{\"execute\": \"qmp_capabilities\", \"arguments\": {\"enable\": [\"turbo\"]}, \"id\": 3}",
		  "{\"error\":{\"class\":\"GenericError\",\"desc\":\"Parameter 'enable[0]' does not accept "
		  "value 'turbo'\"},\"id\":3}\r\n" },
		{ "{\"execute\": \"qmp_capabilities\", \"arguments\": {\"enable\": \"oob\"}}",
		  "{\"error\":{\"class\":\"GenericError\",\"desc\":\"Invalid parameter type for 'enable', "
		  "expected: array\"}}\r\n" },
		{ "{\"execute\": \"qmp_capabilities\", \"arguments\": {\"enable\": [1]}}",
		  "{\"error\":{\"class\":\"GenericError\",\"desc\":\"Invalid parameter type for 'enable[0]', "
		  "expected: string\"}}\r\n" },
		{ "{\"execute\": \"qmp_capabilities\", \"arguments\": {\"disable\": []}}",
		  "{\"error\":{\"class\":\"GenericError\",\"desc\":\"Parameter 'disable' is unexpected\"}}\r\n" },
	};

	for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++) {
		bool ok = !strncmp(shapes[i].out, "{\"return\"", 9);

		fake_new_session(&f);
		ck_exact(shapes[i].in, shapes[i].out);
		ck_assert_int_eq(f.session.negotiated, ok);
		/* refused, the session still waits for a negotiation */
		if (!ok)
			ck_exact("{\"execute\":\"qmp_capabilities\",\"arguments\":{\"enable\":[]}}",
				 "{\"return\":{}}\r\n");
		ck_exact("{\"execute\":\"query-status\"}", STATUS_RETURN "}\r\n");
	}
}
END_TEST

/* Any JSON value as the id comes back as it was sent, null included;
 * errors echo it too. */
START_TEST(test_ids_echoed)
{
	static const char *const ids[] = {
		"\"abc\"", "\"__qmp#00042\"", "7", "-1", "0", "1.5", "true", "false", "null",
		"{\"a\":[1,{\"b\":null}]}", "[]", "[1,\"x\"]", "\"\"", "\"\\u00e9\\n\"",
	};
	char in[256], out[256];

	negotiate();
	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		snprintf(in, sizeof(in), "{\"execute\":\"query-status\",\"id\":%s}", ids[i]);
		snprintf(out, sizeof(out), STATUS_RETURN ",\"id\":%s}\r\n",
			 !strcmp(ids[i], "\"\\u00e9\\n\"") ? "\"\xc3\xa9\\n\"" : ids[i]);
		ck_exact(in, out);
		snprintf(in, sizeof(in), "{\"execute\":\"no-such\",\"id\":%s}", ids[i]);
		snprintf(out, sizeof(out), "{\"error\":{\"class\":\"CommandNotFound\",\"desc\":\"The command "
			 "no-such has not been found\"},\"id\":%s}\r\n",
			 !strcmp(ids[i], "\"\\u00e9\\n\"") ? "\"\xc3\xa9\\n\"" : ids[i]);
		ck_exact(in, out);
	}
	/* no id: none in the reply */
	ck_exact("{\"execute\":\"query-status\"}", STATUS_RETURN "}\r\n");
	/* a compaction's reply, which comes later, too */
	f.defer_jobs = 1;
	ck_exact("{\"execute\":\"compact\",\"id\":null}", "");
	fake_run_jobs(&f);
	ck_assert_msg(strstr(f.out, ",\"id\":null}\r\n"), "%s", f.out);
}
END_TEST

/* Several requests in one write, and one request over many writes, down
 * to a byte at a time: each reply whole, in order, byte for byte. */
START_TEST(test_writes_of_any_size)
{
	const char *req = "{ \"execute\" : \"query-status\", \"id\" : { \"n\" : 1 } }\n";
	char three[512], expect[512];

	negotiate();
	snprintf(three, sizeof(three), "%s{\"execute\":\"query-status\",\"id\":2}\r\n"
		 "{\"execute\":\"no-such\",\"id\":3}", req);
	snprintf(expect, sizeof(expect), STATUS_RETURN ",\"id\":{\"n\":1}}\r\n" STATUS_RETURN
		 ",\"id\":2}\r\n{\"error\":{\"class\":\"CommandNotFound\",\"desc\":\"The command no-such "
		 "has not been found\"},\"id\":3}\r\n");
	ck_exact(three, expect);
	for (size_t piece = 1; piece <= 7; piece++) {
		size_t last = (size_t)(strrchr(req, '}') - req), len = strlen(req);
		char buf[8];

		f.out_len = 0;
		for (size_t i = 0; i < len; i += piece) {
			size_t n = len - i < piece ? len - i : piece;

			memcpy(buf, req + i, n);
			qmp_session_feed(&f.session, buf, n);
			/* nothing is answered before the request is whole */
			if (i + n <= last)
				ck_assert_msg(f.out_len == 0, "pieces of %zu: answered at byte %zu", piece, i + n);
		}
		ck_assert_msg(f.out_len == strlen(STATUS_RETURN ",\"id\":{\"n\":1}}\r\n") &&
			      !strncmp(f.out, STATUS_RETURN ",\"id\":{\"n\":1}}\r\n", f.out_len),
			      "pieces of %zu: %.*s", piece, (int)f.out_len, f.out);
	}
}
END_TEST

/* ---- the schema ---- */

static struct json_object *schema_find(struct json_object *schema, const char *name)
{
	for (size_t i = 0; i < json_object_array_length(schema); i++) {
		struct json_object *e = json_object_array_get_idx(schema, i), *n;

		if (json_object_object_get_ex(e, "name", &n) && !strcmp(json_object_get_string(n), name))
			return e;
	}
	return NULL;
}

static const char *member_str(struct json_object *o, const char *key)
{
	struct json_object *v;

	return json_object_object_get_ex(o, key, &v) ? json_object_get_string(v) : NULL;
}

/* The members of the object type an entry names under key, as "a b c". */
static void members_of(struct json_object *schema, struct json_object *entry, const char *key,
		       char *out, size_t len)
{
	struct json_object *type = schema_find(schema, member_str(entry, key)), *members;

	out[0] = '\0';
	ck_assert_msg(type, "%s names an unknown type", member_str(entry, "name"));
	ck_assert_str_eq(member_str(type, "meta-type"), "object");
	ck_assert(json_object_object_get_ex(type, "members", &members));
	for (size_t i = 0; i < json_object_array_length(members); i++) {
		const char *name = member_str(json_object_array_get_idx(members, i), "name");
		const char *t = member_str(json_object_array_get_idx(members, i), "type");

		ck_assert_msg(schema_find(schema, t), "member %s has unknown type %s", name, t);
		strncat(out, name, len - strlen(out) - 1);
		strncat(out, " ", len - strlen(out) - 1);
	}
}

static void spec_names(const struct qmp_member *m, char *out, size_t len)
{
	out[0] = '\0';
	for (; m && m->name; m++) {
		strncat(out, m->name, len - strlen(out) - 1);
		strncat(out, " ", len - strlen(out) - 1);
	}
}

/* query-qmp-schema, as a client gets it: every command with its
 * arguments and return members, every event with its data, every type
 * they name defined; query-commands lists the same commands. */
START_TEST(test_schema_lists_everything)
{
	struct json_object *reply, *schema, *cmds;
	char got[1024], want[1024];
	size_t n = 0;

	negotiate();
	reply = json_tokener_parse(fake_talk(&f, "{\"execute\":\"query-qmp-schema\"}"));
	ck_assert(reply && json_object_object_get_ex(reply, "return", &schema));
	for (const struct qmp_command *c = qmp_commands; c->name; c++, n++) {
		struct json_object *e = schema_find(schema, c->name);

		ck_assert_msg(e, "no %s in the schema", c->name);
		ck_assert_str_eq(member_str(e, "meta-type"), "command");
		members_of(schema, e, "arg-type", got, sizeof(got));
		spec_names(c->args, want, sizeof(want));
		ck_assert_msg(!strcmp(got, want), "%s takes %s, the schema says %s", c->name, want, got);
		if (c->returns_list) {
			struct json_object *list = schema_find(schema, member_str(e, "ret-type"));

			ck_assert_str_eq(member_str(list, "meta-type"), "array");
			members_of(schema, list, "element-type", got, sizeof(got));
		} else {
			members_of(schema, e, "ret-type", got, sizeof(got));
		}
		spec_names(c->returns, want, sizeof(want));
		ck_assert_msg(!strcmp(got, want), "%s returns %s, the schema says %s", c->name, want, got);
	}
	for (const struct qmp_event *ev = qmp_events; ev->name; ev++) {
		struct json_object *e = schema_find(schema, ev->name);

		ck_assert_msg(e, "no event %s in the schema", ev->name);
		ck_assert_str_eq(member_str(e, "meta-type"), "event");
		members_of(schema, e, "arg-type", got, sizeof(got));
		spec_names(ev->data, want, sizeof(want));
		ck_assert_msg(!strcmp(got, want), "%s carries %s, the schema says %s", ev->name, want, got);
	}
	/* a range and a set of values, as a client sees them */
	ck_assert_ptr_nonnull(strstr(json_object_to_json_string_ext(schema_find(schema, "q_obj_compact-arg"),
								    JSON_C_TO_STRING_PLAIN),
				     "{\"name\":\"order\",\"type\":\"int\",\"default\":null,\"x-min\":0,\"x-max\":10}"));
	ck_assert_str_eq(json_object_to_json_string_ext(schema_find(schema, "q_obj_compact-arg-policy"),
							JSON_C_TO_STRING_PLAIN),
			 "{\"name\":\"q_obj_compact-arg-policy\",\"meta-type\":\"enum\",\"values\":"
			 "[\"twoscanner\",\"minmove\",\"minmove-max\"]}");
	json_object_put(reply);
	reply = json_tokener_parse(fake_talk(&f, "{\"execute\":\"query-commands\"}"));
	ck_assert(reply && json_object_object_get_ex(reply, "return", &cmds));
	ck_assert_uint_eq(json_object_array_length(cmds), n);
	for (size_t i = 0; i < n; i++)
		ck_assert_str_eq(member_str(json_object_array_get_idx(cmds, i), "name"), qmp_commands[i].name);
	json_object_put(reply);
	snprintf(want, sizeof(want), "{\"return\":%s,\"id\":1}\r\n", version_json());
	ck_exact("{\"execute\":\"query-version\",\"id\":1}", want);
}
END_TEST

/* Each member of o is in spec, and each member spec requires is in o. */
static void ck_members(const char *what, struct json_object *o, const struct qmp_member *spec)
{
	ck_assert_msg(json_object_is_type(o, json_type_object), "%s: not an object", what);
	json_object_object_foreach(o, key, val) {
		const struct qmp_member *m = spec;

		(void)val;
		while (m && m->name && strcmp(m->name, key))
			m++;
		ck_assert_msg(m && m->name, "%s has '%s', which the schema does not list", what, key);
	}
	for (const struct qmp_member *m = spec; m && m->name; m++)
		ck_assert_msg(m->optional || json_object_object_get_ex(o, m->name, NULL),
			      "%s lacks '%s', which the schema requires", what, m->name);
}

/* What every command returns and every event carries is what the schema
 * says: the schema cannot drift from the code. */
START_TEST(test_replies_match_schema)
{
	negotiate();
	for (const struct qmp_command *c = qmp_commands; c->name; c++) {
		char in[128];
		struct json_object *reply, *ret;

		if (!c->fn || !strcmp(c->name, "quit"))
			continue;
		snprintf(in, sizeof(in), "{\"execute\":\"%s\"}", c->name);
		fake_talk(&f, in);
		/* events may come first: the reply is the last line */
		{
			char *last = f.out + f.out_len - 2, *line;

			*last = '\0';
			line = strrchr(f.out, '\n');
			reply = json_tokener_parse(line ? line + 1 : f.out);
		}
		ck_assert_msg(reply && json_object_object_get_ex(reply, "return", &ret), "%s: %s", c->name, f.out);
		if (c->returns_list) {
			ck_assert(json_object_is_type(ret, json_type_array));
			for (size_t i = 0; i < json_object_array_length(ret); i++) {
				struct json_object *e = json_object_array_get_idx(ret, i);
				const struct qmp_member *m = c->returns;

				for (; m->name; m++)
					ck_assert_msg(json_object_object_get_ex(e, m->name, NULL), "%s[%zu] lacks %s",
						      c->name, i, m->name);
			}
		} else {
			ck_members(c->name, ret, c->returns);
		}
		json_object_put(reply);
	}
	/* the events a compaction and a stop send */
	fake_talk(&f, "{\"execute\":\"stop\"}{\"execute\":\"cont\"}{\"execute\":\"compact\",\"arguments\":{\"order\":9}}");
	for (char *line = f.out, *next; line < f.out + f.out_len; line = next) {
		struct json_object *msg, *name, *data;
		const struct qmp_event *ev = qmp_events;

		next = strstr(line, "\r\n");
		*next = '\0';
		next += 2;
		msg = json_tokener_parse(line);
		ck_assert(msg);
		if (json_object_object_get_ex(msg, "event", &name)) {
			while (ev->name && strcmp(ev->name, json_object_get_string(name)))
				ev++;
			ck_assert_msg(ev->name, "event %s is not in the schema", json_object_get_string(name));
			ck_assert(json_object_object_get_ex(msg, "data", &data));
			ck_members(ev->name, data, ev->data);
		}
		json_object_put(msg);
	}
}
END_TEST

/* The README's command table and event list against the schema: the same
 * commands, each with the same arguments, and the same events. */
static char *read_readme(void)
{
	FILE *in = fopen(TOP_SRCDIR "/README.md", "r");
	char *text;
	long len;

	ck_assert_msg(in, "cannot open %s", TOP_SRCDIR "/README.md");
	fseek(in, 0, SEEK_END);
	len = ftell(in);
	rewind(in);
	text = malloc((size_t)len + 1);
	ck_assert_uint_eq(fread(text, 1, (size_t)len, in), (size_t)len);
	text[len] = '\0';
	fclose(in);
	return text;
}

/* The `quoted` words of [p, end), each followed by a space. */
static void quoted_words(const char *p, const char *end, char *out, size_t len)
{
	out[0] = '\0';
	while ((p = memchr(p, '`', (size_t)(end - p))) && p < end) {
		const char *q = memchr(p + 1, '`', (size_t)(end - p - 1));

		if (!q)
			break;
		strncat(out, p + 1, (size_t)(q - p - 1) < len - strlen(out) - 2 ? (size_t)(q - p - 1) : 0);
		strcat(out, " ");
		p = q + 1;
	}
}

START_TEST(test_readme_matches_schema)
{
	char *text = read_readme(), *row, names[1024], args[1024], want[1024], events[512];
	unsigned int seen = 0, n = 0;

	row = strstr(text, "\n| command | arguments | returns |\n| --- | --- | --- |\n");
	ck_assert_msg(row, "README.md has no command table");
	row = strchr(row + 1, '\n') + 1;
	row = strchr(row, '\n') + 1;
	for (; *row == '|'; row = strchr(row, '\n') + 1) {
		char *c1 = row + 1, *c2 = strchr(c1, '|'), *c3 = strchr(c2 + 1, '|');

		quoted_words(c1, c2, names, sizeof(names));
		quoted_words(c2 + 1, c3, args, sizeof(args));
		for (char *name = strtok(names, " "); name; name = strtok(NULL, " ")) {
			const struct qmp_command *c = qmp_commands;

			while (c->name && strcmp(c->name, name))
				c++;
			ck_assert_msg(c->name, "README.md lists '%s', the schema does not", name);
			spec_names(c->args, want, sizeof(want));
			ck_assert_msg(!strcmp(args, want), "README.md gives %s arguments %s, the schema %s",
				      name, args, want);
			seen++;
		}
	}
	for (const struct qmp_command *c = qmp_commands; c->name; c++)
		n++;
	ck_assert_msg(seen == n, "README.md's table has %u commands, the schema %u", seen, n);
	row = strstr(text, "\nEvents:");
	ck_assert_msg(row, "README.md lists no events");
	quoted_words(row, strstr(row, "\n\n"), events, sizeof(events));
	want[0] = '\0';
	for (const struct qmp_event *ev = qmp_events; ev->name; ev++) {
		strcat(want, ev->name);
		strcat(want, " ");
	}
	ck_assert_msg(!strcmp(events, want), "README.md's events: %s; the schema's: %s", events, want);
	free(text);
}
END_TEST

/* ---- compaction events ---- */

/* The data of each event named name in text, in order (at most max). */
static unsigned int events_of(const char *text, const char *name, struct json_object **out,
			      unsigned int max)
{
	char needle[64];
	unsigned int n = 0;

	snprintf(needle, sizeof(needle), "{\"event\":\"%s\"", name);
	for (const char *p = text; (p = strstr(p, needle)) && n < max; p++) {
		const char *end = strstr(p, "\r\n");
		char *line = strndup(p, (size_t)(end - p));
		struct json_object *msg = json_tokener_parse(line), *data;

		ck_assert(msg && json_object_object_get_ex(msg, "data", &data));
		out[n++] = json_object_get(data);
		json_object_put(msg);
		free(line);
	}
	return n;
}

static int64_t data_int(struct json_object *d, const char *key)
{
	struct json_object *v;

	ck_assert_msg(json_object_object_get_ex(d, key, &v), "no %s in %s", key,
		      json_object_to_json_string(d));
	return json_object_get_int64(v);
}

static const char *data_str(struct json_object *d, const char *key)
{
	struct json_object *v;

	ck_assert_msg(json_object_object_get_ex(d, key, &v), "no %s", key);
	return json_object_get_string(v);
}

/* Every kind of run - a compact command (two scanners, for an order,
 * min-move), a direct compaction for an allocation, kcompactd woken for
 * an order and proactive - sends COMPACTION_BEGIN and COMPACTION_END,
 * with the same run number, policy, order and trigger, and the end's
 * counts are the run's. */
START_TEST(test_every_run_has_begin_and_end)
{
	static const struct {
		const char *request;		/* or NULL: a run started below */
		enum compact_mode mode;
		const char *policy, *trigger;
		int order;
	} kinds[] = {
		{ "{\"execute\":\"compact\"}", 0, "twoscanner", "command", -1 },
		{ "{\"execute\":\"compact\",\"arguments\":{\"order\":9}}", 0, "twoscanner", "command", 9 },
		{ "{\"execute\":\"compact\",\"arguments\":{\"policy\":\"minmove\",\"order\":9}}", 0, "minmove",
		  "command", 9 },
		{ NULL, COMPACT_DIRECT, "twoscanner", "direct", 9 },
		{ NULL, COMPACT_DAEMON, "twoscanner", "daemon", 9 },
		{ NULL, COMPACT_PROACTIVE, "twoscanner", "proactive", -1 },
	};

	for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
		struct json_object *begin[2], *end[2], *progress[1];
		struct compact_stats st;

		fake_destroy(&f);
		fake_init(&f);
		negotiate();
		f.out_len = 0;
		if (kinds[k].request)
			fake_talk(&f, kinds[k].request);
		else
			compact_zone(&f.compactor, kinds[k].mode, kinds[k].order, 0, &st);
		ck_assert_uint_eq(events_of(f.out, "COMPACTION_BEGIN", begin, 2), 1);
		ck_assert_uint_eq(events_of(f.out, "COMPACTION_END", end, 2), 1);
		/* short: no progress */
		ck_assert_uint_eq(events_of(f.out, "COMPACTION_PROGRESS", progress, 1), 0);
		ck_assert_int_eq(data_int(begin[0], "run"), 1);
		ck_assert_int_eq(data_int(end[0], "run"), 1);
		for (int i = 0; i < 2; i++) {
			struct json_object *d = i ? end[0] : begin[0], *order;

			ck_assert_str_eq(data_str(d, "policy"), kinds[k].policy);
			ck_assert_str_eq(data_str(d, "trigger"), kinds[k].trigger);
			ck_assert(json_object_object_get_ex(d, "order", &order));
			if (kinds[k].order < 0)
				ck_assert_ptr_null(order);
			else
				ck_assert_int_eq(json_object_get_int(order), kinds[k].order);
		}
		ck_assert_int_eq(data_int(end[0], "free-2m-blocks-before"),
				 data_int(begin[0], "free-2m-blocks-before"));
		ck_assert_int_eq(data_int(end[0], "free-2m-blocks-after"), (int64_t)count_free_pageblocks(&f.pool.zone));
		if (!kinds[k].request) {
			ck_assert_int_eq(data_int(end[0], "frames-moved"), (int64_t)st.moved);
			ck_assert_int_eq(data_int(end[0], "migrate-scanned"), (int64_t)st.migrate_scanned);
			ck_assert_str_eq(data_str(end[0], "result"), compact_result_name(st.result));
		}
		json_object_put(begin[0]);
		json_object_put(end[0]);
	}
	/* allocation with direct compaction, as a huge request makes it */
	{
		struct json_object *begin[4], *end[4];
		uint32_t pfn;
		unsigned int n;

		fake_destroy(&f);
		/* every other frame free: no free block of order 9 */
		fake_init_pool(&f, "alternating", 8192);
		negotiate();
		f.out_len = 0;
		ck_assert_int_eq(compact_alloc_direct(&f.compactor, 9, MIGRATE_MOVABLE, &pfn, NULL, NULL), 0);
		n = events_of(f.out, "COMPACTION_BEGIN", begin, 4);
		ck_assert_uint_ge(n, 1);
		ck_assert_uint_eq(events_of(f.out, "COMPACTION_END", end, 4), n);
		for (unsigned int i = 0; i < n; i++) {
			ck_assert_str_eq(data_str(begin[i], "trigger"), "direct");
			ck_assert_int_eq(data_int(end[i], "run"), data_int(begin[i], "run"));
			json_object_put(begin[i]);
			json_object_put(end[i]);
		}
	}
}
END_TEST

/* A compaction of a 4 GiB pool with every other frame free runs for about
 * a second: progress reported after its first 100 ms (a second by
 * default), then at most every 25 ms (250), its counts growing, all
 * between the run's BEGIN and END. The cadence is shortened so that the
 * run lasts many periods on a machine of any speed. */
#define AFTER_US	100000
#define EVERY_US	25000
START_TEST(test_progress_of_a_long_run)
{
	struct json_object *begin[1], *end[1], *progress[256], *reply, *ret;
	int64_t moved = 0, duration_us;
	unsigned int n;
	const char *got;

	fake_destroy(&f);
	fake_init_pool(&f, "alternating", 1U << 20);
	f.compactor.batch = 1;	/* slower, so that it lasts on a fast machine */
	f.compactor.progress_after_ns = AFTER_US * 1000ULL;
	f.compactor.progress_every_ns = EVERY_US * 1000ULL;
	negotiate();
	f.out_len = 0;
	got = fake_talk(&f, "{\"execute\":\"compact\",\"id\":1}");
	ck_assert_uint_eq(events_of(got, "COMPACTION_BEGIN", begin, 1), 1);
	ck_assert_uint_eq(events_of(got, "COMPACTION_END", end, 1), 1);
	duration_us = data_int(end[0], "duration-us");
	n = events_of(got, "COMPACTION_PROGRESS", progress, 256);
	printf("a 4 GiB pool: compaction ran %.2f s, moved %ld frames, %u progress events\n",
	       duration_us / 1e6, (long)data_int(end[0], "frames-moved"), n);
	ck_assert_msg(duration_us >= 2 * (AFTER_US + EVERY_US), "the run took %ld us: too short to "
		      "show progress", (long)duration_us);
	ck_assert_uint_ge(n, 2);
	/* the first after AFTER_US, then at least EVERY_US apart */
	ck_assert_uint_le(n, (unsigned int)((duration_us - AFTER_US) / EVERY_US) + 1);
	ck_assert(strstr(got, "\"COMPACTION_BEGIN\"") < strstr(got, "\"COMPACTION_PROGRESS\""));
	ck_assert(strstr(got, "\"COMPACTION_PROGRESS\"") < strstr(got, "\"COMPACTION_END\""));
	for (unsigned int i = 0; i < n; i++) {
		int64_t at = data_int(progress[i], "duration-us");

		ck_assert_int_eq(data_int(progress[i], "run"), data_int(begin[0], "run"));
		ck_assert_int_ge(at, AFTER_US);
		ck_assert_int_ge(data_int(progress[i], "frames-moved"), moved);
		moved = data_int(progress[i], "frames-moved");
		ck_assert_int_le(moved, data_int(end[0], "frames-moved"));
		json_object_put(progress[i]);
	}
	/* the reply is the END's data */
	reply = json_tokener_parse(strstr(got, "{\"return\""));
	ck_assert(reply && json_object_object_get_ex(reply, "return", &ret));
	ck_assert_str_eq(json_object_to_json_string(ret), json_object_to_json_string(end[0]));
	json_object_put(reply);
	json_object_put(begin[0]);
	json_object_put(end[0]);
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
	tcase_add_test(tc, test_negotiation_shapes);
	tcase_add_test(tc, test_ids_echoed);
	tcase_add_test(tc, test_writes_of_any_size);
	tcase_add_test(tc, test_schema_lists_everything);
	tcase_add_test(tc, test_replies_match_schema);
	tcase_add_test(tc, test_readme_matches_schema);
	tcase_add_test(tc, test_every_run_has_begin_and_end);
	tcase_add_test(tc, test_progress_of_a_long_run);
	tcase_set_timeout(tc, 30);
	suite_add_tcase(s, tc);
	return check_run(s);
}
