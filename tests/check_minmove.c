/* The min-move policy and the lower bound: exact on hand-built pools,
 * equal to the bound and never worse than the two scanners on random ones. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "mm/minmove.h"
#include "tests/check_run.h"
#include "tests/compact_fixture.h"

/* Blocks of 4: used 2, 3, 1, 2; 8 frames free, so at most 2 free blocks.
 * Cheapest first: block 2 (1 frame), then block 0 (2; ties go to the lower
 * block). Holes, fullest first: block 1, then block 3. So 10 -> 6,
 * 0 -> 13, 2 -> 15: three moves, the bound for two blocks. */
START_TEST(test_picture_minmove)
{
	struct fixture fx;
	struct compact_stats st;

	fixture_picture(&fx, "U F U F | U U F U | F F U F | U F U F", 2);
	ck_assert_uint_eq(compact_lower_bound(&fx.zone, 0), 0);
	ck_assert_uint_eq(compact_lower_bound(&fx.zone, 1), 1);
	ck_assert_uint_eq(compact_lower_bound(&fx.zone, 2), 3);
	ck_assert_uint_eq(compact_lower_bound(&fx.zone, 3), UINT64_MAX);
	ck_assert_int_eq(compact_minmove(&fx.c, MINMOVE_MAX, &st), COMPACT_SUCCESS);
	ck_layout(&fx, "FFFFUUUUFFFFUUUU");
	ck_verify(&fx);
	ck_assert_uint_eq(p2m_lookup(&fx.p2m, 10), 6);
	ck_assert_uint_eq(p2m_lookup(&fx.p2m, 0), 13);
	ck_assert_uint_eq(p2m_lookup(&fx.p2m, 2), 15);
	ck_assert_uint_eq(st.moved, 3);
	ck_assert_uint_eq(st.failed, 0);
	ck_assert_uint_eq(st.migrate_scanned, 8);
	ck_assert_uint_eq(st.free_scanned, 8);
	ck_assert_uint_eq(st.isolated, 6);
	ck_assert_uint_eq(count_free_pageblocks(&fx.zone), 2);
	/* the cleared blocks are movable again and on the free lists */
	ck_assert_int_eq(pageblock_migratetype(&fx.zone, 0), MIGRATE_MOVABLE);
	ck_assert_int_eq(pageblock_migratetype(&fx.zone, 8), MIGRATE_MOVABLE);
	ck_assert_uint_eq(fx.zone.free_area[2].nr_free_type[MIGRATE_MOVABLE], 2);
	ck_assert_uint_eq(fx.zone.free_area[2].nr_free_type[MIGRATE_ISOLATE], 0);
	fixture_destroy(&fx);
}
END_TEST

/* A pinned frame rules its block out; a target of 1 stops after one block. */
START_TEST(test_picture_pinned_block_skipped)
{
	struct fixture fx;
	struct compact_stats st;

	fixture_picture(&fx, "U F U F | U U F U | F F P F | U F U F", 2);
	ck_assert_uint_eq(compact_lower_bound(&fx.zone, 1), 2);
	ck_assert_uint_eq(compact_lower_bound(&fx.zone, 2), 4);
	ck_assert_int_eq(compact_minmove(&fx.c, 1, &st), COMPACT_SUCCESS);
	/* block 0 cleared into the holes of block 1, then block 3 (block 2,
	 * with one used frame, is the emptiest and last) */
	ck_layout(&fx, "FFFFUUUUFFPFUUUF");
	ck_verify(&fx);
	ck_assert_uint_eq(st.moved, 2);
	ck_assert_uint_eq(p2m_lookup(&fx.p2m, 10), 10);
	fixture_destroy(&fx);
}
END_TEST

/* Unreachable target: as many as possible, reported as not reached. */
START_TEST(test_target_unreachable)
{
	struct fixture fx;
	struct compact_stats st;

	fixture_picture(&fx, "U F U F | U U F U | F F U F | U F U F", 2);
	ck_assert_int_eq(compact_minmove(&fx.c, 3, &st), COMPACT_COMPLETE);
	ck_assert_uint_eq(count_free_pageblocks(&fx.zone), 2);
	ck_verify(&fx);
	fixture_destroy(&fx);
}
END_TEST

/* A mover that, on its first call, first lets the guest discard blocks
 * 2 and 3 whole: what a discard during one of min-move's lock breaks
 * does. Then it copies as the fixture's own mover does. */
static struct {
	migrate_fn copy;
	void *arg;
	struct fixture *fx;
	unsigned int calls;
} racing;

