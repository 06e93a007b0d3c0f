/* The two-scanner compaction engine (mm/compaction.c, v6.x, synchronous
 * mode; the fast_find_migrateblock/fast_isolate_freepages shortcuts and
 * compaction deferral are left out). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mm/clock.h"
#include "lib/failpoint.h"
#include "mm/compaction.h"
#include "mm/fragindex.h"
#include "mm/pfn_ring.h"

struct compact_control {
	struct compactor *c;
	struct zone *zone;
	int order;			/* -1: whole pool */
	enum compact_mode mode;
	bool whole_zone;
	bool ignore_skip_hint;
	unsigned int wmark_low;
	uint32_t migrate_pfn;		/* next frame the migrate scanner looks at */
	uint32_t free_pfn;		/* where the free scanner resumes, going down */
	struct migration *migratepages;
	unsigned int nr_migratepages;	/* still waiting for a destination */
	unsigned int nr_freepages;
	struct pfn_ring freepages[NR_ORDERS];	/* isolated free blocks, by order */
	struct compact_stats *stats;
};

void compactor_init(struct compactor *c, struct zone *z, struct p2m *m,
		    migrate_fn migrate, void *arg)
{
	memset(c, 0, sizeof(*c));
	c->zone = z;
	c->p2m = m;
	c->migrate = migrate;
	c->migrate_arg = arg;
	c->batch = COMPACT_CLUSTER_MAX;
	c->extfrag_threshold = EXTFRAG_THRESHOLD_DEFAULT;
	c->progress_after_ns = COMPACT_PROGRESS_AFTER_NS;
	c->progress_every_ns = COMPACT_PROGRESS_EVERY_NS;
	c->cached_migrate_pfn = 0;
	c->cached_free_pfn = pageblock_start_pfn(z, z->nr_frames - 1);
}

const char *compact_result_name(enum compact_result r)
{
	static const char *const names[] = {
		[COMPACT_NOT_SUITABLE_ZONE] = "not_suitable_zone",
		[COMPACT_SKIPPED] = "skipped",
		[COMPACT_CONTINUE] = "continue",
		[COMPACT_COMPLETE] = "complete",
		[COMPACT_PARTIAL_SKIPPED] = "partial_skipped",
		[COMPACT_SUCCESS] = "success",
		[COMPACT_CONTENDED] = "contended",
	};
	return names[r];
}

uint64_t count_free_pageblocks(const struct zone *z)
{
	uint64_t nr_free[NR_ORDERS], n = 0;

	zone_nr_free(z, nr_free);
	for (unsigned int o = z->pageblock_order; o < NR_ORDERS; o++)
		n += nr_free[o] << (o - z->pageblock_order);
	return n;
}

/* ---- skip hints and cached positions ---- */

static bool isolation_suitable(const struct compact_control *cc, uint32_t pfn)
{
	return cc->ignore_skip_hint ||
	       !(cc->zone->pageblock[pfn_to_pageblock(cc->zone, pfn)] & PB_SKIP);
}

static void set_pageblock_skip(struct compact_control *cc, uint32_t pfn)
{
	cc->zone->pageblock[pfn_to_pageblock(cc->zone, pfn)] |= PB_SKIP;
}

static void reset_isolation_suitable(struct zone *z)
{
	for (uint32_t pb = 0; pb < z->nr_pageblocks; pb++)
		z->pageblock[pb] &= ~PB_SKIP;
}

static uint32_t pageblock_end_pfn(const struct zone *z, uint32_t pfn)
{
	return pageblock_start_pfn(z, pfn) + pageblock_nr_frames(z);
}

static void update_cached_migrate(struct compact_control *cc, uint32_t pfn)
{
	pfn = pageblock_end_pfn(cc->zone, pfn - 1);
	if (pfn > cc->c->cached_migrate_pfn)
		cc->c->cached_migrate_pfn = pfn;
}

static void reset_cached_positions(struct compactor *c)
{
	c->cached_migrate_pfn = 0;
	c->cached_free_pfn = pageblock_start_pfn(c->zone, c->zone->nr_frames - 1);
}

