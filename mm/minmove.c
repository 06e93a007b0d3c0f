/* Min-move compaction: each frame in a cleared block moves exactly once,
 * and the cheapest blocks are cleared first, so the moves made equal the
 * lower bound whenever the destinations suffice. The blocks being cleared
 * are isolated (MIGRATE_ISOLATE) so nothing is allocated into them
 * meanwhile. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lib/cmp.h"
#include "mm/minmove.h"
#include "mm/pfn_ring.h"

struct block_cost {
	uint32_t pb;
	uint32_t used;
};

/* Used frames of one pageblock, and whether all of them can move. */
static uint32_t survey_block(const struct zone *z, uint32_t pb, bool *evacuable)
{
	uint32_t start = pb << z->pageblock_order, end = start + pageblock_nr_frames(z);
	uint32_t used = 0;

	*evacuable = true;
	for (uint32_t p = start; p < end;) {
		const struct frame *f = &z->frames[p];
		int free_order = zone_free_block_order(z, p);

		if (free_order >= 0) {
			p += 1U << free_order;
			continue;
		}
		if (f->state == FRAME_USED) {
			used++;
			if (!frame_is_movable(f))
				*evacuable = false;
		}
		p++;
	}
	return used;
}

static int cmp_cheapest(const void *a, const void *b)
{
	const struct block_cost *x = a, *y = b;

	return cmp_u64_then(x->used, y->used, x->pb, y->pb);
}

static int cmp_fullest(const void *a, const void *b)
{
	const struct block_cost *x = a, *y = b;

	return cmp_u64_then(y->used, x->used, x->pb, y->pb);
}

/* Splits the pool's pageblocks into free ones (counted), evacuable ones
 * (candidates, cheapest first) and the rest that have holes (fullest
 * first). Arrays are nr_pageblocks long; NULL ones are not filled. */
/* Leaves out the blocks isolated now: being cleared by this run (not
 * holes to fill), or by another one since the survey let the lock go. */
static uint32_t drop_isolated(const struct zone *z, struct block_cost *blocks, uint32_t n)
{
	uint32_t kept = 0;

	for (uint32_t i = 0; i < n; i++)
		if (pageblock_migratetype(z, blocks[i].pb << z->pageblock_order) != MIGRATE_ISOLATE)
			blocks[kept++] = blocks[i];
	return kept;
}

static uint64_t survey(const struct zone *z, struct block_cost *cand, uint32_t *ncand,
		       struct block_cost *holes, uint32_t *nholes, struct zone *relax)
{
	uint32_t pbn = pageblock_nr_frames(z);
	uint64_t nfree = 0;

	*ncand = 0;
	if (nholes)
		*nholes = 0;
	for (uint32_t pb = 0; pb < z->nr_pageblocks; pb++) {
		bool evacuable;
		uint32_t used;

		/* a walk of every frame: the lock given up every
		 * COMPACT_HOLD_NS, as the scanners do (what it found may
		 * change meanwhile; the moves check each frame again) */
		if (relax)
			zone_lock_relax(relax, COMPACT_HOLD_NS);
		/* another run's, until it ends (set_migratetype_isolate()
		 * refuses an isolated block too): neither to clear nor to fill */
		if (pageblock_migratetype(z, pb << z->pageblock_order) == MIGRATE_ISOLATE)
			continue;
		used = survey_block(z, pb, &evacuable);

		if (!used) {
			nfree++;
			continue;
		}
		if (evacuable) {
			cand[*ncand].pb = pb;
			cand[(*ncand)++].used = used;
		}
		if (holes && used < pbn) {
			holes[*nholes].pb = pb;
			holes[(*nholes)++].used = used;
		}
	}
	qsort(cand, *ncand, sizeof(*cand), cmp_cheapest);
	if (holes)
		qsort(holes, *nholes, sizeof(*holes), cmp_fullest);
	return nfree;
}

