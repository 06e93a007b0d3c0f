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
	fixture_destroy(&mm);

	fixture_random(&mm, n, 9, 40 + _i * 5, 10, 500 + _i);
	compact_minmove(&mm.c, MINMOVE_MAX, &stm);
	ck_verify(&mm);
	ck_assert_uint_ge(count_free_pageblocks(&mm.zone), two_after);
	fixture_destroy(&mm);
	fixture_destroy(&two);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("minmove");
	TCase *tc = tcase_create("minmove");

	tcase_add_test(tc, test_picture_minmove);
	tcase_add_test(tc, test_picture_pinned_block_skipped);
	tcase_add_test(tc, test_target_unreachable);
	tcase_add_loop_test(tc, test_random_matches_bound, 0, 4);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	return check_run(s);
}
