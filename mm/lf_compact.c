/* Compaction on the lock-free allocator's bitfields (see lf_compact.h).
 *
 * What carries over from mm/compaction.c and mm/minmove.c: the migrate
 * scanner from the bottom and the free scanner from the top meeting in the
 * middle, movable blocks only as sources and destinations; min-move's
 * cheapest-first choice and its lower bound. What changes: there is no
 * zone lock to hold or break and no free list to isolate from - the free
 * scanner's "isolation" of a free frame is the allocation itself (a
 * counter reservation and a bit set by CAS in a chunk it chose), a source
 * is found by reading a bit word, and a block being cleared is kept from
 * allocations by one flag in its chunk entry instead of a migratetype. */
#include <stdlib.h>
#include <string.h>

#include "lib/cmp.h"
#include "mm/clock.h"
#include "mm/lf_compact.h"

uint64_t lf_free_chunks(const struct lf_pool *p)
{
	uint64_t n = 0;

	for (uint32_t c = 0; c < p->nr_chunks; c++) {
		uint32_t e = lf_chunk_entry(p, c);

		n += !(e & LF_CHUNK_HUGE) && lf_entry_free(e) == LF_CHUNK_FRAMES;
	}
	return n;
}

/* Moves src to dst, which was allocated for it; gives back whichever frame
 * ends up unused. */
static void move_one(struct lf_pool *p, lf_migrate_fn migrate, void *arg, uint32_t src, uint32_t dst,
		     struct lf_compact_stats *st)
{
	if (migrate(arg, src, dst)) {
		lf_free(p, dst, 0);
		st->failed++;
		return;
	}
	if (lf_free(p, src, 0))
		st->free_failed++;
	st->moved++;
}

static void run_begin(const struct lf_pool *p, struct lf_compact_stats *st, uint64_t *t0)
{
	memset(st, 0, sizeof(*st));
	st->free_chunks_before = lf_free_chunks(p);
	*t0 = mono_ns();
}

static void run_end(const struct lf_pool *p, struct lf_compact_stats *st, uint64_t t0)
{
	st->ns = mono_ns() - t0;
	st->free_chunks_after = lf_free_chunks(p);
}

/* A chunk the migrate scanner takes frames from: movable, in use, not
 * allocated whole, not being cleared by min-move. */
static bool migrate_source(const struct lf_pool *p, uint32_t c)
{
	uint32_t e = lf_chunk_entry(p, c);

	return !(e & (LF_CHUNK_HUGE | LF_CHUNK_ISOLATED)) && lf_entry_kind(e) == LF_KIND_MOVABLE &&
	       lf_entry_free(e) < LF_CHUNK_FRAMES;
}

void lf_compact_scanners(struct lf_pool *p, lf_migrate_fn migrate, void *arg,
			 struct lf_compact_stats *st)
{
	uint32_t top = p->nr_chunks - 1;	/* the free scanner's chunk */
	uint64_t t0;

	run_begin(p, st, &t0);
	for (uint32_t c = 0; c < top; c++) {
		if (!migrate_source(p, c))
			continue;
		/* (looked at again per word: the chunk may be another kind's by now) */
		for (unsigned int w = 0; w < LF_WORDS_PER_CHUNK && c < top && migrate_source(p, c); w++) {
			uint64_t used = atomic_load_explicit(&p->bits[(size_t)c * LF_WORDS_PER_CHUNK + w],
							     memory_order_relaxed);

			while (used && c < top) {
				uint32_t src = c * LF_CHUNK_FRAMES + w * 64 + (uint32_t)__builtin_ctzll(used);
				uint32_t dst;

				used &= used - 1;
				st->scanned++;
				/* the free scanner moves down past chunks with nothing for it */
				while (top > c && lf_alloc_in_chunk(p, top, MIGRATE_MOVABLE, &dst))
					top--;
				if (top > c)
					move_one(p, migrate, arg, src, dst, st);
			}
		}
	}
	run_end(p, st, t0);
}

/* ---- min-move ---- */

struct chunk_cost {
	uint32_t chunk;
	uint32_t used;
};

static int cheapest_first(const void *a, const void *b)
{
	const struct chunk_cost *x = a, *y = b;

	return cmp_u64_then(x->used, y->used, x->chunk, y->chunk);
}

/* The movable chunks in use, cheapest first (into cost, nr_chunks long),
 * and how many chunks are wholly free. */