uint64_t compact_lower_bound(const struct zone *z, uint64_t k)
{
	struct block_cost *cand = malloc(z->nr_pageblocks * sizeof(*cand));
	uint64_t nfree, moves = 0;
	uint32_t ncand;

	if (!cand)
		return UINT64_MAX;
	nfree = survey(z, cand, &ncand, NULL, NULL, NULL);
	/* each cleared block's used frames need a hole outside the k blocks:
	 * that holds exactly when free frames cover k whole blocks */
	if (k > nfree + ncand || k * pageblock_nr_frames(z) > z->free_frames) {
		moves = UINT64_MAX;
	} else {
		for (uint64_t i = 0; i + nfree < k; i++)
			moves += cand[i].used;
	}
	free(cand);
	return moves;
}

/* Destinations: the free frames of the fullest blocks, in address order. */
struct holes {
	struct zone *z;
	const struct block_cost *blocks;
	uint32_t nblocks, next_block;
	uint32_t pos, end;		/* scan position in the current block */
	struct pfn_ring queue;		/* isolated frames not yet used */
	struct compact_stats *stats;
};

static uint32_t holes_take(void *arg)
{
	struct holes *h = arg;

	while (!h->queue.len) {
		int free_order;

		if (h->pos >= h->end) {
			if (h->next_block == h->nblocks)
				return PFN_NONE;
			h->pos = h->blocks[h->next_block++].pb << h->z->pageblock_order;
			h->end = h->pos + pageblock_nr_frames(h->z);
		}
		free_order = zone_free_block_order(h->z, h->pos);
		h->stats->free_scanned++;
		if (free_order >= (int)h->z->pageblock_order) {
			/* the guest emptied this block while the lock was
			 * given up: a free pageblock is what min-move makes,
			 * not a hole to fill (and more frames than the queue
			 * holds) */
			h->pos += 1U << free_order;
			h->stats->free_scanned += (1U << free_order) - 1;
		} else if (free_order >= 0 && zone_take_free(h->z, h->pos) >= 0) {
			uint32_t n = 1U << free_order;

			for (uint32_t i = 0; i < n; i++)
				pfn_ring_push(&h->queue, h->pos + i, false);
			h->stats->isolated += n;
			h->z->events[COMPACTISOLATED] += n;
			h->stats->free_scanned += n - 1;
			h->pos += n;
		} else {
			h->pos++;
		}
	}
	return pfn_ring_pop(&h->queue);
}

static void holes_give_back(void *arg, uint32_t pfn)
{
	struct holes *h = arg;

	pfn_ring_push(&h->queue, pfn, true);
}

/* Moves every movable frame of one isolated pageblock, batch by batch. */
static void evacuate_block(struct compactor *c, uint32_t pb, struct migration *batch,
			   const struct dst_source *dst, struct compact_stats *stats,
			   struct compact_run *run)
{
	struct zone *z = c->zone;
	uint32_t start = pb << z->pageblock_order, end = start + pageblock_nr_frames(z);
	unsigned int n = 0;

	for (uint32_t p = start; p < end; p++) {
		const struct frame *f = &z->frames[p];

		stats->migrate_scanned++;
		if (!frame_is_movable(f))
			continue;
		batch[n].src = p;
		batch[n++].gfn = f->use.gfn;
		stats->isolated++;
		z->events[COMPACTISOLATED]++;
		if (n == c->batch) {
			migrate_batch(c, batch, n, dst, stats);
			n = 0;
			run->work_done = stats->moved + stats->failed;
			compact_run_tick(c, run);
			zone_lock_break(z);
		}
	}
	if (n)
		migrate_batch(c, batch, n, dst, stats);
}