/* ---- the migrate scanner ---- */

/* isolate_migratepages_block(): movable frames of [low_pfn, end_pfn) onto
 * cc->migratepages until a batch is full. Returns where it stopped. */
static uint32_t isolate_migratepages_block(struct compact_control *cc, uint32_t low_pfn,
					   uint32_t end_pfn)
{
	struct zone *z = cc->zone;
	uint32_t block_start = pageblock_start_pfn(z, low_pfn);
	uint64_t nr_scanned = 0, nr_isolated = 0;

	for (; low_pfn < end_pfn; low_pfn++) {
		const struct frame *f = &z->frames[low_pfn];
		int free_order = zone_free_block_order(z, low_pfn);

		nr_scanned++;
		if (free_order >= 0) {
			/* a free block: skip it whole */
			low_pfn += (1U << free_order) - 1;
			nr_scanned += (1U << free_order) - 1;
			continue;
		}
		if (f->state == FRAME_USED && f->order && !(f->flags & FRAME_TAIL)) {
			/* a higher-order allocation moves as a whole or not at all */
			low_pfn += (1U << f->order) - 1;
			nr_scanned += (1U << f->order) - 1;
			continue;
		}
		if (!frame_is_movable(f))
			continue;
		cc->migratepages[cc->nr_migratepages].src = low_pfn;
		cc->migratepages[cc->nr_migratepages].gfn = f->use.gfn;
		cc->nr_migratepages++;
		nr_isolated++;
		if (cc->nr_migratepages >= cc->c->batch) {
			low_pfn++;
			break;
		}
	}
	/* a free block can carry the scan past the end */
	if (low_pfn > end_pfn)
		low_pfn = end_pfn;
	cc->stats->migrate_scanned += nr_scanned;
	cc->stats->isolated += nr_isolated;
	z->events[COMPACTISOLATED] += nr_isolated;
	if (low_pfn == end_pfn && !nr_isolated) {
		set_pageblock_skip(cc, block_start);
		update_cached_migrate(cc, low_pfn);
	}
	return low_pfn;
}

/* isolate_migratepages(): scan one suitable pageblock below the free scanner. */
static bool isolate_migratepages(struct compact_control *cc)
{
	struct zone *z = cc->zone;
	uint32_t low_pfn = cc->migrate_pfn;
	uint32_t block_end = pageblock_end_pfn(z, low_pfn);

	for (; block_end <= cc->free_pfn;
	     cc->migrate_pfn = low_pfn = block_end, block_end += pageblock_nr_frames(z)) {
		if (low_pfn == pageblock_start_pfn(z, low_pfn) && !isolation_suitable(cc, low_pfn))
			continue;
		low_pfn = isolate_migratepages_block(cc, low_pfn, block_end);
		break;
	}
	cc->migrate_pfn = low_pfn;
	return cc->nr_migratepages != 0;
}

/* ---- the free scanner ---- */

static bool suitable_migration_target(const struct compact_control *cc, uint32_t pfn)
{
	int free_order = zone_free_block_order(cc->zone, pfn);

	if (free_order >= 0) {
		/* do not break up a block as large as what we are making */
		unsigned int order = cc->order > 0 ? (unsigned int)cc->order : cc->zone->pageblock_order;

		if ((unsigned int)free_order >= order)
			return false;
	}
	return pageblock_migratetype(cc->zone, pfn) == MIGRATE_MOVABLE;
}

/* isolate_freepages_block(): free blocks of [*start_pfn, end_pfn) onto
 * cc->freepages until there are as many free frames as frames to move. */
