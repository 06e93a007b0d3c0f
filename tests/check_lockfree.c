/* The lock-free allocator (mm/lockfree.c): against the same model the
 * buddy is checked against, with the buddy's error contract for every bad
 * call (each compared with what the buddy answers), kinds kept apart, and
 * threads allocating and freeing at once with no frame owned twice or
 * lost. */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "mm/buddy.h"
#include "mm/lf_compact.h"
#include "mm/lockfree.h"
#include "tests/buddy_model.h"
#include "tests/check_run.h"

/* 70 chunks: two whole groups and one of 6 chunks */
#define FRAMES		(70 * LF_CHUNK_FRAMES)

static void assert_consistent(const struct lf_pool *p)
{
	char msg[256];

	ck_assert_msg(!lf_check(p, msg, sizeof(msg)), "lf_check: %s", msg);
}

START_TEST(test_init)
{
	struct lf_pool p;

	ck_assert_int_eq(lf_init(&p, 0), -EINVAL);
	ck_assert_int_eq(lf_init(&p, LF_CHUNK_FRAMES - 1), -EINVAL);
	ck_assert_int_eq(lf_init(&p, LF_CHUNK_FRAMES + 1), -EINVAL);
	ck_assert_int_eq(lf_init(&p, 1ULL << 32), -EINVAL);
	ck_assert_int_eq(lf_init(&p, FRAMES), 0);
	ck_assert_uint_eq(p.nr_chunks, 70);
	ck_assert_uint_eq(p.nr_groups, 3);
	ck_assert_uint_eq(lf_free_frames(&p), FRAMES);
	/* state per frame: a bit, a chunk's 4 bytes over 512, a group's line over 16384 */
	ck_assert_uint_eq(lf_metadata_bytes(&p), 70 * (64 + 4) + 3 * (64 + 8) + sizeof(p));
	assert_consistent(&p);
	lf_destroy(&p);
}
END_TEST

/* ---- against the model ---- */

struct held {
	uint32_t pfn;
	unsigned int order;
};

static void compare_with_model(struct lf_pool *p, struct buddy_model *m)
{
	uint64_t want[NR_ORDERS], got[NR_ORDERS];

	assert_consistent(p);
	/* (not an assertion a frame: Check logs every one it passes) */
	for (uint32_t pfn = 0; pfn < p->nr_frames; pfn++)
		if (lf_frame_used(p, pfn) != m->used[pfn])
			ck_abort_msg("frame %u: model says %s", pfn, m->used[pfn] ? "used" : "free");
	ck_assert_uint_eq(lf_free_frames(p), model_free_frames(m));
	model_nr_free(m, want);
	lf_nr_free(p, got);
	for (unsigned int o = 0; o < NR_ORDERS; o++)
		ck_assert_msg(got[o] == want[o], "order %u: %lu free blocks, the model %lu", o,
			      (unsigned long)got[o], (unsigned long)want[o]);
}

/* Random allocations of orders 0, 9 and 10 as either kind, splits of
 * whole chunks into frames, and frees of what is held, until the pool has
 * been full and empty again; the frames, counters and free blocks per
 * order match the model throughout. */
