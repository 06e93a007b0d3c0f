/* Buddy allocator: randomized sequences against the reference model,
 * the kernel's fallback and block-claiming rules on hand-built pools, and
 * every bad call refused without a change. */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "mm/buddy.h"
#include "tests/buddy_model.h"
#include "tests/check_run.h"

#define ck_model(m, z) do { \
	char msg_[256]; \
	ck_assert_msg(model_check((m), (z), msg_, sizeof(msg_)) == 0, "%s", msg_); \
} while (0)

static uint32_t alloc_ok(struct zone *z, unsigned int order, enum migratetype mt)
{
	uint32_t pfn = PFN_NONE;
	int err = buddy_alloc(z, order, mt, &pfn);

	ck_assert_msg(err == 0, "alloc order %u type %d: expected 0, got %d", order, mt, err);
	return pfn;
}

/* ---- randomized against the model ---- */

struct allocation {
	uint32_t pfn;
	unsigned int order;
};

static unsigned int pick_order(unsigned int r)
{
	static const unsigned int orders[] = { 0, 0, 0, 0, 0, 0, 1, 1, 2, 3, 4, 5, 9, 10 };

	return orders[r % (sizeof(orders) / sizeof(orders[0]))];
}

static const struct {
	uint32_t frames;
	unsigned int pageblock_order;
} random_pools[] = {
	{ 512, 9 }, { 1536, 9 }, { 4608, 9 }, { 8192, 9 },
	{ 64, 2 }, { 96, 3 }, { 3072, 5 }, { 2048, 10 },
};

START_TEST(test_random_against_model)
{
	uint32_t nr = random_pools[_i % 8].frames;
	struct allocation *live = calloc(nr, sizeof(*live));
	struct buddy_model m;
	struct zone z;
	uint32_t nlive = 0;

	srand(1000 + _i);
	ck_assert_int_eq(buddy_init_pageblock(&z, nr, random_pools[_i % 8].pageblock_order), 0);
	model_init(&m, nr);
	ck_model(&m, &z);
	for (int step = 0; step < 4000; step++) {
		unsigned int r = (unsigned int)rand();

		if (nlive && r % 100 < 45) {
			uint32_t i = (uint32_t)rand() % nlive;
			struct allocation a = live[i];

			live[i] = live[--nlive];
			if (a.order && r % 7 == 0) {
				/* split it and free the pieces one by one */
				ck_assert_int_eq(buddy_split(&z, a.pfn), 0);
				for (uint32_t k = 0; k < (1U << a.order); k++) {
					ck_assert_int_eq(buddy_free(&z, a.pfn + k, 0), 0);
					model_free(&m, a.pfn + k, 0);
					ck_model(&m, &z);
				}
			} else {
				ck_assert_int_eq(buddy_free(&z, a.pfn, a.order), 0);
				model_free(&m, a.pfn, a.order);
			}
		} else {
			unsigned int order = pick_order(r >> 8);
			enum migratetype mt = (r >> 4) % 10 == 0 ? MIGRATE_UNMOVABLE :
					      (r >> 4) % 10 == 1 ? MIGRATE_RECLAIMABLE :
					      MIGRATE_MOVABLE;
			uint32_t pfn;
			int err = buddy_alloc(&z, order, mt, &pfn);

			if (err) {
				uint64_t nr_free[NR_ORDERS];
				int any = 0;

				ck_assert_int_eq(err, -ENOMEM);
				/* ENOMEM only when no block of that order or above is free */
				buddy_nr_free(&z, nr_free);
				for (unsigned int o = order; o < NR_ORDERS; o++)
					any |= nr_free[o] != 0;
				ck_assert_msg(!any, "alloc order %u failed with a free block available", order);
			} else {
				const char *why = model_alloc(&m, pfn, order);

				ck_assert_msg(!why, "alloc order %u gave %u: %s", order, pfn, why);
				ck_assert_uint_eq(z.frames[pfn].mt, mt);
				live[nlive].pfn = pfn;
				live[nlive++].order = order;
			}
		}
		ck_model(&m, &z);
	}
	/* free everything: the pool must coalesce back to its largest blocks */
	while (nlive) {
		nlive--;
		ck_assert_int_eq(buddy_free(&z, live[nlive].pfn, live[nlive].order), 0);
		model_free(&m, live[nlive].pfn, live[nlive].order);
	}
	ck_model(&m, &z);
	ck_assert_uint_eq(z.free_frames, nr);
	{
		uint64_t nr_free[NR_ORDERS];

		buddy_nr_free(&z, nr_free);
		unsigned int pbo = z.pageblock_order;

		/* whole max-order blocks, then the pageblocks left over */
		ck_assert_uint_eq(nr_free[MAX_ORDER], nr / 1024);
		for (unsigned int o = pbo; o < MAX_ORDER; o++)
			ck_assert_uint_eq(nr_free[o], (nr >> o) & 1);
		for (unsigned int o = 0; o < pbo; o++)
			ck_assert_uint_eq(nr_free[o], 0);
	}
	model_destroy(&m);
	buddy_destroy(&z);
	free(live);
}
END_TEST

