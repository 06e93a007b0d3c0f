/* A zone's allocator (mm/zone_alloc.c): on the lock-free allocator the
 * descriptors follow the bits and the views (free blocks per order, kept
 * per chunk and counted again only where something changed) match the
 * model the buddy is checked against, through allocations, frees, splits,
 * the free scanner's takes and isolation; every bad call gets the buddy's
 * answer on both allocators and changes nothing. */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "mm/lockfree.h"
#include "mm/zone_alloc.h"
#include "tests/buddy_model.h"
#include "tests/check_run.h"

#define CHUNKS		40
#define FRAMES		(CHUNKS * LF_CHUNK_FRAMES)

static void assert_zone_ok(const struct zone *z)
{
	char msg[256];

	ck_assert_msg(!zone_check(z, msg, sizeof(msg)), "zone_check: %s", msg);
}

/* The views against the model, and the kept counts against a count from
 * scratch of the bits (lf_nr_free()). */
static void compare_with_model(struct zone *z, struct buddy_model *m)
{
	uint64_t want[NR_ORDERS], got[NR_ORDERS], fresh[NR_ORDERS];

	assert_zone_ok(z);
	for (uint32_t pfn = 0; pfn < z->nr_frames; pfn++)
		if ((z->frames[pfn].state == FRAME_USED) != m->used[pfn])
			ck_abort_msg("frame %u: model says %s", pfn, m->used[pfn] ? "used" : "free");
	ck_assert_uint_eq(zone_free_frames(z), model_free_frames(m));
	model_nr_free(m, want);
	zone_nr_free(z, got);
	lf_nr_free(z->lf, fresh);
	for (unsigned int o = 0; o < NR_ORDERS; o++)
		if (got[o] != want[o] || fresh[o] != want[o])
			ck_abort_msg("order %u: the zone says %lu free blocks, the bits %lu, the model %lu",
				     o, (unsigned long)got[o], (unsigned long)fresh[o], (unsigned long)want[o]);
}

struct held {
	uint32_t pfn;
	unsigned int order;
};

/* Random zone calls on the lock-free allocator until the pool has been
 * full and empty again. */