START_TEST(test_against_model)
{
	static struct held held[FRAMES];
	struct buddy_model m;
	struct lf_local l;
	struct lf_pool p;
	unsigned int nr = 0, seed = 1234 + (unsigned int)_i, full = 0, splits = 0;

	ck_assert_int_eq(lf_init(&p, FRAMES), 0);
	model_init(&m, FRAMES);
	lf_local_init(&l);
	for (int op = 0; op < 40000; op++) {
		/* the pool fills in the first half, empties in the second */
		bool alloc = (unsigned int)rand_r(&seed) % 100 < (op < 20000 ? 70U : 30U);

		if (!alloc && nr && held[nr - 1].order >= 9 && rand_r(&seed) % 4 == 0) {
			/* split the newest whole block: its frames held one by one */
			struct held b = held[--nr];

			ck_assert_int_eq(lf_split(&p, b.pfn), 0);
			splits++;
			for (uint32_t i = 0; i < 1U << b.order; i++)
				held[nr++] = (struct held){ b.pfn + i, 0 };
		} else if (alloc || !nr) {
			unsigned int r = (unsigned int)rand_r(&seed) % 100;
			unsigned int order = r < 90 ? 0 : r < 97 ? 9 : 10;
			enum migratetype mt = r & 1 ? MIGRATE_MOVABLE : MIGRATE_UNMOVABLE;
			uint32_t pfn;
			int err = lf_alloc(&p, &l, order, mt, &pfn);
			const char *why;

			if (err) {
				ck_assert_int_eq(err, -ENOMEM);
				full++;
				continue;
			}
			why = model_alloc(&m, pfn, order);
			ck_assert_msg(!why, "lf_alloc order %u gave %u: %s", order, pfn, why);
			held[nr++] = (struct held){ pfn, order };
		} else {
			unsigned int i = (unsigned int)rand_r(&seed) % nr;

			ck_assert_int_eq(lf_free(&p, held[i].pfn, held[i].order), 0);
			model_free(&m, held[i].pfn, held[i].order);
			held[i] = held[--nr];
		}
		if (op % 1000 == 0)
			compare_with_model(&p, &m);
	}
	compare_with_model(&p, &m);
	ck_assert_msg(full > 0, "the pool never filled");
	ck_assert_msg(splits > 0, "no block was split");
	while (nr--) {
		ck_assert_int_eq(lf_free(&p, held[nr].pfn, held[nr].order), 0);
		model_free(&m, held[nr].pfn, held[nr].order);
	}
	compare_with_model(&p, &m);
	ck_assert_uint_eq(lf_free_frames(&p), FRAMES);
	lf_local_release(&p, &l);
	model_destroy(&m);
	lf_destroy(&p);
}
END_TEST

/* Every frame, then every chunk, then every pair: exactly as many as the
 * pool holds, then -ENOMEM. */
START_TEST(test_fill_each_order)
{
	static const unsigned int orders[] = { 0, 9, 10 };
	static uint32_t pfns[FRAMES];
	struct lf_local l;
	struct lf_pool p;

	ck_assert_int_eq(lf_init(&p, FRAMES), 0);
	lf_local_init(&l);
	for (unsigned int o = 0; o < 3; o++) {
		uint32_t n = 0, want = FRAMES >> orders[o], pfn;

		while (!lf_alloc(&p, &l, orders[o], MIGRATE_MOVABLE, &pfn))
			pfns[n++] = pfn;
		ck_assert_uint_eq(n, want);
		ck_assert_uint_eq(lf_free_frames(&p), 0);
		ck_assert_int_eq(lf_alloc(&p, &l, 0, MIGRATE_UNMOVABLE, &pfn), -ENOMEM);
		ck_assert_int_eq(lf_alloc(&p, &l, 9, MIGRATE_MOVABLE, &pfn), -ENOMEM);
		assert_consistent(&p);
		while (n--)
			ck_assert_int_eq(lf_free(&p, pfns[n], orders[o]), 0);
		ck_assert_uint_eq(lf_free_frames(&p), FRAMES);
		assert_consistent(&p);
	}
	lf_local_release(&p, &l);
	lf_destroy(&p);
}
END_TEST

/* ---- bad calls: the buddy's answer, and nothing changes ---- */

/* Either allocator behind the same calls. */
struct either {
	bool lockfree;
	struct zone z;
	struct lf_pool p;
	struct lf_local l;
};

static int either_alloc(struct either *a, unsigned int order, enum migratetype mt, uint32_t *pfn)
{
	return a->lockfree ? lf_alloc(&a->p, &a->l, order, mt, pfn) : buddy_alloc(&a->z, order, mt, pfn);
}

static int either_free(struct either *a, uint32_t pfn, unsigned int order)
{
	return a->lockfree ? lf_free(&a->p, pfn, order) : buddy_free(&a->z, pfn, order);
}

static int either_split(struct either *a, uint32_t pfn)
{
	return a->lockfree ? lf_split(&a->p, pfn) : buddy_split(&a->z, pfn);
}

static bool either_used(struct either *a, uint32_t pfn)
{
	return a->lockfree ? lf_frame_used(&a->p, pfn) : !frame_is_free(&a->z, pfn);
}

/* What the allocator's state is, to see that a refused call changed
 * nothing: a hash over every frame's use and the free blocks per order. */