/* ---- hand-built cases: fallback and stealing ---- */

static void ck_free_type(const struct zone *z, unsigned int order, enum migratetype mt,
			 uint64_t expect)
{
	ck_assert_msg(z->free_area[order].nr_free_type[mt] == expect,
		      "order %u %s: expected %lu free blocks, found %lu", order,
		      migratetype_names[mt], (unsigned long)expect,
		      (unsigned long)z->free_area[order].nr_free_type[mt]);
}

START_TEST(test_fresh_pool)
{
	struct zone z;

	ck_assert_int_eq(buddy_init(&z, 1536), 0);
	ck_free_type(&z, 10, MIGRATE_MOVABLE, 1);
	ck_free_type(&z, 9, MIGRATE_MOVABLE, 1);
	ck_assert_uint_eq(z.free_area[10].head[MIGRATE_MOVABLE], 0);
	ck_assert_uint_eq(z.free_area[9].head[MIGRATE_MOVABLE], 1024);
	for (uint32_t pb = 0; pb < 3; pb++)
		ck_assert_int_eq(pageblock_migratetype(&z, pb * 512), MIGRATE_MOVABLE);
	buddy_destroy(&z);
}
END_TEST

/* An unmovable allocation on an all-movable pool claims the whole order-10
 * block (both pageblocks) and splits it, handing out the lowest frame. */
START_TEST(test_claim_whole_large_block)
{
	struct zone z;

	ck_assert_int_eq(buddy_init(&z, 2048), 0);
	ck_assert_uint_eq(alloc_ok(&z, 0, MIGRATE_UNMOVABLE), 0);
	ck_assert_int_eq(pageblock_migratetype(&z, 0), MIGRATE_UNMOVABLE);
	ck_assert_int_eq(pageblock_migratetype(&z, 512), MIGRATE_UNMOVABLE);
	ck_assert_int_eq(pageblock_migratetype(&z, 1024), MIGRATE_MOVABLE);
	for (unsigned int o = 0; o <= 9; o++) {
		ck_free_type(&z, o, MIGRATE_UNMOVABLE, 1);
		ck_assert_uint_eq(z.free_area[o].head[MIGRATE_UNMOVABLE], 1U << o);
	}
	ck_free_type(&z, 10, MIGRATE_MOVABLE, 1);
	/* a movable allocation now stays in its own block */
	ck_assert_uint_eq(alloc_ok(&z, 0, MIGRATE_MOVABLE), 1024);
	buddy_destroy(&z);
}
END_TEST

/* UNMOVABLE falls back to RECLAIMABLE before MOVABLE (fallbacks[]). */
START_TEST(test_fallback_order)
{
	struct zone z;

	ck_assert_int_eq(buddy_init(&z, 1536), 0);
	ck_assert_uint_eq(alloc_ok(&z, 0, MIGRATE_RECLAIMABLE), 0);
	ck_assert_int_eq(pageblock_migratetype(&z, 512), MIGRATE_RECLAIMABLE);
	/* both a reclaimable and a movable order-9 block are free */
	ck_free_type(&z, 9, MIGRATE_RECLAIMABLE, 1);
	ck_free_type(&z, 9, MIGRATE_MOVABLE, 1);
	ck_assert_uint_eq(alloc_ok(&z, 0, MIGRATE_UNMOVABLE), 512);
	ck_assert_int_eq(pageblock_migratetype(&z, 512), MIGRATE_UNMOVABLE);
	ck_assert_int_eq(pageblock_migratetype(&z, 1024), MIGRATE_MOVABLE);
	buddy_destroy(&z);
}
END_TEST

/* A movable allocation finding only a mostly free unmovable pageblock
 * claims it: free frames >= half a pageblock. */
START_TEST(test_claim_mostly_free_block)
{
	struct zone z;

	ck_assert_int_eq(buddy_init(&z, 512), 0);
	ck_assert_uint_eq(alloc_ok(&z, 0, MIGRATE_UNMOVABLE), 0);
	ck_assert_int_eq(pageblock_migratetype(&z, 0), MIGRATE_UNMOVABLE);
	ck_assert_uint_eq(alloc_ok(&z, 0, MIGRATE_MOVABLE), 1);
	ck_assert_int_eq(pageblock_migratetype(&z, 0), MIGRATE_MOVABLE);
	/* the block's other free blocks moved to the movable lists with it */
	for (unsigned int o = 1; o <= 8; o++) {
		ck_free_type(&z, o, MIGRATE_MOVABLE, 1);
		ck_free_type(&z, o, MIGRATE_UNMOVABLE, 0);
	}
	buddy_destroy(&z);
}
END_TEST

