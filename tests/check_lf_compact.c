/* Compaction on the lock-free allocator (mm/lf_compact.c): the frames a
 * fake guest owns keep their contents and owners through the moves, the
 * two scanners and min-move clear the chunks they must (min-move with
 * exactly the lower bound of moves), pinned frames and unmovable chunks
 * stay where they are, and compaction runs while threads allocate and
 * free with no frame owned twice or lost. */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mm/lf_compact.h"
#include "tests/check_run.h"

#define NONE		UINT32_MAX
#define MAX_FRAMES	(70 * LF_CHUNK_FRAMES)

/* A guest as compaction sees it: who owns each frame, what each holds. */
struct guest {
	struct lf_pool p;
	struct lf_local l;
	uint32_t nr_gfns;
	uint32_t pfn_of[MAX_FRAMES];
	uint32_t gfn_of[MAX_FRAMES];
	uint64_t content[MAX_FRAMES];
	bool pinned[MAX_FRAMES];
};

static uint64_t tag(uint32_t gfn)
{
	return (gfn + 1) * 0x9e3779b97f4a7c15ULL;
}

static int guest_migrate(void *arg, uint32_t src, uint32_t dst)
{
	struct guest *g = arg;
	uint32_t gfn = g->gfn_of[src];

	if (gfn == NONE)
		return -ENOENT;
	if (g->pinned[src])
		return -EBUSY;
	g->content[dst] = g->content[src];
	g->content[src] = 0;
	g->gfn_of[dst] = gfn;
	g->gfn_of[src] = NONE;
	g->pfn_of[gfn] = dst;
	return 0;
}

/* Every frame of chunks [0, chunks) as a movable guest frame. */
static struct guest *guest_new(uint32_t chunks)
{
	struct guest *g = calloc(1, sizeof(*g));
	uint32_t pfn;

	ck_assert_ptr_nonnull(g);
	ck_assert_int_eq(lf_init(&g->p, chunks * LF_CHUNK_FRAMES), 0);
	lf_local_init(&g->l);
	for (uint32_t i = 0; i < MAX_FRAMES; i++)
		g->gfn_of[i] = g->pfn_of[i] = NONE;
	while (!lf_alloc(&g->p, &g->l, 0, MIGRATE_MOVABLE, &pfn)) {
		g->pfn_of[g->nr_gfns] = pfn;
		g->gfn_of[pfn] = g->nr_gfns;
		g->content[pfn] = tag(g->nr_gfns);
		g->nr_gfns++;
	}
	ck_assert_uint_eq(g->nr_gfns, chunks * LF_CHUNK_FRAMES);
	return g;
}

static void guest_discard(struct guest *g, uint32_t gfn)
{
	uint32_t pfn = g->pfn_of[gfn];

	ck_assert_int_eq(lf_free(&g->p, pfn, 0), 0);
	g->gfn_of[pfn] = NONE;
	g->content[pfn] = 0;
	g->pfn_of[gfn] = NONE;
}

/* Every live guest frame where its owner thinks, holding what it wrote;
 * no frame used that nobody owns. */
static void guest_verify(struct guest *g)
{
	uint64_t live = 0;
	char msg[256];

	ck_assert_msg(!lf_check(&g->p, msg, sizeof(msg)), "lf_check: %s", msg);
	for (uint32_t gfn = 0; gfn < g->nr_gfns; gfn++) {
		uint32_t pfn = g->pfn_of[gfn];

		if (pfn == NONE)
			continue;
		live++;
		/* (no assertion a frame: Check logs every one it passes) */
		if (!lf_frame_used(&g->p, pfn) || g->gfn_of[pfn] != gfn)
			ck_abort_msg("gfn %u's frame %u is free or another's", gfn, pfn);
		if (g->content[pfn] != tag(gfn))
			ck_abort_msg("gfn %u lost its contents at %u", gfn, pfn);
	}
	ck_assert_uint_eq(lf_free_frames(&g->p), g->p.nr_frames - live);
}

static void guest_free(struct guest *g)
{
	lf_local_release(&g->p, &g->l);
	lf_destroy(&g->p);
	free(g);
}

/* 8 chunks, every other frame given back: 4 chunks' worth free. */
static struct guest *half_used(void)
{
	struct guest *g = guest_new(8);

	for (uint32_t pfn = 1; pfn < 8 * LF_CHUNK_FRAMES; pfn += 2)
		guest_discard(g, g->gfn_of[pfn]);
	ck_assert_uint_eq(lf_free_chunks(&g->p), 0);
	return g;
}