static void discarding_mover(void *arg, struct migration *batch, unsigned int nr)
{
	struct fixture *fx = racing.fx;

	if (!racing.calls++) {
		for (uint32_t pfn = 8; pfn < 16; pfn++) {
			uint32_t gfn = p2m_owner(&fx->p2m, pfn), old;

			if (gfn == PFN_NONE)
				continue;
			ck_assert_int_eq(p2m_unmap(&fx->p2m, gfn, &old), 0);
			ck_assert_int_eq(buddy_free(&fx->zone, old, 0), 0);
			fx->nr_mapped--;
		}
	}
	racing.copy(arg, batch, nr);
}

/* Blocks of 4: block 0 (2 used) is cleared into the holes of blocks 1,
 * 2 and 3, a frame at a time. After the first move, blocks 2 and 3 are
 * discarded and merge into one free block of 8 frames. That block is
 * what compaction makes, not a hole to fill: taking it whole (8 frames
 * into a queue sized for a pageblock and a batch) overran the queue and
 * handed a frame out twice, and the frames left over were freed while a
 * guest frame still owned one (the soak's "free of pool frame failed"). */
START_TEST(test_holes_freed_meanwhile)
{
	struct fixture fx;
	struct compact_stats st;
	char msg[256];

	fixture_picture(&fx, "U U F F | U U U F | U U U F | U U U F", 2);
	fx.c.batch = 1;
	racing.copy = fx.c.migrate;
	racing.arg = fx.c.migrate_arg;
	racing.fx = &fx;
	racing.calls = 0;
	fx.c.migrate = discarding_mover;
	compact_minmove(&fx.c, MINMOVE_MAX, &st);
	ck_assert_msg(buddy_check(&fx.zone, msg, sizeof(msg)) == 0, "%s", msg);
	ck_assert_msg(p2m_check(&fx.p2m, msg, sizeof(msg)) == 0, "%s", msg);
	ck_verify(&fx);
	/* frame 0 went to the hole at 7; frame 1 found no hole left */
	ck_layout(&fx, "FUFFUUUUFFFFFFFF");
	ck_assert_uint_eq(st.moved, 1);
	ck_assert_uint_eq(st.failed, 1);
	ck_assert_uint_eq(racing.calls, 1);
	ck_assert_uint_eq(fx.zone.free_area[3].nr_free, 1);
	ck_assert_uint_eq(fx.zone.free_frames, 11);
	fixture_destroy(&fx);
}
END_TEST

/* A block another run has isolated is that run's until it ends: clearing
 * it (it is the cheapest here) would also hand it back with the type it
 * had when this run started, MIGRATE_ISOLATE, for good. */
START_TEST(test_isolated_block_left_alone)
{
	struct fixture fx;
	struct compact_stats st;
	char msg[256];

	fixture_picture(&fx, "U F F F | U U U F | U U F F | U U U F", 2);
	buddy_set_pageblock_migratetype(&fx.zone, 0, MIGRATE_ISOLATE);
	ck_assert_int_eq(compact_minmove(&fx.c, MINMOVE_MAX, &st), COMPACT_SUCCESS);
	/* block 2 went into the holes of blocks 1 and 3 */
	ck_layout(&fx, "UFFFUUUUFFFFUUUU");
	ck_assert_uint_eq(st.moved, 2);
	ck_assert_uint_eq(p2m_lookup(&fx.p2m, 0), 0);
	ck_assert_int_eq(pageblock_migratetype(&fx.zone, 0), MIGRATE_ISOLATE);
	ck_assert_int_eq(pageblock_migratetype(&fx.zone, 8), MIGRATE_MOVABLE);
	/* the other run ends */
	buddy_unisolate_pageblock(&fx.zone, 0, MIGRATE_MOVABLE);
	ck_assert_msg(buddy_check(&fx.zone, msg, sizeof(msg)) == 0, "%s", msg);
	ck_verify(&fx);
	fixture_destroy(&fx);
}
END_TEST