static uint64_t either_state(struct either *a)
{
	uint64_t h = 0xcbf29ce484222325ULL, nr_free[NR_ORDERS];

	for (uint32_t pfn = 0; pfn < FRAMES; pfn++)
		h = (h ^ either_used(a, pfn)) * 0x100000001b3ULL;
	if (a->lockfree)
		lf_nr_free(&a->p, nr_free);
	else
		buddy_nr_free(&a->z, nr_free);
	for (unsigned int o = 0; o < NR_ORDERS; o++)
		h = (h ^ nr_free[o]) * 0x100000001b3ULL;
	return h;
}

/* What a test holds in either allocator: a frame, a chunk, a pair. */
struct handles {
	uint32_t frame, chunk, pair, never;
};

static void either_setup(struct either *a, bool lockfree, struct handles *h)
{
	uint32_t spare;

	memset(a, 0, sizeof(*a));
	a->lockfree = lockfree;
	if (lockfree) {
		ck_assert_int_eq(lf_init(&a->p, FRAMES), 0);
		lf_local_init(&a->l);
	} else {
		ck_assert_int_eq(buddy_init(&a->z, FRAMES), 0);
	}
	ck_assert_int_eq(either_alloc(a, 10, MIGRATE_MOVABLE, &h->pair), 0);
	ck_assert_int_eq(either_alloc(a, 9, MIGRATE_MOVABLE, &h->chunk), 0);
	/* a frame not at the start of its chunk, and freed once already */
	ck_assert_int_eq(either_alloc(a, 0, MIGRATE_MOVABLE, &spare), 0);
	ck_assert_int_eq(either_alloc(a, 0, MIGRATE_MOVABLE, &h->frame), 0);
	ck_assert_int_eq(either_alloc(a, 0, MIGRATE_MOVABLE, &h->never), 0);
	ck_assert_int_eq(either_free(a, h->never, 0), 0);
}

static void either_destroy(struct either *a)
{
	if (a->lockfree) {
		lf_local_release(&a->p, &a->l);
		lf_destroy(&a->p);
	} else {
		buddy_destroy(&a->z);
	}
}

static const struct bad_free {
	const char *what;
	int which;		/* 0 frame, 1 chunk, 2 pair, 3 never allocated, 4: pfn 0 + offset */
	uint32_t offset;
	unsigned int order;
	int err;
} bad_frees[] = {
	{ "double free", 3, 0, 0, -ENOENT },
	{ "a frame at order 9", 0, 0, 9, -EINVAL },		/* misaligned */
	{ "a frame at order 11", 0, 0, 11, -EINVAL },
	{ "a chunk's frame alone", 1, 0, 0, -EINVAL },
	{ "a chunk's second frame", 1, 1, 0, -EINVAL },
	{ "a chunk at order 10", 1, 0, 10, -EINVAL },
	{ "a chunk at order 9 plus one", 1, 1, 9, -EINVAL },
	{ "a pair at order 9", 2, 0, 9, -EINVAL },
	{ "a pair's second half at order 9", 2, LF_CHUNK_FRAMES, 9, -EINVAL },
	{ "a pair's second half's frame", 2, LF_CHUNK_FRAMES + 3, 0, -EINVAL },
	{ "past the pool", 4, FRAMES, 0, -ERANGE },
	{ "a pair running past the pool", 4, FRAMES - 1024 + 512, 10, -ERANGE },
	{ "far past the pool", 4, UINT32_MAX, 0, -ERANGE },
	{ "a free frame at order 3", 4, FRAMES - 8, 3, -ENOENT },
	{ "a pair at order 1", 2, 0, 1, -EINVAL },
	{ "a frame at order 3", 0, 0, 3, -EINVAL },
};

START_TEST(test_bad_free_as_buddy)
{
	const struct bad_free *b = &bad_frees[_i];

	for (int lockfree = 0; lockfree < 2; lockfree++) {
		struct either a;
		struct handles h;
		uint32_t base[] = { 0, 0, 0, 0, 0 };
		uint64_t before;

		either_setup(&a, lockfree, &h);
		base[0] = h.frame;
		base[1] = h.chunk;
		base[2] = h.pair;
		base[3] = h.never;
		before = either_state(&a);
		ck_assert_msg(either_free(&a, base[b->which] + b->offset, b->order) == b->err,
			      "%s: %s answers %d, want %d", b->what, lockfree ? "lock-free" : "buddy",
			      either_free(&a, base[b->which] + b->offset, b->order), b->err);
		ck_assert_msg(either_state(&a) == before, "%s changed the %s allocator", b->what,
			      lockfree ? "lock-free" : "buddy");
		/* and what was held is still freed whole */
		ck_assert_int_eq(either_free(&a, h.frame, 0), 0);
		ck_assert_int_eq(either_free(&a, h.chunk, 9), 0);
		ck_assert_int_eq(either_free(&a, h.pair, 10), 0);
		either_destroy(&a);
	}
}
END_TEST