static void isolate_freepages_block(struct compact_control *cc, uint32_t *start_pfn,
				    uint32_t end_pfn)
{
	struct zone *z = cc->zone;
	uint64_t nr_scanned = 0, total_isolated = 0;
	uint32_t pfn = *start_pfn;

	for (; pfn < end_pfn; pfn++) {
		const struct frame *f = &z->frames[pfn];
		int order = zone_free_block_order(z, pfn);
		uint32_t n;

		nr_scanned++;
		if (order < 0) {
			n = 1U << f->order;
			if (f->state == FRAME_USED && f->order && !(f->flags & FRAME_TAIL) &&
			    pfn + n <= end_pfn) {
				pfn += n - 1;
				nr_scanned += n - 1;
			}
			continue;
		}
		n = 1U << order;
		if (zone_take_free(z, pfn) < 0) {
			/* its pageblock isolated: not a destination */
			pfn += n - 1;
			continue;
		}
		pfn_ring_push(&cc->freepages[order], pfn, false);
		nr_scanned += n - 1;
		total_isolated += n;
		cc->nr_freepages += n;
		if (cc->nr_migratepages <= cc->nr_freepages) {
			pfn += n;
			break;
		}
		pfn += n - 1;
	}
	*start_pfn = pfn;
	cc->stats->free_scanned += nr_scanned;
	cc->stats->isolated += total_isolated;
	z->events[COMPACTISOLATED] += total_isolated;
}

static void isolate_freepages(struct compact_control *cc)
{
	struct zone *z = cc->zone;
	int64_t pb = pageblock_nr_frames(z);
	int64_t block_start = pageblock_start_pfn(z, cc->free_pfn);
	int64_t block_end = block_start + pb;
	int64_t low_pfn = pageblock_end_pfn(z, cc->migrate_pfn);
	uint32_t isolate_start = cc->free_pfn;

	if (block_end > z->nr_frames)
		block_end = z->nr_frames;
	for (; block_start >= low_pfn;
	     block_end = block_start, block_start -= pb, isolate_start = (uint32_t)block_start) {
		/* a scan down a used pool is long: let the others in (the
		 * batch waiting for these frames is checked again after) */
		zone_lock_relax(z, COMPACT_HOLD_NS);
		if (!suitable_migration_target(cc, (uint32_t)block_start))
			continue;
		if (!isolation_suitable(cc, (uint32_t)block_start))
			continue;
		isolate_freepages_block(cc, &isolate_start, (uint32_t)block_end);
		if (isolate_start == block_end) {
			/* the block is used up: skip it next time */
			set_pageblock_skip(cc, (uint32_t)block_start);
			if (block_start - pb < cc->c->cached_free_pfn)
				cc->c->cached_free_pfn = (uint32_t)(block_start - pb);
		}
		if (cc->nr_freepages >= cc->nr_migratepages) {
			if (isolate_start >= block_end)
				isolate_start = (uint32_t)(block_start - pb);
			break;
		} else if (isolate_start < block_end) {
			break;
		}
	}
	cc->free_pfn = isolate_start;
}

/* compaction_alloc(): the smallest isolated free block, split, lowest frame
 * first; isolate more when none is left. */
static uint32_t compaction_alloc(void *arg)
{
	struct compact_control *cc = arg;
	bool isolated = false;
	unsigned int order;
	uint32_t pfn;

again:
	for (order = 0; order < NR_ORDERS; order++)
		if (cc->freepages[order].len)
			break;
	if (order == NR_ORDERS) {
		if (isolated)
			return PFN_NONE;
		isolate_freepages(cc);
		isolated = true;
		goto again;
	}
	pfn = pfn_ring_pop(&cc->freepages[order]);
	while (order > 0) {
		order--;
		pfn_ring_push(&cc->freepages[order], pfn + (1U << order), true);
	}
	cc->nr_freepages--;
	cc->nr_migratepages--;
	return pfn;
}

static void compaction_free(void *arg, uint32_t pfn)
{
	struct compact_control *cc = arg;

	pfn_ring_push(&cc->freepages[0], pfn, true);
	cc->nr_freepages++;
	cc->nr_migratepages++;
}