START_TEST(test_lockfree_against_model)
{
	static struct held held[FRAMES];
	struct buddy_model m;
	struct zone z;
	unsigned int nr = 0, seed = 77 + (unsigned int)_i, full = 0, splits = 0, takes = 0;
	unsigned int isolations = 0;
	bool isolated[CHUNKS] = { false };

	ck_assert_int_eq(zone_init(&z, FRAMES, ZONE_LOCKFREE), 0);
	model_init(&m, FRAMES);
	for (int op = 0; op < 30000; op++) {
		unsigned int r = (unsigned int)rand_r(&seed) % 100;
		bool alloc = r < (op < 15000 ? 65U : 30U);

		if (r >= 96) {
			/* isolate or unisolate a chunk: nothing is allocated in it meanwhile */
			uint32_t c = (unsigned int)rand_r(&seed) % CHUNKS;

			if (isolated[c]) {
				zone_unisolate_pageblock(&z, c * LF_CHUNK_FRAMES, MIGRATE_MOVABLE);
				isolated[c] = false;
			} else if (zone_isolate_pageblock(&z, c * LF_CHUNK_FRAMES)) {
				isolated[c] = true;
				isolations++;
			}
		} else if (r >= 90) {
			/* the free scanner's take of a free block at a random frame */
			uint32_t pfn = (unsigned int)rand_r(&seed) % FRAMES;
			int order = zone_free_block_order(&z, pfn);
			int got = zone_take_free(&z, pfn);

			if (order < 0) {
				ck_assert_int_eq(got, -EINVAL);
				continue;
			}
			if (isolated[pfn / LF_CHUNK_FRAMES] ||
			    isolated[(pfn + (1U << order) - 1) / LF_CHUNK_FRAMES]) {
				ck_assert_int_eq(got, -EBUSY);
				continue;
			}
			ck_assert_int_eq(got, order);
			takes++;
			for (uint32_t i = 0; i < 1U << order; i++) {
				ck_assert_ptr_null(model_alloc(&m, pfn + i, 0));
				held[nr++] = (struct held){ pfn + i, 0 };
			}
		} else if (!alloc && nr && held[nr - 1].order >= 9 && r % 4 == 0) {
			struct held b = held[--nr];

			ck_assert_int_eq(zone_split(&z, b.pfn), 0);
			splits++;
			for (uint32_t i = 0; i < 1U << b.order; i++)
				held[nr++] = (struct held){ b.pfn + i, 0 };
		} else if (alloc || !nr) {
			unsigned int order = r < 58 ? 0 : r % 2 ? 9 : 10;
			enum migratetype mt = r % 3 ? MIGRATE_MOVABLE : MIGRATE_UNMOVABLE;
			uint32_t pfn;
			int err = zone_alloc(&z, order, mt, &pfn);
			const char *why;

			if (err) {
				ck_assert_int_eq(err, -ENOMEM);
				full++;
				continue;
			}
			ck_assert_msg(!isolated[pfn / LF_CHUNK_FRAMES], "frame %u taken in an isolated chunk", pfn);
			why = model_alloc(&m, pfn, order);
			ck_assert_msg(!why, "zone_alloc order %u gave %u: %s", order, pfn, why);
			ck_assert_uint_eq(z.frames[pfn].order, order);
			ck_assert_uint_eq(z.frames[pfn].mt, mt);
			held[nr++] = (struct held){ pfn, order };
		} else {
			unsigned int i = (unsigned int)rand_r(&seed) % nr;

			ck_assert_int_eq(zone_free(&z, held[i].pfn, held[i].order), 0);
			model_free(&m, held[i].pfn, held[i].order);
			held[i] = held[--nr];
		}
		if (op % 500 == 0)
			compare_with_model(&z, &m);
	}
	compare_with_model(&z, &m);
	ck_assert_msg(full && splits && takes && isolations,
		      "not every path taken: %u full, %u splits, %u takes, %u isolations", full, splits,
		      takes, isolations);
	for (uint32_t c = 0; c < CHUNKS; c++)
		if (isolated[c])
			zone_unisolate_pageblock(&z, c * LF_CHUNK_FRAMES, MIGRATE_MOVABLE);
	while (nr--) {
		ck_assert_int_eq(zone_free(&z, held[nr].pfn, held[nr].order), 0);
		model_free(&m, held[nr].pfn, held[nr].order);
	}
	compare_with_model(&z, &m);
	ck_assert_uint_eq(zone_free_frames(&z), FRAMES);
	model_destroy(&m);
	zone_destroy(&z);
}
END_TEST

/* A frame, a whole chunk and a pair held; a pinned frame among them. */
struct handles {
	uint32_t frame, pinned, chunk, pair;
};

static void setup(struct zone *z, enum zone_allocator a, struct handles *h)
{
	ck_assert_int_eq(zone_init(z, FRAMES, a), 0);
	ck_assert_int_eq(zone_alloc(z, 10, MIGRATE_MOVABLE, &h->pair), 0);
	ck_assert_int_eq(zone_alloc(z, 9, MIGRATE_MOVABLE, &h->chunk), 0);
	ck_assert_int_eq(zone_alloc(z, 0, MIGRATE_MOVABLE, &h->frame), 0);
	ck_assert_int_eq(zone_alloc(z, 0, MIGRATE_MOVABLE, &h->pinned), 0);
	ck_assert_int_eq(zone_pin(z, h->pinned), 0);
}

/* What a call must leave as it was: the free count, the free blocks per
 * order and every descriptor. */
struct snapshot {
	uint64_t free_frames;
	uint64_t nr_free[NR_ORDERS];
	struct frame *frames;
};