START_TEST(test_bad_alloc_as_buddy)
{
	for (int lockfree = 0; lockfree < 2; lockfree++) {
		struct either a;
		struct handles h;
		uint64_t before;
		uint32_t pfn = 77;

		either_setup(&a, lockfree, &h);
		before = either_state(&a);
		ck_assert_int_eq(either_alloc(&a, 11, MIGRATE_MOVABLE, &pfn), -EINVAL);
		ck_assert_int_eq(either_alloc(&a, 0, MIGRATE_ISOLATE, &pfn), -EINVAL);
		ck_assert_int_eq(either_alloc(&a, 0, MIGRATE_TYPES, &pfn), -EINVAL);
		ck_assert_uint_eq(pfn, 77);
		ck_assert(either_state(&a) == before);
		either_destroy(&a);
	}
}
END_TEST

/* split_page(): what buddy_split() answers, and a split block's frames
 * then freed one by one, each exactly once. */
START_TEST(test_split_as_buddy)
{
	for (int lockfree = 0; lockfree < 2; lockfree++) {
		const char *who = lockfree ? "lock-free" : "buddy";
		struct either a;
		struct handles h;
		uint64_t before;

		either_setup(&a, lockfree, &h);
		before = either_state(&a);
		ck_assert_msg(either_split(&a, h.never) == -ENOENT, "%s: split of a free frame", who);
		ck_assert_msg(either_split(&a, h.chunk + 1) == -EINVAL, "%s: split inside a chunk", who);
		ck_assert_msg(either_split(&a, h.pair + LF_CHUNK_FRAMES) == -EINVAL, "%s: split of a "
			      "pair's second half", who);
		ck_assert_msg(either_split(&a, FRAMES) == -ERANGE, "%s: split past the pool", who);
		ck_assert_msg(either_state(&a) == before, "%s: a refused split changed it", who);
		ck_assert_int_eq(either_split(&a, h.frame), 0);
		ck_assert_int_eq(either_split(&a, h.chunk), 0);
		ck_assert_int_eq(either_split(&a, h.pair), 0);
		/* the blocks' frames are single allocations now */
		ck_assert_int_eq(either_free(&a, h.chunk, 9), -EINVAL);
		ck_assert_int_eq(either_free(&a, h.pair, 10), -EINVAL);
		for (uint32_t i = 0; i < LF_CHUNK_FRAMES; i++)
			if (either_free(&a, h.chunk + i, 0))
				ck_abort_msg("%s: frame %u of a split chunk", who, i);
		for (uint32_t i = 0; i < 2 * LF_CHUNK_FRAMES; i++)
			if (either_free(&a, h.pair + i, 0))
				ck_abort_msg("%s: frame %u of a split pair", who, i);
		ck_assert_int_eq(either_free(&a, h.pair + 700, 0), -ENOENT);
		ck_assert_int_eq(either_free(&a, h.frame, 0), 0);
		if (lockfree)
			assert_consistent(&a.p);
		either_destroy(&a);
	}
}
END_TEST

/* The lock-free allocator's own limit: orders 1 to 8 are not allocated;
 * a free at one of them is a block never allocated at that order, as the
 * buddy says: -ENOENT for a free frame, -EINVAL for a used one. */