enum compact_result compact_minmove(struct compactor *c, uint64_t target,
				    struct compact_stats *stats)
{
	struct zone *z = c->zone;
	uint32_t nb = z->nr_pageblocks, pbn = pageblock_nr_frames(z), ncand, nholes, nsel = 0;
	struct block_cost *cand = malloc(nb * sizeof(*cand));
	struct block_cost *holes_blocks = malloc(nb * sizeof(*holes_blocks));
	struct migration *batch = calloc(c->batch, sizeof(*batch));
	uint8_t *old_type = malloc(nb);
	struct compact_stats local;
	struct holes h;
	struct dst_source dst = { holes_take, holes_give_back, &h };
	struct compact_run run;
	enum compact_result ret = COMPACT_SUCCESS;
	uint64_t nfree;

	if (!stats)
		stats = &local;
	memset(stats, 0, sizeof(*stats));
	memset(&h, 0, sizeof(h));
	/* half a pageblock of holes at most, and a batch given back */
	if (pfn_ring_init(&h.queue, pbn + c->batch) || !cand || !holes_blocks || !batch || !old_type) {
		ret = COMPACT_SKIPPED;
		goto out_free;
	}
	zone_lock(z);
	z->compacting++;
	compact_run_begin(c, &run, COMPACT_BY_COMMAND, true, -1, stats);
	nfree = survey(z, cand, &ncand, holes_blocks, &nholes, z);
	ncand = drop_isolated(z, cand, ncand);
	/* choose the cheapest blocks while holes outside them can take their frames */
	while (nfree + nsel < target && nsel < ncand &&
	       (nfree + nsel + 1) * pbn <= z->free_frames)
		nsel++;
	if (!nsel)
		goto out_unlock;
	for (uint32_t i = 0; i < nsel;) {
		old_type[cand[i].pb] = pageblock_migratetype(z, cand[i].pb << z->pageblock_order);
		if (zone_isolate_pageblock(z, cand[i].pb << z->pageblock_order)) {
			i++;
			continue;
		}
		/* refused (a lock-free chunk allocated whole): not ours to clear */
		memmove(&cand[i], &cand[i + 1], (nsel - i - 1) * sizeof(*cand));
		nsel--;
	}
	for (uint32_t i = 0; i < nsel; i++)
		run.work_total += cand[i].used;
	/* holes: blocks not being cleared, fullest first */
	h.z = z;
	h.stats = stats;
	h.blocks = holes_blocks;
	h.nblocks = drop_isolated(z, holes_blocks, nholes);
	for (uint32_t i = 0; i < nsel && !c->aborting; i++)
		evacuate_block(c, cand[i].pb, batch, &dst, stats, &run);
	while (h.queue.len)
		zone_free(z, pfn_ring_pop(&h.queue), 0);
	for (uint32_t i = 0; i < nsel; i++)
		zone_unisolate_pageblock(z, cand[i].pb << z->pageblock_order,
					  (enum migratetype)old_type[cand[i].pb]);
	z->events[COMPACTMIGRATE_SCANNED] += stats->migrate_scanned;
	z->events[COMPACTFREE_SCANNED] += stats->free_scanned;
out_unlock:
	if (target != MINMOVE_MAX && count_free_pageblocks(z) < target)
		ret = COMPACT_COMPLETE;
	stats->result = ret;
	compact_run_end(c, &run);
	z->compacting--;
	zone_unlock(z);
out_free:
	free(cand);
	free(holes_blocks);
	free(batch);
	free(old_type);
	pfn_ring_destroy(&h.queue);
	return stats->result = ret;
}

uint64_t minmove_target_for_order(const struct zone *z, int order)
{
	uint64_t now = count_free_pageblocks(z), nr_free[NR_ORDERS];
	unsigned int o = order < (int)z->pageblock_order ? z->pageblock_order : (unsigned int)order;

	if (order < 0)
		return MINMOVE_MAX;
	zone_nr_free(z, nr_free);
	for (unsigned int k = (unsigned int)order; k < NR_ORDERS; k++)
		if (nr_free[k])
			return now;
	return now + (1ULL << (o - z->pageblock_order));
}