static void take_snapshot(const struct zone *z, struct snapshot *s)
{
	s->free_frames = zone_free_frames(z);
	zone_nr_free(z, s->nr_free);
	s->frames = malloc(z->nr_frames * sizeof(*s->frames));
	memcpy(s->frames, z->frames, z->nr_frames * sizeof(*s->frames));
}

static void assert_unchanged(const struct zone *z, struct snapshot *s, const char *what)
{
	uint64_t nr_free[NR_ORDERS];

	zone_nr_free(z, nr_free);
	ck_assert_msg(zone_free_frames(z) == s->free_frames && !memcmp(nr_free, s->nr_free, sizeof(nr_free)) &&
		      !memcmp(z->frames, s->frames, z->nr_frames * sizeof(*s->frames)),
		      "%s changed the %s zone", what, zone_allocator_names[z->allocator]);
	assert_zone_ok(z);
	free(s->frames);
}

static const struct bad_call {
	const char *what;
	int which;		/* 0 frame, 1 pinned, 2 chunk, 3 pair */
	uint32_t offset;
	unsigned int order;
	int err;
} bad_frees[] = {
	{ "a double free", 0, 100, 0, -ENOENT },	/* a frame never allocated */
	{ "a pinned frame", 1, 0, 0, -EBUSY },
	{ "a chunk at order 0", 2, 0, 0, -EINVAL },
	{ "a chunk's tail", 2, 7, 0, -EINVAL },
	{ "a pair at order 9", 3, 0, 9, -EINVAL },
	{ "a misaligned chunk", 2, 1, 9, -EINVAL },
	{ "a frame at order 11", 0, 0, 11, -EINVAL },
	{ "past the pool", 0, FRAMES, 0, -ERANGE },
};

START_TEST(test_bad_calls_as_buddy)
{
	for (int a = 0; a < NR_ZONE_ALLOCATORS; a++) {
		struct zone z;
		struct handles h;
		struct snapshot s;
		uint32_t pfn = 4242;

		setup(&z, (enum zone_allocator)a, &h);
		for (size_t i = 0; i < sizeof(bad_frees) / sizeof(bad_frees[0]); i++) {
			const struct bad_call *b = &bad_frees[i];
			uint32_t base = b->which == 0 ? h.frame : b->which == 1 ? h.pinned :
					b->which == 2 ? h.chunk : h.pair;
			/* "past the pool" is past it, whatever the base */
			uint32_t at = b->offset == FRAMES ? FRAMES : base + b->offset;
			int err;

			if (b->err == -ENOENT && z.frames[at].state == FRAME_USED)
				ck_abort_msg("frame %u is not free", at);
			take_snapshot(&z, &s);
			err = zone_free(&z, at, b->order);
			ck_assert_msg(err == b->err, "%s on %s: %d, want %d", b->what, zone_allocator_names[a],
				      err, b->err);
			assert_unchanged(&z, &s, b->what);
		}
		take_snapshot(&z, &s);
		ck_assert_int_eq(zone_alloc(&z, 11, MIGRATE_MOVABLE, &pfn), -EINVAL);
		ck_assert_int_eq(zone_alloc(&z, 0, MIGRATE_ISOLATE, &pfn), -EINVAL);
		ck_assert_int_eq(zone_split(&z, h.chunk + 3), -EINVAL);
		ck_assert_int_eq(zone_split(&z, h.frame + 100), -ENOENT);
		ck_assert_int_eq(zone_take_free(&z, h.frame), -EINVAL);
		ck_assert_uint_eq(pfn, 4242);
		assert_unchanged(&z, &s, "bad allocations");
		/* orders between a frame and a chunk: the buddy's, not the lock-free allocator's */
		ck_assert_int_eq(zone_order_allocatable(&z, 3), a == ZONE_BUDDY);
		if (a == ZONE_LOCKFREE) {
			take_snapshot(&z, &s);
			ck_assert_int_eq(zone_alloc(&z, 3, MIGRATE_MOVABLE, &pfn), -EINVAL);
			assert_unchanged(&z, &s, "an order-3 allocation");
		}
		/* and what was held is freed whole */
		ck_assert_int_eq(zone_unpin(&z, h.pinned), 0);
		ck_assert_int_eq(zone_free(&z, h.pinned, 0), 0);
		ck_assert_int_eq(zone_free(&z, h.frame, 0), 0);
		ck_assert_int_eq(zone_free(&z, h.chunk, 9), 0);
		ck_assert_int_eq(zone_free(&z, h.pair, 10), 0);
		ck_assert_uint_eq(zone_free_frames(&z), FRAMES);
		assert_zone_ok(&z);
		zone_destroy(&z);
	}
}
END_TEST