START_TEST(test_small_orders_refused)
{
	struct lf_local l;
	struct lf_pool p;
	uint32_t pfn;

	ck_assert_int_eq(lf_init(&p, FRAMES), 0);
	lf_local_init(&l);
	ck_assert_int_eq(lf_alloc(&p, &l, 9, MIGRATE_MOVABLE, &pfn), 0);
	for (unsigned int o = 1; o < 9; o++) {
		ck_assert_int_eq(lf_alloc(&p, &l, o, MIGRATE_MOVABLE, &pfn), -EINVAL);
		ck_assert_int_eq(lf_free(&p, pfn, o), -EINVAL);
		ck_assert_int_eq(lf_free(&p, FRAMES - LF_CHUNK_FRAMES, o), -ENOENT);
	}
	ck_assert_uint_eq(lf_free_frames(&p), FRAMES - LF_CHUNK_FRAMES);
	ck_assert_int_eq(lf_free(&p, pfn, 9), 0);
	lf_destroy(&p);
}
END_TEST

/* Outside the pool: no access, a clear answer. */
START_TEST(test_out_of_pool)
{
	struct lf_pool p;

	ck_assert_int_eq(lf_init(&p, FRAMES), 0);
	ck_assert(!lf_isolate_chunk(&p, 70));
	lf_unisolate_chunk(&p, UINT32_MAX);
	ck_assert(!lf_frame_used(&p, FRAMES));
	ck_assert_int_eq(lf_chunk_kind(&p, 70), LF_KIND_NONE);
	ck_assert_int_eq(lf_alloc_at(&p, FRAMES, MIGRATE_MOVABLE), -ERANGE);
	ck_assert_int_eq(lf_alloc_at(&p, 5, MIGRATE_ISOLATE), -EINVAL);
	ck_assert_int_eq(lf_alloc_at(&p, 5, MIGRATE_MOVABLE), 0);
	/* taken already: refused, and the chunk as it was (count and kind) */
	ck_assert_int_eq(lf_alloc_at(&p, 5, MIGRATE_UNMOVABLE), -EBUSY);
	ck_assert_int_eq(lf_chunk_kind(&p, 0), LF_KIND_MOVABLE);
	ck_assert_uint_eq(lf_entry_free(lf_chunk_entry(&p, 0)), LF_CHUNK_FRAMES - 1);
	assert_consistent(&p);
	lf_destroy(&p);
}
END_TEST

/* Movable and unmovable frames never share a chunk while a wholly free
 * chunk is left; after that, a frame is stolen from the other kind's
 * chunks rather than refused. */
START_TEST(test_kinds_apart)
{
	static uint32_t held[FRAMES / LF_CHUNK_FRAMES][2];	/* frames per chunk and kind */
	struct lf_local l[2];
	struct lf_pool p;
	uint32_t n = 0, pfn;
	bool mixed = false;
	unsigned int seed = 7;

	memset(held, 0, sizeof(held));
	ck_assert_int_eq(lf_init(&p, FRAMES), 0);
	lf_local_init(&l[0]);
	lf_local_init(&l[1]);
	for (;;) {
		unsigned int movable = rand_r(&seed) % 3 != 0;
		uint64_t free_chunks = lf_free_chunks(&p);
		uint32_t c;

		if (lf_alloc(&p, &l[n & 1], 0, movable ? MIGRATE_MOVABLE : MIGRATE_UNMOVABLE, &pfn))
			break;
		n++;
		c = pfn / LF_CHUNK_FRAMES;
		held[c][movable]++;
		if (held[c][!movable]) {
			ck_assert_msg(!free_chunks, "frame %u (movable %u) put beside the other kind's in "
				      "chunk %u with %lu free chunks left", pfn, movable, c,
				      (unsigned long)free_chunks);
			mixed = true;
		}
	}
	ck_assert_uint_eq(n, FRAMES);
	ck_assert_msg(mixed, "a full pool of both kinds without a chunk holding both");
	assert_consistent(&p);
	lf_destroy(&p);
}
END_TEST

/* ---- threads ---- */

#define THREADS		4
#define OPS_PER_THREAD	250000
#define HOLD_MAX	(FRAMES / THREADS)

struct race {
	struct lf_pool p;
	_Atomic uint8_t owner[FRAMES];	/* 0, or the thread holding the frame + 1 */
	_Atomic uint64_t twice, enomem;
};

struct racer {
	struct race *r;
	unsigned int id;
	struct held held[HOLD_MAX];
	unsigned int nr;
};

static void own(struct racer *t, uint32_t pfn, unsigned int order)
{
	for (uint32_t i = 0; i < 1U << order; i++) {
		uint8_t none = 0;

		if (!atomic_compare_exchange_strong(&t->r->owner[pfn + i], &none, (uint8_t)(t->id + 1)))
			atomic_fetch_add(&t->r->twice, 1);
	}
}