START_TEST(test_scanners_half_used)
{
	struct guest *g = half_used();
	struct lf_compact_stats st;

	lf_compact_scanners(&g->p, guest_migrate, g, &st);
	/* chunks 0-3 into the holes of 7, 6, 5, 4: where the scanners meet */
	ck_assert_uint_eq(st.moved, 4 * 256);
	ck_assert_uint_eq(st.failed, 0);
	ck_assert_uint_eq(st.free_failed, 0);
	ck_assert_uint_eq(st.free_chunks_before, 0);
	ck_assert_uint_eq(st.free_chunks_after, 4);
	for (uint32_t c = 0; c < 4; c++)
		ck_assert_uint_eq(lf_entry_free(lf_chunk_entry(&g->p, c)), LF_CHUNK_FRAMES);
	guest_verify(g);
	guest_free(g);
}
END_TEST

START_TEST(test_minmove_half_used)
{
	struct guest *g = half_used();
	struct lf_compact_stats st;

	ck_assert_uint_eq(lf_compact_lower_bound(&g->p, 4), 4 * 256);
	ck_assert_uint_eq(lf_compact_lower_bound(&g->p, 8), 8 * 256);
	ck_assert_uint_eq(lf_compact_lower_bound(&g->p, 9), UINT64_MAX);
	lf_compact_minmove(&g->p, UINT64_MAX, guest_migrate, g, &st);
	ck_assert_uint_eq(st.moved, 4 * 256);
	ck_assert_uint_eq(st.failed, 0);
	ck_assert_uint_eq(st.free_failed, 0);
	ck_assert_uint_eq(st.free_chunks_after, 4);
	guest_verify(g);
	/* a target already met moves nothing */
	lf_compact_minmove(&g->p, 3, guest_migrate, g, &st);
	ck_assert_uint_eq(st.moved, 0);
	ck_assert_uint_eq(st.free_chunks_after, 4);
	guest_free(g);
}
END_TEST

/* A pinned frame stays, and its chunk is not cleared; a target below the
 * most stops early. */
START_TEST(test_minmove_pinned_and_target)
{
	struct guest *g = half_used();
	struct lf_compact_stats st;

	g->pinned[0] = true;
	lf_compact_minmove(&g->p, 2, guest_migrate, g, &st);
	/* chunks 0 and 1 chosen: chunk 0's pinned frame fails */
	ck_assert_uint_eq(st.moved, 2 * 256 - 1);
	ck_assert_uint_eq(st.failed, 1);
	ck_assert_uint_eq(st.free_chunks_after, 1);
	ck_assert(lf_frame_used(&g->p, 0));
	ck_assert_uint_eq(g->gfn_of[0], 0);
	guest_verify(g);
	guest_free(g);
}
END_TEST

/* An unmovable chunk is neither a source nor a destination. */
START_TEST(test_unmovable_stays)
{
	struct guest *g = half_used();
	struct lf_compact_stats st;
	uint32_t pfn, unmovable[16];

	/* clear chunk 7 by hand, then put unmovable frames in it */
	for (uint32_t i = 0; i < LF_CHUNK_FRAMES; i += 2)
		guest_discard(g, g->gfn_of[7 * LF_CHUNK_FRAMES + i]);
	for (int i = 0; i < 16; i++) {
		ck_assert_int_eq(lf_alloc(&g->p, &g->l, 0, MIGRATE_UNMOVABLE, &pfn), 0);
		ck_assert_uint_eq(pfn / LF_CHUNK_FRAMES, 7);
		unmovable[i] = pfn;
		g->pfn_of[g->nr_gfns] = pfn;
		g->gfn_of[pfn] = g->nr_gfns;
		g->content[pfn] = tag(g->nr_gfns);
		g->nr_gfns++;
	}
	lf_compact_scanners(&g->p, guest_migrate, g, &st);
	guest_verify(g);
	lf_compact_minmove(&g->p, UINT64_MAX, guest_migrate, g, &st);
	guest_verify(g);
	for (int i = 0; i < 16; i++)
		ck_assert_uint_eq(g->pfn_of[8 * LF_CHUNK_FRAMES + (uint32_t)i], unmovable[i]);
	ck_assert_uint_eq(LF_CHUNK_FRAMES - lf_entry_free(lf_chunk_entry(&g->p, 7)), 16);
	ck_assert_uint_eq(lf_entry_kind(lf_chunk_entry(&g->p, 7)), LF_KIND_UNMOVABLE);
	guest_free(g);
}
END_TEST

/* A randomly fragmented pool: min-move's moves equal the lower bound for
 * the chunks it cleared; the scanners keep every frame and clear some. */