static uint32_t survey(const struct lf_pool *p, struct chunk_cost *cost, uint64_t *nr_free)
{
	uint32_t n = 0;

	*nr_free = 0;
	for (uint32_t c = 0; c < p->nr_chunks; c++) {
		uint32_t e = lf_chunk_entry(p, c);

		if (e & (LF_CHUNK_HUGE | LF_CHUNK_ISOLATED))
			continue;
		if (lf_entry_free(e) == LF_CHUNK_FRAMES)
			(*nr_free)++;
		else if (lf_entry_kind(e) == LF_KIND_MOVABLE)
			cost[n++] = (struct chunk_cost){ c, LF_CHUNK_FRAMES - lf_entry_free(e) };
	}
	qsort(cost, n, sizeof(*cost), cheapest_first);
	return n;
}

uint64_t lf_compact_lower_bound(const struct lf_pool *p, uint64_t k)
{
	struct chunk_cost *cost = malloc((size_t)p->nr_chunks * sizeof(*cost));
	uint64_t nr_free, moves = 0;
	uint32_t n;

	if (!cost)
		return UINT64_MAX;
	n = survey(p, cost, &nr_free);
	if (k > nr_free + n) {
		moves = UINT64_MAX;
	} else {
		for (uint64_t i = 0; i + nr_free < k; i++)
			moves += cost[i].used;
	}
	free(cost);
	return moves;
}

/* Moves every used frame of chunk src_chunk into the destinations,
 * fullest first (cost[*dst] down to cost[first_dst]). false when the
 * destinations ran out. */
static bool clear_chunk(struct lf_pool *p, uint32_t src_chunk, const struct chunk_cost *cost,
			uint32_t first_dst, uint32_t *dst_at, lf_migrate_fn migrate, void *arg,
			struct lf_compact_stats *st)
{
	for (unsigned int w = 0; w < LF_WORDS_PER_CHUNK; w++) {
		uint64_t used = atomic_load_explicit(&p->bits[(size_t)src_chunk * LF_WORDS_PER_CHUNK + w],
						     memory_order_relaxed);

		for (; used; used &= used - 1) {
			uint32_t src = src_chunk * LF_CHUNK_FRAMES + w * 64 + (uint32_t)__builtin_ctzll(used);
			uint32_t dst;

			st->scanned++;
			while (*dst_at >= first_dst &&
			       lf_alloc_in_chunk(p, cost[*dst_at].chunk, MIGRATE_MOVABLE, &dst)) {
				if (*dst_at == first_dst)
					return false;
				(*dst_at)--;
			}
			move_one(p, migrate, arg, src, dst, st);
		}
	}
	return true;
}

void lf_compact_minmove(struct lf_pool *p, uint64_t target, lf_migrate_fn migrate, void *arg,
			struct lf_compact_stats *st)
{
	struct chunk_cost *cost = malloc((size_t)p->nr_chunks * sizeof(*cost));
	uint64_t nr_free, moves = 0, holes = 0, t0;
	uint32_t n, k = 0, dst_at;

	run_begin(p, st, &t0);
	if (!cost)
		goto out;
	n = survey(p, cost, &nr_free);
	/* clear the cheapest k chunks while the rest's holes can take their
	 * frames: k grows from the cheapest, the holes shrink from the top */
	for (uint32_t i = 0; i < n; i++)
		holes += LF_CHUNK_FRAMES - cost[i].used;
	while (k < n && nr_free + k < target) {
		holes -= LF_CHUNK_FRAMES - cost[k].used;
		if (moves + cost[k].used > holes)
			break;
		moves += cost[k].used;
		k++;
	}
	dst_at = n - 1;
	for (uint32_t i = 0; i < k && dst_at >= k; i++) {
		bool done;

		if (!lf_isolate_chunk(p, cost[i].chunk))
			continue;	/* taken whole meanwhile */
		if (lf_entry_kind(lf_chunk_entry(p, cost[i].chunk)) != LF_KIND_MOVABLE) {
			/* emptied and claimed by another kind since the survey */
			lf_unisolate_chunk(p, cost[i].chunk);
			continue;
		}
		done = clear_chunk(p, cost[i].chunk, cost, k, &dst_at, migrate, arg, st);
		lf_unisolate_chunk(p, cost[i].chunk);
		if (!done)
			break;
	}
	free(cost);
out:
	run_end(p, st, t0);
}