static void disown(struct racer *t, uint32_t pfn, unsigned int order)
{
	for (uint32_t i = 0; i < 1U << order; i++)
		atomic_store(&t->r->owner[pfn + i], 0);
}

static void *race_thread(void *arg)
{
	struct racer *t = arg;
	unsigned int seed = 99 + t->id;
	struct lf_local l;

	lf_local_init(&l);
	for (int op = 0; op < OPS_PER_THREAD; op++) {
		unsigned int r = (unsigned int)rand_r(&seed) % 100;

		if (t->nr < HOLD_MAX && (r < 55 || !t->nr)) {
			unsigned int order = r < 50 ? 0 : r < 53 ? 9 : 10;
			uint32_t pfn;
			int err = lf_alloc(&t->r->p, &l, order, r & 1 ? MIGRATE_MOVABLE : MIGRATE_UNMOVABLE,
					   &pfn);

			if (err) {
				atomic_fetch_add(&t->r->enomem, err == -ENOMEM);
				continue;
			}
			own(t, pfn, order);
			t->held[t->nr++] = (struct held){ pfn, order };
		} else {
			unsigned int i = (unsigned int)rand_r(&seed) % t->nr;

			/* given up before it is freed: another thread may have it at once */
			disown(t, t->held[i].pfn, t->held[i].order);
			if (lf_free(&t->r->p, t->held[i].pfn, t->held[i].order))
				atomic_fetch_add(&t->r->twice, 1);
			t->held[i] = t->held[--t->nr];
		}
	}
	lf_local_release(&t->r->p, &l);
	return NULL;
}

/* 10^6 operations over four threads on a pool small enough to run out:
 * no frame is owned by two threads at once, every free of a held block
 * succeeds, and once all is given back every frame is free again and
 * every counter matches the bits. */
START_TEST(test_threads_no_frame_twice)
{
	static struct racer t[THREADS];
	pthread_t tid[THREADS];
	struct race *r = calloc(1, sizeof(*r));
	uint64_t held = 0;

	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(lf_init(&r->p, FRAMES), 0);
	for (unsigned int i = 0; i < THREADS; i++) {
		t[i] = (struct racer){ .r = r, .id = i };
		ck_assert_int_eq(pthread_create(&tid[i], NULL, race_thread, &t[i]), 0);
	}
	for (unsigned int i = 0; i < THREADS; i++)
		pthread_join(tid[i], NULL);
	ck_assert_uint_eq(atomic_load(&r->twice), 0);
	for (unsigned int i = 0; i < THREADS; i++)
		for (unsigned int j = 0; j < t[i].nr; j++) {
			held += 1U << t[i].held[j].order;
			ck_assert(lf_frame_used(&r->p, t[i].held[j].pfn));
		}
	ck_assert_uint_eq(lf_free_frames(&r->p), FRAMES - held);
	assert_consistent(&r->p);
	for (unsigned int i = 0; i < THREADS; i++)
		while (t[i].nr--)
			ck_assert_int_eq(lf_free(&r->p, t[i].held[t[i].nr].pfn, t[i].held[t[i].nr].order), 0);
	ck_assert_uint_eq(lf_free_frames(&r->p), FRAMES);
	for (uint32_t pfn = 0; pfn < FRAMES; pfn++)
		if (lf_frame_used(&r->p, pfn))
			ck_abort_msg("frame %u still used", pfn);
	assert_consistent(&r->p);
	lf_destroy(&r->p);
	free(r);
}
END_TEST

/* One thread allocates and frees the only order-10 pair over and over;
 * another frees what was never allocated - the pair's halves at order 9,
 * frames in it at order 0 - between and during those steps. Not one of
 * those frees may succeed, and the pool must end whole. (An order-10 free
 * used to leave the head looking like an order-9 block for a moment: a
 * wrong-order free went through, after which frames were handed out
 * twice.) */
struct pair_race {
	struct lf_pool p;
	_Atomic bool stop;
	_Atomic uint64_t rounds;
};