START_TEST(test_random_pool)
{
	static uint64_t bound[71];
	unsigned int seed = 5 + (unsigned int)_i;
	struct lf_compact_stats st;
	struct guest *g = guest_new(70);

	for (uint32_t gfn = 0; gfn < g->nr_gfns; gfn++)
		if ((unsigned int)rand_r(&seed) % 100 < 40)
			guest_discard(g, gfn);
	if (_i == 0) {
		for (uint64_t k = 0; k <= 70; k++)
			bound[k] = lf_compact_lower_bound(&g->p, k);
		lf_compact_minmove(&g->p, UINT64_MAX, guest_migrate, g, &st);
		ck_assert_uint_eq(st.failed, 0);
	ck_assert_uint_eq(st.free_failed, 0);
		ck_assert_uint_gt(st.free_chunks_after, st.free_chunks_before);
		ck_assert_uint_eq(st.moved, bound[st.free_chunks_after]);
		/* all movable: as many chunks as the free frames make */
		ck_assert_uint_eq(st.free_chunks_after, lf_free_frames(&g->p) / LF_CHUNK_FRAMES);
	} else {
		lf_compact_scanners(&g->p, guest_migrate, g, &st);
		ck_assert_uint_eq(st.failed, 0);
	ck_assert_uint_eq(st.free_failed, 0);
		ck_assert_uint_gt(st.free_chunks_after, st.free_chunks_before);
	}
	guest_verify(g);
	guest_free(g);
}
END_TEST

/* ---- compaction while threads allocate and free ---- */

#define OWNERS		2
#define OPS		500000	/* per owner: 10^6 in all */
#define GFNS_EACH	(MAX_FRAMES * 3 / 4 / OWNERS)

/* A guest frame's mapping: the frame in the low half, a generation in the
 * high half (so a move that raced a free and a new allocation at the same
 * frame is seen as stale). */
struct shared {
	struct lf_pool p;
	_Atomic uint64_t slot[OWNERS * GFNS_EACH];
	_Atomic uint32_t gfn_of[MAX_FRAMES];
	_Atomic uint64_t content[MAX_FRAMES];
	_Atomic uint8_t owned[MAX_FRAMES];
	_Atomic uint64_t twice, lost, moves;
	_Atomic bool done;
};

static uint64_t slot_make(uint32_t pfn, uint32_t gen)
{
	return (uint64_t)gen << 32 | pfn;
}

static uint64_t content_of(uint32_t gfn, uint32_t gen)
{
	return tag(gfn) ^ gen;
}

static void take(struct shared *s, uint32_t pfn)
{
	uint8_t no = 0;

	if (!atomic_compare_exchange_strong(&s->owned[pfn], &no, 1))
		atomic_fetch_add(&s->twice, 1);
}

/* The compactor's move: copy, then switch the mapping if it still names
 * src at the same generation. */
static int shared_migrate(void *arg, uint32_t src, uint32_t dst)
{
	struct shared *s = arg;
	uint32_t gfn = atomic_load(&s->gfn_of[src]);
	uint64_t was;

	take(s, dst);
	if (gfn == NONE)
		goto fail;
	was = atomic_load(&s->slot[gfn]);
	if ((uint32_t)was != src)
		goto fail;
	atomic_store(&s->content[dst], atomic_load(&s->content[src]));
	atomic_store(&s->gfn_of[dst], gfn);
	if (!atomic_compare_exchange_strong(&s->slot[gfn], &was, slot_make(dst, (uint32_t)(was >> 32)))) {
		atomic_store(&s->gfn_of[dst], NONE);
		goto fail;
	}
	/* src is freed by the compactor once this returns */
	atomic_store(&s->gfn_of[src], NONE);
	atomic_store(&s->owned[src], 0);
	atomic_fetch_add(&s->moves, 1);
	return 0;
fail:
	atomic_store(&s->owned[dst], 0);
	return -ENOENT;
}

struct owner {
	struct shared *s;
	unsigned int id;
};