/* pagetypeinfo on the lock-free allocator: a chunk an unmovable frame
 * claimed is an UNMOVABLE pageblock, and the free blocks per type add up
 * to the free blocks of the zone. */
START_TEST(test_lockfree_types)
{
	struct zone z;
	uint32_t pfn, movable;
	uint64_t all[NR_ORDERS], sum[NR_ORDERS] = { 0 };

	ck_assert_int_eq(zone_init(&z, FRAMES, ZONE_LOCKFREE), 0);
	ck_assert_int_eq(zone_alloc(&z, 0, MIGRATE_MOVABLE, &movable), 0);
	ck_assert_int_eq(zone_alloc(&z, 0, MIGRATE_UNMOVABLE, &pfn), 0);
	ck_assert_uint_ne(pfn / LF_CHUNK_FRAMES, movable / LF_CHUNK_FRAMES);
	ck_assert_int_eq(pageblock_migratetype(&z, pfn), MIGRATE_UNMOVABLE);
	ck_assert_int_eq(pageblock_migratetype(&z, movable), MIGRATE_MOVABLE);
	zone_nr_free(&z, all);
	for (unsigned int t = 0; t < MIGRATE_TYPES; t++) {
		uint64_t per[NR_ORDERS];

		zone_nr_free_type(&z, (enum migratetype)t, per);
		for (unsigned int o = 0; o < NR_ORDERS; o++)
			sum[o] += per[o];
	}
	/* two chunks in use, each with 511 free frames in blocks of 1..256 */
	ck_assert_uint_eq(all[8], 2);
	ck_assert_uint_eq(all[0], 2);
	for (unsigned int o = 0; o < NR_ORDERS; o++)
		ck_assert_msg(sum[o] == all[o], "order %u: %lu by type, %lu in all", o,
			      (unsigned long)sum[o], (unsigned long)all[o]);
	ck_assert(zone_suitable_free_block(&z, 10, MIGRATE_MOVABLE));
	zone_destroy(&z);
}
END_TEST

START_TEST(test_parse)
{
	enum zone_allocator a = NR_ZONE_ALLOCATORS;

	ck_assert_int_eq(zone_allocator_parse("lockfree", &a), 0);
	ck_assert_int_eq(a, ZONE_LOCKFREE);
	ck_assert_int_eq(zone_allocator_parse("buddy", &a), 0);
	ck_assert_int_eq(a, ZONE_BUDDY);
	ck_assert_int_eq(zone_allocator_parse("slab", &a), -EINVAL);
	ck_assert_int_eq(zone_allocator_parse("", &a), -EINVAL);
	ck_assert_int_eq(a, ZONE_BUDDY);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("zone_alloc");
	TCase *tc = tcase_create("zone_alloc");

	tcase_add_loop_test(tc, test_lockfree_against_model, 0, 3);
	tcase_add_test(tc, test_bad_calls_as_buddy);
	tcase_add_test(tc, test_lockfree_types);
	tcase_add_test(tc, test_parse);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	return check_run(s);
}