/* Frees the isolated free frames left over; returns the highest one. */
static uint32_t release_freepages(struct compact_control *cc)
{
	uint32_t high = 0;

	for (unsigned int order = 0; order < NR_ORDERS; order++) {
		while (cc->freepages[order].len) {
			uint32_t pfn = pfn_ring_pop(&cc->freepages[order]);

			for (uint32_t i = 0; i < (1U << order); i++)
				zone_free(cc->zone, pfn + i, 0);
			if (pfn > high)
				high = pfn;
		}
	}
	cc->nr_freepages = 0;
	return high;
}

/* ---- moving ---- */

/* Drops from the batch the frames that changed while the lock was given
 * up (the guest discarded one, a request took it), giving their
 * destinations back: what stays is still movable and owned by the same
 * guest frame. Returns how many stay. */
static unsigned int recheck_batch(const struct zone *z, struct migration *batch, unsigned int n,
				  const struct dst_source *dst)
{
	unsigned int kept = 0;

	for (unsigned int i = 0; i < n; i++) {
		const struct frame *f = &z->frames[batch[i].src];

		if (frame_is_movable(f) && f->use.gfn == batch[i].gfn)
			batch[kept++] = batch[i];
		else
			dst->give_back(dst->arg, batch[i].dst);
	}
	return kept;
}

/* The guest's turn before the mover's next pause, the zone lock let go:
 * looked at again under the lock, since another run may have paused
 * meanwhile (runs alternating would otherwise leave the guest only the
 * moment between one's resume and the other's pause). Checked last, just
 * before the batch is rechecked and moved: nothing lets the lock go in
 * between. */
static void give_turn(struct compactor *c)
{
	struct zone *z = c->zone;
	const char *site = z->lock_site;

	while (c->pace_due && c->pace && c->pace_due(c->migrate_arg)) {
		zone_unlock(z);
		c->pace(c->migrate_arg);
		zone_lock_at(z, site);
	}
}

unsigned int migrate_batch(struct compactor *c, struct migration *batch, unsigned int n,
			   const struct dst_source *dst, struct compact_stats *stats)
{
	struct zone *z = c->zone;
	unsigned int ready, moved = 0;
	uint32_t *srcs;

	for (ready = 0; ready < n; ready++) {
		batch[ready].dst = dst->take(dst->arg);
		if (batch[ready].dst == PFN_NONE) {
			/* no room left: this frame failed, the rest go back untouched */
			z->events[PGMIGRATE_FAIL]++;
			stats->failed++;
			break;
		}
		batch[ready].result = -EAGAIN;
	}
	if (ready)
		give_turn(c);
	/* finding destinations, or the turn, may have let others in */
	ready = recheck_batch(z, batch, ready, dst);
	if (!ready)
		return 0;
	srcs = malloc(ready * sizeof(*srcs));
	if (!srcs) {
		for (unsigned int i = 0; i < ready; i++)
			dst->give_back(dst->arg, batch[i].dst);
		return 0;
	}
	c->migrate(c->migrate_arg, batch, ready);
	FAILPOINT("move-remapped");		/* the guest maps copies the p2m does not name */
	for (unsigned int i = 0; i < ready; i++) {
		struct migration *m = &batch[i];

		if (m->result == 0) {
			if (p2m_move(c->p2m, m->src, m->dst)) {
				/* the mover has switched the guest to dst
				 * already: a p2m that disagrees loses data */
				fprintf(stderr, "vmdefrag: BUG: move of frame %u to %u: the p2m refused it\n",
					m->src, m->dst);
				abort();
			}
			srcs[moved++] = m->src;
		} else {
			dst->give_back(dst->arg, m->dst);
			z->events[PGMIGRATE_FAIL]++;
			stats->failed++;
		}
	}
	FAILPOINT("move-switched");		/* sources nobody maps, with data */
	if (c->release)
		c->release(c->migrate_arg, srcs, moved);
	FAILPOINT("move-released");		/* sources nobody maps, zeros */
	for (unsigned int i = 0; i < moved; i++)
		zone_free(z, srcs[i], 0);
	free(srcs);
	z->events[PGMIGRATE_SUCCESS] += moved;
	stats->moved += moved;
	return moved;
}

/* ---- watching runs ---- */