static void *owner_thread(void *arg)
{
	struct owner *o = arg;
	struct shared *s = o->s;
	uint32_t first = o->id * GFNS_EACH, gen = 0;
	unsigned int seed = 31 + o->id;
	struct lf_local l;

	lf_local_init(&l);
	for (int op = 0; op < OPS; op++) {
		uint32_t gfn = first + (uint32_t)rand_r(&seed) % GFNS_EACH, pfn;
		uint64_t was = atomic_load(&s->slot[gfn]);

		if ((uint32_t)was == NONE) {
			if (lf_alloc(&s->p, &l, 0, MIGRATE_MOVABLE, &pfn))
				continue;
			take(s, pfn);
			gen++;
			atomic_store(&s->content[pfn], content_of(gfn, gen));
			atomic_store(&s->gfn_of[pfn], gfn);
			atomic_store(&s->slot[gfn], slot_make(pfn, gen));
		} else {
			/* wherever the compactor has put it meanwhile */
			was = atomic_exchange(&s->slot[gfn], slot_make(NONE, 0));
			pfn = (uint32_t)was;
			if (atomic_load(&s->content[pfn]) != content_of(gfn, (uint32_t)(was >> 32)))
				atomic_fetch_add(&s->lost, 1);
			atomic_store(&s->gfn_of[pfn], NONE);
			atomic_store(&s->owned[pfn], 0);
			if (lf_free(&s->p, pfn, 0))
				atomic_fetch_add(&s->twice, 1);
		}
	}
	lf_local_release(&s->p, &l);
	return NULL;
}

static void *compactor_thread(void *arg)
{
	struct shared *s = arg;
	struct lf_compact_stats st;

	for (unsigned int i = 0; !atomic_load(&s->done); i++) {
		if (i & 1)
			lf_compact_minmove(&s->p, UINT64_MAX, shared_migrate, s, &st);
		else
			lf_compact_scanners(&s->p, shared_migrate, s, &st);
	}
	return NULL;
}

START_TEST(test_compaction_while_allocating)
{
	struct shared *s = calloc(1, sizeof(*s));
	pthread_t owners[OWNERS], compactor;
	struct owner o[OWNERS];
	uint64_t live = 0, twice, lost, moves;
	char msg[256];

	ck_assert_ptr_nonnull(s);
	ck_assert_int_eq(lf_init(&s->p, MAX_FRAMES), 0);
	for (uint32_t i = 0; i < OWNERS * GFNS_EACH; i++)
		atomic_init(&s->slot[i], slot_make(NONE, 0));
	for (uint32_t i = 0; i < MAX_FRAMES; i++)
		atomic_init(&s->gfn_of[i], NONE);
	ck_assert_int_eq(pthread_create(&compactor, NULL, compactor_thread, s), 0);
	for (unsigned int i = 0; i < OWNERS; i++) {
		o[i] = (struct owner){ s, i };
		ck_assert_int_eq(pthread_create(&owners[i], NULL, owner_thread, &o[i]), 0);
	}
	for (unsigned int i = 0; i < OWNERS; i++)
		pthread_join(owners[i], NULL);
	atomic_store(&s->done, true);
	pthread_join(compactor, NULL);
	twice = atomic_load(&s->twice);
	lost = atomic_load(&s->lost);
	moves = atomic_load(&s->moves);
	printf("compaction while allocating: %lu frames moved under %d owners' %d operations\n",
	       (unsigned long)moves, OWNERS, OWNERS * OPS);
	ck_assert_msg(!twice, "%lu frames owned twice (or a free refused)", (unsigned long)twice);
	ck_assert_msg(!lost, "%lu frames lost their contents", (unsigned long)lost);
	ck_assert_uint_gt(moves, 0);
	for (uint32_t gfn = 0; gfn < OWNERS * GFNS_EACH; gfn++) {
		uint64_t was = atomic_load(&s->slot[gfn]);
		uint32_t pfn = (uint32_t)was;

		if (pfn == NONE)
			continue;
		live++;
		if (!lf_frame_used(&s->p, pfn) || atomic_load(&s->gfn_of[pfn]) != gfn)
			ck_abort_msg("gfn %u's frame %u is free or another's", gfn, pfn);
		if (atomic_load(&s->content[pfn]) != content_of(gfn, (uint32_t)(was >> 32)))
			ck_abort_msg("gfn %u lost its contents at %u", gfn, pfn);
	}
	ck_assert_uint_eq(lf_free_frames(&s->p), MAX_FRAMES - live);
	ck_assert_msg(!lf_check(&s->p, msg, sizeof(msg)), "lf_check: %s", msg);
	lf_destroy(&s->p);
	free(s);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("lf_compact");
	TCase *tc = tcase_create("lf_compact");

	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, test_scanners_half_used);
	tcase_add_test(tc, test_minmove_half_used);
	tcase_add_test(tc, test_minmove_pinned_and_target);
	tcase_add_test(tc, test_unmovable_stays);
	tcase_add_loop_test(tc, test_random_pool, 0, 2);
	tcase_add_test(tc, test_compaction_while_allocating);
	suite_add_tcase(s, tc);
	return check_run(s);
}