static void *pair_owner(void *arg)
{
	struct pair_race *r = arg;
	struct lf_local l;
	uint32_t pfn;

	lf_local_init(&l);
	while (!atomic_load(&r->stop))
		if (!lf_alloc(&r->p, &l, 10, MIGRATE_MOVABLE, &pfn)) {
			ck_assert_int_eq(lf_free(&r->p, pfn, 10), 0);
			atomic_fetch_add(&r->rounds, 1);
		}
	lf_local_release(&r->p, &l);
	return NULL;
}

START_TEST(test_pair_strangers_refused)
{
	struct pair_race *r = calloc(1, sizeof(*r));
	unsigned int accepted = 0;
	pthread_t owner;

	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(lf_init(&r->p, 2 * LF_CHUNK_FRAMES), 0);
	ck_assert_int_eq(pthread_create(&owner, NULL, pair_owner, r), 0);
	for (int i = 0; i < 300000 || atomic_load(&r->rounds) < 50000; i++) {
		accepted += !lf_free(&r->p, 0, 9);
		accepted += !lf_free(&r->p, LF_CHUNK_FRAMES, 9);
		accepted += !lf_free(&r->p, 3, 0);
	}
	atomic_store(&r->stop, true);
	pthread_join(owner, NULL);
	ck_assert_msg(!accepted, "%u frees of a pair nobody else held succeeded", accepted);
	ck_assert_uint_eq(lf_free_frames(&r->p), 2 * LF_CHUNK_FRAMES);
	assert_consistent(&r->p);
	lf_destroy(&r->p);
	free(r);
}
END_TEST

/* A pair's head while it is built or freed (busy): every call refuses it
 * and leaves it alone - frees at any order, allocations of any order,
 * isolation - so the one call working on the pair finishes it alone. */
START_TEST(test_pair_busy_untouchable)
{
	struct lf_local l;
	struct lf_pool p;
	uint32_t e, pfn;

	ck_assert_int_eq(lf_init(&p, 2 * LF_CHUNK_FRAMES), 0);
	lf_local_init(&l);
	/* as take_pair() leaves the head between its two steps */
	e = LF_CHUNK_HUGE | LF_CHUNK_PAIR_BUSY | (uint32_t)LF_KIND_MOVABLE << LF_CHUNK_KIND_SHIFT;
	atomic_store(&p.chunks[0], e);
	ck_assert_int_eq(lf_free(&p, 0, 10), -ENOENT);
	ck_assert_int_eq(lf_free(&p, 0, 9), -EINVAL);
	ck_assert_int_eq(lf_free(&p, 5, 0), -EINVAL);
	ck_assert_int_eq(lf_alloc(&p, &l, 10, MIGRATE_MOVABLE, &pfn), -ENOMEM);
	ck_assert(!lf_isolate_chunk(&p, 0));
	ck_assert_int_eq(lf_alloc_at(&p, 7, MIGRATE_MOVABLE), -EBUSY);
	ck_assert_uint_eq(atomic_load(&p.chunks[0]), e);
	/* the other chunk is still there for order 9 and 0 */
	ck_assert_int_eq(lf_alloc(&p, &l, 9, MIGRATE_MOVABLE, &pfn), 0);
	ck_assert_uint_eq(pfn, LF_CHUNK_FRAMES);
	ck_assert_int_eq(lf_alloc(&p, &l, 0, MIGRATE_MOVABLE, &pfn), -ENOMEM);
	ck_assert_uint_eq(atomic_load(&p.chunks[0]), e);
	lf_destroy(&p);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("lockfree");
	TCase *tc = tcase_create("lockfree");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_init);
	tcase_add_loop_test(tc, test_against_model, 0, 3);
	tcase_add_test(tc, test_fill_each_order);
	tcase_add_loop_test(tc, test_bad_free_as_buddy, 0, sizeof(bad_frees) / sizeof(bad_frees[0]));
	tcase_add_test(tc, test_bad_alloc_as_buddy);
	tcase_add_test(tc, test_small_orders_refused);
	tcase_add_test(tc, test_out_of_pool);
	tcase_add_test(tc, test_split_as_buddy);
	tcase_add_test(tc, test_pair_strangers_refused);
	tcase_add_test(tc, test_pair_busy_untouchable);
	tcase_add_test(tc, test_kinds_apart);
	tcase_add_test(tc, test_threads_no_frame_twice);
	suite_add_tcase(s, tc);
	return check_run(s);
}
