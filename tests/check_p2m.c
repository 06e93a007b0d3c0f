/* p2m and reverse map stay consistent; bad calls change nothing. */
#include <check.h>
#include <errno.h>
#include <stdlib.h>

#include "mm/p2m.h"
#include "tests/check_run.h"

START_TEST(test_map_unmap_move)
{
	struct zone z;
	struct p2m m;
	uint32_t a, b, pfn;

	ck_assert_int_eq(buddy_init(&z, 512), 0);
	ck_assert_int_eq(p2m_init(&m, &z, 100), 0);
	ck_assert_int_eq(buddy_alloc(&z, 0, MIGRATE_MOVABLE, &a), 0);
	ck_assert_int_eq(buddy_alloc(&z, 0, MIGRATE_MOVABLE, &b), 0);
	ck_assert_uint_eq(p2m_owner(&m, a), PFN_NONE);
	ck_assert_int_eq(p2m_map(&m, 7, a), 0);
	ck_assert_uint_eq(p2m_lookup(&m, 7), a);
	ck_assert_uint_eq(p2m_owner(&m, a), 7);
	ck_assert_uint_eq(m.nr_mapped, 1);

	/* migration's switch: gfn 7 now lives in b, a is unowned */
	ck_assert_int_eq(p2m_move(&m, a, b), 0);
	ck_assert_uint_eq(p2m_lookup(&m, 7), b);
	ck_assert_uint_eq(p2m_owner(&m, b), 7);
	ck_assert_uint_eq(p2m_owner(&m, a), PFN_NONE);
	ck_assert_uint_eq(m.nr_mapped, 1);

	ck_assert_int_eq(p2m_unmap(&m, 7, &pfn), 0);
	ck_assert_uint_eq(pfn, b);
	ck_assert_uint_eq(p2m_lookup(&m, 7), PFN_NONE);
	ck_assert_uint_eq(p2m_owner(&m, b), PFN_NONE);
	ck_assert_uint_eq(m.nr_mapped, 0);
	p2m_destroy(&m);
	buddy_destroy(&z);
}
END_TEST

START_TEST(test_bad_calls)
{
	struct zone z;
	struct p2m m;
	uint32_t a, b, pfn = 12345;

	ck_assert_int_eq(buddy_init(&z, 512), 0);
	ck_assert_int_eq(p2m_init(&m, &z, 100), 0);
	ck_assert_int_eq(buddy_alloc(&z, 0, MIGRATE_MOVABLE, &a), 0);
	ck_assert_int_eq(buddy_alloc(&z, 0, MIGRATE_MOVABLE, &b), 0);
	ck_assert_int_eq(p2m_map(&m, 1, a), 0);

	ck_assert_int_eq(p2m_map(&m, 100, b), -ERANGE);		/* gfn out of range */
	ck_assert_int_eq(p2m_map(&m, 2, 512), -ERANGE);		/* pfn out of range */
	ck_assert_int_eq(p2m_map(&m, 2, 300), -ENOENT);		/* pfn free */
	ck_assert_int_eq(p2m_map(&m, 2, a), -EBUSY);		/* pfn backs gfn 1 */
	ck_assert_int_eq(p2m_map(&m, 1, b), -EEXIST);		/* gfn mapped */
	ck_assert_int_eq(p2m_unmap(&m, 2, &pfn), -ENOENT);
	ck_assert_int_eq(p2m_unmap(&m, 1000, &pfn), -ERANGE);
	ck_assert_uint_eq(pfn, 12345);
	ck_assert_int_eq(p2m_move(&m, b, a), -ENOENT);		/* b has no owner */
	ck_assert_int_eq(p2m_move(&m, a, a), -EBUSY);		/* target owned */
	ck_assert_int_eq(p2m_move(&m, a, 400), -ENOENT);	/* target free */
	ck_assert_int_eq(p2m_move(&m, 9999, b), -ERANGE);

	/* nothing changed */
	ck_assert_uint_eq(p2m_lookup(&m, 1), a);
	ck_assert_uint_eq(p2m_owner(&m, a), 1);
	ck_assert_uint_eq(p2m_owner(&m, b), PFN_NONE);
	ck_assert_uint_eq(p2m_lookup(&m, 2), PFN_NONE);
	ck_assert_uint_eq(m.nr_mapped, 1);
	ck_assert_uint_eq(p2m_lookup(&m, 100), PFN_NONE);
	p2m_destroy(&m);
	buddy_destroy(&z);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("p2m");
	TCase *tc = tcase_create("p2m");

	tcase_add_test(tc, test_map_unmap_move);
	tcase_add_test(tc, test_bad_calls);
	suite_add_tcase(s, tc);
	return check_run(s);
}