/* When too little of the block is free, a small movable allocation steals
 * the smallest free block and leaves the pageblock's type alone. */
START_TEST(test_steal_without_claim)
{
	struct zone z;

	ck_assert_int_eq(buddy_init(&z, 512), 0);
	for (uint32_t i = 0; i <= 300; i++)
		ck_assert_uint_eq(alloc_ok(&z, 0, MIGRATE_UNMOVABLE), i);
	/* free now: 301 (o0), 302 (o1), 304 (o4), 320 (o6), 384 (o7) = 211 frames */
	ck_assert_uint_eq(z.free_frames, 211);
	ck_assert_uint_eq(alloc_ok(&z, 0, MIGRATE_MOVABLE), 301);
	ck_assert_int_eq(pageblock_migratetype(&z, 0), MIGRATE_UNMOVABLE);
	ck_assert_uint_eq(z.frames[301].mt, MIGRATE_MOVABLE);
	ck_free_type(&z, 1, MIGRATE_UNMOVABLE, 1);
	ck_free_type(&z, 7, MIGRATE_UNMOVABLE, 1);
	/* the next one splits the order-1 block, still without claiming */
	ck_assert_uint_eq(alloc_ok(&z, 0, MIGRATE_MOVABLE), 302);
	ck_free_type(&z, 0, MIGRATE_UNMOVABLE, 1);
	ck_assert_int_eq(pageblock_migratetype(&z, 0), MIGRATE_UNMOVABLE);
	/* freeing returns frames to the pageblock's type, not the allocation's */
	ck_assert_int_eq(buddy_free(&z, 301, 0), 0);
	ck_free_type(&z, 1, MIGRATE_UNMOVABLE, 0);
	ck_free_type(&z, 0, MIGRATE_UNMOVABLE, 2);
	buddy_destroy(&z);
}
END_TEST

/* Freed buddies across two pageblocks of different types merge at order
 * 10, and the merged block takes the freeing block's type. */
START_TEST(test_merge_across_pageblock_types)
{
	struct zone z;
	uint32_t a, b;

	ck_assert_int_eq(buddy_init(&z, 1024), 0);
	a = alloc_ok(&z, 9, MIGRATE_MOVABLE);
	b = alloc_ok(&z, 9, MIGRATE_MOVABLE);
	ck_assert_uint_eq(a, 0);
	ck_assert_uint_eq(b, 512);
	buddy_set_pageblock_migratetype(&z, 512, MIGRATE_UNMOVABLE);
	ck_assert_int_eq(buddy_free(&z, 512, 9), 0);
	ck_free_type(&z, 9, MIGRATE_UNMOVABLE, 1);
	ck_assert_int_eq(buddy_free(&z, 0, 9), 0);
	ck_free_type(&z, 10, MIGRATE_MOVABLE, 1);
	ck_assert_int_eq(pageblock_migratetype(&z, 512), MIGRATE_MOVABLE);
	buddy_destroy(&z);
}
END_TEST

/* ---- bad calls: an error and no change ---- */

struct snapshot {
	struct frame *frames;
	uint8_t *pageblock;
	struct free_area area[NR_ORDERS];
	uint64_t free_frames;
};

static void snap(const struct zone *z, struct snapshot *s)
{
	s->frames = malloc(z->nr_frames * sizeof(*z->frames));
	s->pageblock = malloc(z->nr_pageblocks);
	memcpy(s->frames, z->frames, z->nr_frames * sizeof(*z->frames));
	memcpy(s->pageblock, z->pageblock, z->nr_pageblocks);
	memcpy(s->area, z->free_area, sizeof(s->area));
	s->free_frames = z->free_frames;
}

static void ck_unchanged(const struct zone *z, struct snapshot *s, const char *what)
{
	ck_assert_msg(!memcmp(s->frames, z->frames, z->nr_frames * sizeof(*z->frames)) &&
		      !memcmp(s->pageblock, z->pageblock, z->nr_pageblocks) &&
		      !memcmp(s->area, z->free_area, sizeof(s->area)) &&
		      s->free_frames == z->free_frames,
		      "%s changed the allocator", what);
	free(s->frames);
	free(s->pageblock);
}

