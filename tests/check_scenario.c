/* Scenario generators and trace replay: reproducible, exact, and strict
 * about bad traces. */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "mm/scenario.h"
#include "tests/check_run.h"

struct built {
	struct zone zone;
	struct p2m p2m;
	struct scenario sc;
	char *trace;
	size_t trace_len;
};

static void start(struct built *b, uint32_t frames, int record)
{
	ck_assert_int_eq(buddy_init(&b->zone, frames), 0);
	ck_assert_int_eq(p2m_init(&b->p2m, &b->zone, frames), 0);
	ck_assert_int_eq(scenario_init(&b->sc, &b->zone, &b->p2m), 0);
	b->trace = NULL;
	if (record)
		b->sc.trace = open_memstream(&b->trace, &b->trace_len);
}

static void finish_trace(struct built *b)
{
	if (b->sc.trace) {
		fclose(b->sc.trace);
		b->sc.trace = NULL;
	}
}

static void end(struct built *b)
{
	finish_trace(b);
	scenario_destroy(&b->sc);
	p2m_destroy(&b->p2m);
	buddy_destroy(&b->zone);
	free(b->trace);
}

static int same_state(const struct built *a, const struct built *b)
{
	return a->zone.nr_frames == b->zone.nr_frames &&
	       !memcmp(a->zone.frames, b->zone.frames, a->zone.nr_frames * sizeof(struct frame)) &&
	       !memcmp(a->zone.pageblock, b->zone.pageblock, a->zone.nr_pageblocks) &&
	       !memcmp(a->zone.free_area, b->zone.free_area, sizeof(a->zone.free_area)) &&
	       !memcmp(a->p2m.pfn_of, b->p2m.pfn_of, a->p2m.nr_gfns * sizeof(uint32_t));
}

START_TEST(test_replay_reproduces_each_scenario)
{
	const char *name = scenario_names[_i];
	struct built gen, again, replay;
	char err[256];
	FILE *in;

	start(&gen, 16384, 1);
	ck_assert_int_eq(scenario_generate(&gen.sc, name, 42), 0);
	finish_trace(&gen);
	/* same seed, same operations */
	start(&again, 16384, 1);
	ck_assert_int_eq(scenario_generate(&again.sc, name, 42), 0);
	finish_trace(&again);
	ck_assert_str_eq(gen.trace, again.trace);
	ck_assert(same_state(&gen, &again));
	/* the trace rebuilds the very same pool */
	start(&replay, 16384, 0);
	in = fmemopen(gen.trace, gen.trace_len, "r");
	ck_assert_msg(scenario_replay(&replay.sc, in, "t", err, sizeof(err)) == 0, "%s", err);
	fclose(in);
	ck_assert_msg(same_state(&gen, &replay), "%s: replayed pool differs", name);
	ck_assert_uint_eq(replay.sc.skipped, gen.sc.skipped);
	end(&gen);
	end(&again);
	end(&replay);
}
END_TEST

START_TEST(test_seed_matters)
{
	struct built a, b;

	start(&a, 8192, 1);
	start(&b, 8192, 1);
	scenario_generate(&a.sc, "aged", 1);
	scenario_generate(&b.sc, "aged", 2);
	finish_trace(&a);
	finish_trace(&b);
	ck_assert_str_ne(a.trace, b.trace);
	end(&a);
	end(&b);
}
END_TEST

START_TEST(test_scenario_shapes)
{
	struct built b;
	uint64_t used, unmovable = 0;

	start(&b, 8192, 0);
	scenario_generate(&b.sc, "alternating", 1);
	for (uint32_t i = 0; i < 8192; i++)
		ck_assert_uint_eq(b.zone.frames[i].state, i % 2 ? FRAME_FREE : FRAME_USED);
	end(&b);

	start(&b, 262144, 0);
	scenario_generate(&b.sc, "aged", 1);
	used = b.zone.nr_frames - b.zone.free_frames;
	ck_assert_msg(used * 100 >= 58ULL * b.zone.nr_frames && used * 100 <= 62ULL * b.zone.nr_frames,
		      "aged ends %lu of %u frames used", (unsigned long)used, b.zone.nr_frames);
	for (uint32_t i = 0; i < b.zone.nr_frames; i++)
		unmovable += b.zone.frames[i].state == FRAME_USED &&
			     b.zone.frames[i].mt == MIGRATE_UNMOVABLE;
	ck_assert_msg(unmovable * 1000 >= used * 3 && unmovable * 1000 <= used * 30,
		      "%lu of %lu used frames unmovable", (unsigned long)unmovable, (unsigned long)used);
	end(&b);

	start(&b, 8192, 0);
	ck_assert_int_eq(scenario_generate(&b.sc, "nosuch", 1), -EINVAL);
	end(&b);
}
END_TEST

START_TEST(test_skipped_allocations)
{
	static const char trace[] =
		"# three order-10 blocks into a pool of two\n"
		"a 1 10 M\n"
		"a 2 10 U\n"
		"\n"
		"a 3 10 R\n"
		"f 3\n"
		"f 1\n"
		"a 3 9 M\n";
	struct built b;
	char err[256];
	FILE *in = fmemopen((void *)trace, sizeof(trace) - 1, "r");

	start(&b, 2048, 0);
	ck_assert_msg(scenario_replay(&b.sc, in, "t", err, sizeof(err)) == 0, "%s", err);
	fclose(in);
	ck_assert_uint_eq(b.sc.skipped, 1);
	ck_assert_uint_eq(b.zone.free_frames, 2048 - 1024 - 512);
	ck_assert_uint_eq(b.p2m.nr_mapped, 512);
	end(&b);
}
END_TEST

static const struct {
	const char *trace, *error;
} bad_traces[] = {
	{ "a 1 0 M\nx 2\n", "t:2: unknown operation 'x'" },
	{ "a 1 0 Q\n", "t:1: type 'Q' is not M, U or R" },
	{ "a 1 11 M\n", "t:1: order 11 out of range 0..10" },
	{ "a 1 0 M\na 1 0 M\n", "t:2: id 1 is already allocated" },
	{ "f 9\n", "t:1: id 9 holds no allocation" },
	{ "a 1 0 M\nf 1\nf 1\n", "t:3: id 1 holds no allocation" },
	{ "a 1 0\n", "t:1: expected \"a ID ORDER TYPE\"" },
	{ "a 1 0 M extra\n", "t:1: expected \"a ID ORDER TYPE\"" },
	{ "f\n", "t:1: expected \"f ID\"" },
	{ "a -1 0 M\n", "t:1: expected \"a ID ORDER TYPE\"" },
};

START_TEST(test_bad_traces)
{
	struct built b;
	char err[256] = "";
	FILE *in = fmemopen((void *)bad_traces[_i].trace, strlen(bad_traces[_i].trace), "r");

	start(&b, 2048, 0);
	ck_assert_int_eq(scenario_replay(&b.sc, in, "t", err, sizeof(err)), -1);
	ck_assert_str_eq(err, bad_traces[_i].error);
	fclose(in);
	end(&b);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("scenario");
	TCase *tc = tcase_create("scenario");

	tcase_add_loop_test(tc, test_replay_reproduces_each_scenario, 0, 3);
	tcase_add_test(tc, test_seed_matters);
	tcase_add_test(tc, test_scenario_shapes);
	tcase_add_test(tc, test_skipped_allocations);
	tcase_add_loop_test(tc, test_bad_traces, 0, sizeof(bad_traces) / sizeof(bad_traces[0]));
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	return check_run(s);
}