static void run_report(struct compactor *c, struct compact_run *run, enum compact_phase phase)
{
	run->free_blocks = count_free_pageblocks(c->zone);
	run->reported_ns = mono_ns();
	c->watch(c->watch_arg, phase, run);
}

void compact_run_begin(struct compactor *c, struct compact_run *run, enum compact_trigger trigger,
		       bool minmove, int order, const struct compact_stats *stats)
{
	memset(run, 0, sizeof(*run));
	run->id = ++c->nr_runs;
	run->trigger = trigger;
	run->minmove = minmove;
	run->order = order;
	run->stats = stats;
	run->start_ns = mono_ns();
	run->free_blocks_before = count_free_pageblocks(c->zone);
	if (c->watch)
		run_report(c, run, COMPACT_RUN_BEGIN);
}

void compact_run_tick(struct compactor *c, struct compact_run *run)
{
	uint64_t now;

	if (!c->watch)
		return;
	now = mono_ns();
	if (now - run->start_ns >= c->progress_after_ns && now - run->reported_ns >= c->progress_every_ns)
		run_report(c, run, COMPACT_RUN_PROGRESS);
}

void compact_run_end(struct compactor *c, struct compact_run *run)
{
	if (c->watch)
		run_report(c, run, COMPACT_RUN_END);
}

static enum compact_trigger trigger_of(enum compact_mode mode)
{
	switch (mode) {
	case COMPACT_FULL:
	case COMPACT_ORDER:
		return COMPACT_BY_COMMAND;
	case COMPACT_DAEMON:
		return COMPACT_BY_DAEMON;
	case COMPACT_PROACTIVE:
		return COMPACT_BY_PROACTIVE;
	default:
		return COMPACT_BY_DIRECT;
	}
}

/* ---- the run ---- */

enum compact_result compaction_suitable(const struct compactor *c, unsigned int order)
{
	const struct zone *z = c->zone;
	uint64_t nr_free[NR_ORDERS];
	struct contig_page_info info;
	int fragindex;

	zone_nr_free(z, nr_free);
	for (unsigned int o = order; o < NR_ORDERS; o++)
		if (nr_free[o])
			return COMPACT_SUCCESS;
	/* compact_gap(): room for the pages being moved and their copies */
	if (z->free_frames < (2ULL << order))
		return COMPACT_SKIPPED;
	if (order > PAGE_ALLOC_COSTLY_ORDER) {
		fill_contig_page_info(nr_free, NR_ORDERS, order, &info);
		fragindex = fragmentation_index(order, &info);
		if (fragindex >= 0 && fragindex <= (int)c->extfrag_threshold)
			return COMPACT_NOT_SUITABLE_ZONE;
	}
	return COMPACT_CONTINUE;
}

static bool scanners_met(const struct compact_control *cc)
{
	unsigned int pbo = cc->zone->pageblock_order;

	return (cc->free_pfn >> pbo) <= (cc->migrate_pfn >> pbo);
}

static enum compact_result compact_finished(struct compact_control *cc)
{
	struct zone *z = cc->zone;

	if (cc->c->aborting)
		return COMPACT_CONTENDED;
	if (scanners_met(cc)) {
		reset_cached_positions(cc->c);
		cc->c->blockskip_flush = true;
		return cc->whole_zone ? COMPACT_COMPLETE : COMPACT_PARTIAL_SKIPPED;
	}
	if (cc->mode == COMPACT_PROACTIVE) {
		uint64_t nr_free[NR_ORDERS];

		zone_nr_free(z, nr_free);
		return extfrag_for_order(nr_free, NR_ORDERS, PAGEBLOCK_ORDER) > cc->wmark_low ?
		       COMPACT_CONTINUE : COMPACT_SUCCESS;
	}
	if (cc->order < 0)
		return COMPACT_CONTINUE;
	/* finish the pageblock in hand, to spare fallbacks later */
	if (cc->migrate_pfn != pageblock_start_pfn(z, cc->migrate_pfn))
		return COMPACT_CONTINUE;
	return zone_suitable_free_block(z, (unsigned int)cc->order, MIGRATE_MOVABLE) ?
	       COMPACT_SUCCESS : COMPACT_CONTINUE;
}