#define ck_refused(z, call, expect) do { \
	struct snapshot s_; \
	int err_; \
	snap((z), &s_); \
	err_ = (call); \
	ck_assert_msg(err_ == (expect), "%s: expected %d, got %d", #call, (expect), err_); \
	ck_unchanged((z), &s_, #call); \
} while (0)

START_TEST(test_bad_calls)
{
	struct zone z;
	uint32_t pfn, a, b;

	ck_assert_int_eq(buddy_init(&z, 1024), 0);
	a = alloc_ok(&z, 2, MIGRATE_MOVABLE);
	b = alloc_ok(&z, 0, MIGRATE_MOVABLE);
	ck_refused(&z, buddy_alloc(&z, MAX_ORDER + 1, MIGRATE_MOVABLE, &pfn), -EINVAL);
	ck_refused(&z, buddy_alloc(&z, 0, MIGRATE_ISOLATE, &pfn), -EINVAL);
	ck_refused(&z, buddy_alloc(&z, 0, (enum migratetype)77, &pfn), -EINVAL);
	ck_refused(&z, buddy_free(&z, a, MAX_ORDER + 1), -EINVAL);
	ck_refused(&z, buddy_free(&z, 1024, 0), -ERANGE);
	ck_refused(&z, buddy_free(&z, UINT32_MAX, 0), -ERANGE);
	ck_refused(&z, buddy_free(&z, 1020, 3), -ERANGE);
	ck_refused(&z, buddy_free(&z, a, 1), -EINVAL);		/* wrong order */
	ck_refused(&z, buddy_free(&z, a + 1, 0), -EINVAL);	/* a tail frame */
	ck_refused(&z, buddy_free(&z, a + 2, 1), -EINVAL);	/* a tail, as a block */
	ck_refused(&z, buddy_free(&z, 1, 1), -EINVAL);		/* misaligned */
	ck_refused(&z, buddy_free(&z, 600, 0), -ENOENT);	/* never allocated */
	ck_assert_int_eq(buddy_free(&z, b, 0), 0);
	ck_refused(&z, buddy_free(&z, b, 0), -ENOENT);		/* double free */
	z.frames[a + 3].flags |= FRAME_PINNED;
	ck_refused(&z, buddy_free(&z, a, 2), -EBUSY);
	z.frames[a + 3].flags &= ~FRAME_PINNED;
	ck_assert_int_eq(buddy_free(&z, a, 2), 0);
	ck_refused(&z, buddy_split(&z, 5000), -ERANGE);
	ck_refused(&z, buddy_split(&z, 7), -ENOENT);
	ck_refused(&z, buddy_isolate_free(&z, 3), -EINVAL);
	/* a full pool refuses with ENOMEM */
	ck_assert_uint_eq(alloc_ok(&z, 10, MIGRATE_MOVABLE), 0);
	ck_refused(&z, buddy_alloc(&z, 0, MIGRATE_MOVABLE, &pfn), -ENOMEM);
	buddy_destroy(&z);
}
END_TEST

START_TEST(test_bad_pool_sizes)
{
	static const uint64_t bad[] = { 0, 1, 511, 513, 1000, 1ULL << 32, 1ULL << 40 };
	struct zone z;

	for (unsigned int i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(buddy_init(&z, bad[i]) == -EINVAL, "pool of %lu frames accepted",
			      (unsigned long)bad[i]);
	ck_assert_int_eq(buddy_init(&z, 512), 0);
	buddy_destroy(&z);
}
END_TEST

START_TEST(test_isolate_free)
{
	struct zone z;

	ck_assert_int_eq(buddy_init(&z, 1024), 0);
	ck_assert_uint_eq(alloc_ok(&z, 0, MIGRATE_MOVABLE), 0);
	/* frame 512 heads the free order-9 block */
	ck_assert_int_eq(buddy_isolate_free(&z, 512), 0);
	ck_assert_uint_eq(z.frames[512].state, FRAME_USED);
	ck_assert_uint_eq(z.frames[512].order, 9);
	ck_assert_uint_eq(z.free_frames, 1024 - 1 - 512);
	ck_free_type(&z, 9, MIGRATE_MOVABLE, 0);
	ck_assert_int_eq(buddy_free(&z, 512, 9), 0);
	ck_free_type(&z, 9, MIGRATE_MOVABLE, 1);
	buddy_destroy(&z);
}
END_TEST

static Suite *buddy_suite(void)
{
	Suite *s = suite_create("buddy");
	TCase *tc = tcase_create("model");

	tcase_add_loop_test(tc, test_random_against_model, 0, 16);
	tcase_set_timeout(tc, 120);
	suite_add_tcase(s, tc);
	tc = tcase_create("rules");
	tcase_add_test(tc, test_fresh_pool);
	tcase_add_test(tc, test_claim_whole_large_block);
	tcase_add_test(tc, test_fallback_order);
	tcase_add_test(tc, test_claim_mostly_free_block);
	tcase_add_test(tc, test_steal_without_claim);
	tcase_add_test(tc, test_merge_across_pageblock_types);
	tcase_add_test(tc, test_isolate_free);
	suite_add_tcase(s, tc);
	tc = tcase_create("bad-calls");
	tcase_add_test(tc, test_bad_calls);
	tcase_add_test(tc, test_bad_pool_sizes);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return check_run(buddy_suite());
}