START_TEST(test_random_matches_bound)
{
	struct fixture two, mm;
	struct compact_stats st2, stm;
	uint64_t bound, two_after;
	uint32_t n = 16384;

	fixture_random(&two, n, 9, 40 + _i * 5, 10, 500 + _i);
	fixture_random(&mm, n, 9, 40 + _i * 5, 10, 500 + _i);
	compact_zone(&two.c, COMPACT_FULL, -1, 0, &st2);
	two_after = count_free_pageblocks(&two.zone);
	bound = compact_lower_bound(&mm.zone, two_after);
	compact_minmove(&mm.c, two_after, &stm);
	ck_verify(&mm);
	ck_assert_uint_ge(count_free_pageblocks(&mm.zone), two_after);
	ck_assert_uint_eq(stm.moved, bound);
	ck_assert_uint_le(stm.moved, st2.moved);
	/* a turn before every batch but the first (a block's first too:
	 * the last, short batch of the block before came just then) */
	ck_assert_uint_gt(mm.mover_calls, 1);
	ck_assert_uint_eq(mm.pace_calls, mm.mover_calls - 1);
	fixture_destroy(&mm);

	fixture_random(&mm, n, 9, 40 + _i * 5, 10, 500 + _i);
	compact_minmove(&mm.c, MINMOVE_MAX, &stm);
	ck_verify(&mm);
	ck_assert_uint_ge(count_free_pageblocks(&mm.zone), two_after);
	fixture_destroy(&mm);
	fixture_destroy(&two);
}
END_TEST

/* Min-move on the lock-free allocator: isolation by the chunk entry, holes
 * taken frame by frame from the bits, and still exactly the lower bound. */
START_TEST(test_random_matches_bound_lockfree)
{
	struct fixture mm;
	struct compact_stats st;
	uint64_t before, bound;
	char msg[256];

	fixture_random_on(&mm, ZONE_LOCKFREE, 16384, 9, 40 + (unsigned int)_i * 5, 10, 900 + _i);
	before = count_free_pageblocks(&mm.zone);
	bound = compact_lower_bound(&mm.zone, before + 4);
	ck_assert_uint_ne(bound, UINT64_MAX);
	compact_minmove(&mm.c, before + 4, &st);
	ck_verify(&mm);
	ck_assert_msg(zone_check(&mm.zone, msg, sizeof(msg)) == 0, "%s", msg);
	ck_assert_uint_eq(count_free_pageblocks(&mm.zone), before + 4);
	ck_assert_uint_eq(st.moved, bound);
	for (uint32_t pb = 0; pb < mm.zone.nr_pageblocks; pb++)
		if (pageblock_migratetype(&mm.zone, pb << 9) == MIGRATE_ISOLATE)
			ck_abort_msg("pageblock %u left isolated", pb);
	fixture_destroy(&mm);
}
END_TEST

/* The survey reads every frame of the pool: on a large one it gives the
 * zone lock up as the two scanners' walks do (COMPACT_HOLD_NS), or a
 * client's min-move would hold every vCPU's request up for the whole walk
 * (16 ms on 4 GiB here, a quarter of a second on 63 GiB). A pool of 16 GiB
 * whose every frame is used and none movable: the run moves nothing, and
 * its survey alone took the lock more than once. */
START_TEST(test_survey_breaks_the_lock)
{
	struct zone_lock_site sites[ZONE_LOCK_SITES];
	struct compact_stats st;
	struct compactor c;
	struct zone z;
	uint64_t holds = 0;
	unsigned int n;
	uint32_t pfn;

	ck_assert_int_eq(buddy_init(&z, 1U << 22), 0);
	while (!buddy_alloc(&z, 0, MIGRATE_UNMOVABLE, &pfn))
		;
	compactor_init(&c, &z, NULL, NULL, NULL);
	ck_assert_int_eq(compact_minmove(&c, MINMOVE_MAX, &st), COMPACT_SUCCESS);
	ck_assert_uint_eq(st.moved, 0);
	zone_lock(&z);
	n = zone_lock_sites(&z, sites, ZONE_LOCK_SITES);
	zone_unlock(&z);
	for (unsigned int i = 0; i < n; i++)
		if (!strcmp(sites[i].name, "compact_minmove"))
			holds = sites[i].holds;
	ck_assert_uint_gt(holds, 1);
	buddy_destroy(&z);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("minmove");
	TCase *tc = tcase_create("minmove");

	tcase_add_test(tc, test_picture_minmove);
	tcase_add_test(tc, test_picture_pinned_block_skipped);
	tcase_add_test(tc, test_target_unreachable);
	tcase_add_test(tc, test_holes_freed_meanwhile);
	tcase_add_test(tc, test_isolated_block_left_alone);
	tcase_add_test(tc, test_survey_breaks_the_lock);
	tcase_add_loop_test(tc, test_random_matches_bound, 0, 4);
	tcase_add_loop_test(tc, test_random_matches_bound_lockfree, 0, 4);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	return check_run(s);
}