static int cc_init(struct compact_control *cc, struct compactor *c, enum compact_mode mode,
		   int order, unsigned int wmark_low, struct compact_stats *stats)
{
	memset(cc, 0, sizeof(*cc));
	cc->c = c;
	cc->zone = c->zone;
	cc->mode = mode;
	cc->order = (mode == COMPACT_FULL || mode == COMPACT_PROACTIVE) ? -1 : order;
	cc->whole_zone = cc->ignore_skip_hint = cc->order < 0 || mode == COMPACT_DIRECT_FULL;
	cc->wmark_low = wmark_low;
	cc->stats = stats;
	cc->migratepages = calloc(c->batch, sizeof(*cc->migratepages));
	if (!cc->migratepages)
		return -ENOMEM;
	/* a batch, plus the largest block one isolation can add past it */
	for (unsigned int o = 0; o < NR_ORDERS; o++)
		if (pfn_ring_init(&cc->freepages[o], c->batch + (1U << MAX_ORDER) + 1))
			return -ENOMEM;
	return 0;
}

static void cc_destroy(struct compact_control *cc)
{
	free(cc->migratepages);
	for (unsigned int o = 0; o < NR_ORDERS; o++)
		pfn_ring_destroy(&cc->freepages[o]);
}

static void cc_start_positions(struct compact_control *cc)
{
	struct compactor *c = cc->c;
	struct zone *z = cc->zone;

	if (cc->whole_zone) {
		cc->migrate_pfn = 0;
		cc->free_pfn = pageblock_start_pfn(z, z->nr_frames - 1);
		return;
	}
	if (c->cached_free_pfn >= z->nr_frames)
		c->cached_free_pfn = pageblock_start_pfn(z, z->nr_frames - 1);
	if (c->cached_migrate_pfn >= z->nr_frames)
		c->cached_migrate_pfn = 0;
	cc->free_pfn = c->cached_free_pfn;
	cc->migrate_pfn = c->cached_migrate_pfn;
	if (cc->migrate_pfn == 0)
		cc->whole_zone = true;
}

/* compact_zone(), and when capture is given, the allocation it compacts
 * for, as the kernel's capture_control: a block the run freed is taken
 * before the zone lock is let go, so nobody waiting on the lock (the huge
 * reserve's builder, a vCPU's populate) takes it first. *capture is
 * PFN_NONE when the run made none. */
static enum compact_result compact_zone_capture(struct compactor *c, enum compact_mode mode,
						int order, unsigned int wmark_low,
						struct compact_stats *stats, enum migratetype mt,
						uint32_t *capture)
{
	struct compact_stats local;
	struct compact_control cc;
	struct dst_source dst = { compaction_alloc, compaction_free, &cc };
	struct zone *z = c->zone;
	struct compact_run run;
	uint32_t start_migrate, start_free;
	enum compact_result ret;

	if (!stats)
		stats = &local;
	memset(stats, 0, sizeof(*stats));
	if (capture)
		*capture = PFN_NONE;
	if (cc_init(&cc, c, mode, order, wmark_low, stats)) {
		cc_destroy(&cc);
		return stats->result = COMPACT_SKIPPED;
	}
	zone_lock_at(z, "compact_zone");	/* the name the stats have always had */
	z->compacting++;
	compact_run_begin(c, &run, trigger_of(mode), false, cc.order, stats);
	if (c->blockskip_flush) {
		reset_isolation_suitable(z);
		c->blockskip_flush = false;
	}
	if (cc.order > 0) {
		ret = compaction_suitable(c, (unsigned int)cc.order);
		if (ret != COMPACT_CONTINUE)
			goto out;
	}
	cc_start_positions(&cc);
	start_migrate = cc.migrate_pfn;
	start_free = cc.free_pfn;
	run.work_total = start_free > start_migrate ? start_free - start_migrate : 0;
	while ((ret = compact_finished(&cc)) == COMPACT_CONTINUE) {
		/* the scanners close the gap between them from both ends */
		run.work_done = (cc.migrate_pfn - start_migrate) +
				(start_free > cc.free_pfn ? start_free - cc.free_pfn : 0);
		compact_run_tick(c, &run);
		if (!isolate_migratepages(&cc)) {
			/* a pageblock with nothing to move: cheap, but there
			 * may be many in a row */
			zone_lock_relax(z, COMPACT_HOLD_NS);
			continue;
		}
		migrate_batch(c, cc.migratepages, cc.nr_migratepages, &dst, stats);
		cc.nr_migratepages = 0;
		/* let allocations and frees in between batches */
		zone_lock_break(z);
	}
	if (cc.nr_freepages) {
		uint32_t free_pfn = pageblock_start_pfn(z, release_freepages(&cc));

		if (free_pfn > c->cached_free_pfn)
			c->cached_free_pfn = free_pfn;
	}
	z->events[COMPACTMIGRATE_SCANNED] += stats->migrate_scanned;
	z->events[COMPACTFREE_SCANNED] += stats->free_scanned;
	if (mode == COMPACT_DAEMON || mode == COMPACT_PROACTIVE) {
		z->events[KCOMPACTD_MIGRATE_SCANNED] += stats->migrate_scanned;
		z->events[KCOMPACTD_FREE_SCANNED] += stats->free_scanned;
	}
out:
	if (capture && ret != COMPACT_SKIPPED && ret != COMPACT_NOT_SUITABLE_ZONE &&
	    zone_alloc(z, (unsigned int)order, mt, capture))
		*capture = PFN_NONE;
	stats->result = ret;
	compact_run_end(c, &run);
	z->compacting--;
	zone_unlock(z);
	cc_destroy(&cc);
	return ret;
}

enum compact_result compact_zone(struct compactor *c, enum compact_mode mode, int order,
				 unsigned int wmark_low, struct compact_stats *stats)
{
	return compact_zone_capture(c, mode, order, wmark_low, stats, MIGRATE_MOVABLE, NULL);
}

bool compaction_wait_idle(struct zone *z, unsigned int max_ms)
{
	for (unsigned int waited = 0;; waited++) {
		bool idle;

		zone_lock(z);
		idle = !z->compacting;
		zone_unlock(z);
		if (idle)
			return true;
		if (waited >= max_ms)
			return false;
		usleep(1000);
	}
}

int compact_alloc_direct(struct compactor *c, unsigned int order, enum migratetype mt,
			 uint32_t *pfn, struct compact_stats *stats, uint64_t *stall_ns)
{
	struct zone *z = c->zone;
	enum compact_result r;
	uint64_t t0;
	int err;

	if (stall_ns)
		*stall_ns = 0;
	zone_lock(z);
	err = zone_alloc(z, order, mt, pfn);
	zone_unlock(z);
	if (err != -ENOMEM)
		return err;
	t0 = mono_ns();
	r = compact_zone_capture(c, COMPACT_DIRECT, (int)order, 0, stats, mt, pfn);
	if (r == COMPACT_SKIPPED || r == COMPACT_NOT_SUITABLE_ZONE)
		return -ENOMEM;
	if (*pfn == PFN_NONE && r != COMPACT_COMPLETE)
		compact_zone_capture(c, COMPACT_DIRECT_FULL, (int)order, 0, stats, mt, pfn);
	if (stall_ns)	/* nonzero: a stall, however short */
		*stall_ns = mono_ns() - t0 > 0 ? mono_ns() - t0 : 1;
	zone_lock(z);
	z->events[COMPACTSTALL]++;
	if (*pfn == PFN_NONE) {
		z->events[COMPACTFAIL]++;
	} else {
		z->events[COMPACTSUCCESS]++;
		c->blockskip_flush = false;
	}
	zone_unlock(z);
	return *pfn == PFN_NONE ? -ENOMEM : 0;
}
