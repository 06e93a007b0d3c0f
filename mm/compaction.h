/* Compaction over the frame pool, after Linux's mm/compaction.c: a migrate
 * scanner walks pageblocks up from the pool start isolating used movable
 * frames, a free scanner walks pageblocks down from the end isolating free
 * frames, isolated frames move in batches, and the run ends when the
 * scanners meet (or, for a targeted run, when a free block of the order
 * asked for exists). Moving a frame's contents is the mover's job, a
 * callback, so everything here runs without KVM.
 *
 * Locking: compaction takes zone->lock itself, one batch at a time, and
 * calls the mover with it held; callers must not hold it. */
#ifndef MM_COMPACTION_H
#define MM_COMPACTION_H

#include <stdbool.h>
#include <stdint.h>

#include "mm/zone_alloc.h"
#include "mm/p2m.h"

#define COMPACT_CLUSTER_MAX	32	/* frames per batch, as SWAP_CLUSTER_MAX */
#define PAGE_ALLOC_COSTLY_ORDER	3
#define EXTFRAG_THRESHOLD_DEFAULT 500
#define COMPACT_HOLD_NS		(1000 * 1000)	/* longest zone-lock hold of a scan */

/* One frame to move: the engine fills src, dst and gfn; the mover copies
 * src to dst, makes gfn point at dst and sets result to 0, or leaves the
 * frame where it is and sets a negative errno (say -EBUSY). */
struct migration {
	uint32_t src;
	uint32_t dst;
	uint32_t gfn;
	int result;
};

typedef void (*migrate_fn)(void *arg, struct migration *batch, unsigned int nr);

enum compact_mode {
	COMPACT_FULL,		/* compact_memory: whole pool, skip hints ignored */
	COMPACT_ORDER,		/* asked for an order (a command): as COMPACT_DIRECT */
	COMPACT_DIRECT,		/* an allocation of 'order' failed: until it can succeed */
	COMPACT_DIRECT_FULL,	/* the same from the pool's ends, skip hints ignored
				 * (the kernel's last priority, COMPACT_PRIO_SYNC_FULL) */
	COMPACT_DAEMON,		/* kcompactd woken for 'order' */
	COMPACT_PROACTIVE,	/* whole pool until the score falls to wmark_low */
};

enum compact_result {
	COMPACT_NOT_SUITABLE_ZONE,	/* failure would be lack of memory, not fragmentation */
	COMPACT_SKIPPED,		/* too little free memory to compact */
	COMPACT_CONTINUE,
	COMPACT_COMPLETE,		/* scanners met after a whole-pool pass */
	COMPACT_PARTIAL_SKIPPED,	/* scanners met, the pass began mid-pool */
	COMPACT_SUCCESS,		/* the order asked for is available */
	COMPACT_CONTENDED,		/* stopped from outside (->aborting) */
};

struct compact_stats {
	enum compact_result result;
	uint64_t migrate_scanned;
	uint64_t free_scanned;
	uint64_t isolated;
	uint64_t moved;			/* pgmigrate_success of this run */
	uint64_t failed;		/* pgmigrate_fail of this run */
};

/* Who started a run, for whoever watches runs. */
enum compact_trigger {
	COMPACT_BY_COMMAND,	/* asked for: COMPACT_FULL, COMPACT_ORDER, min-move */
	COMPACT_BY_DIRECT,	/* an allocation that found no free block */
	COMPACT_BY_DAEMON,	/* kcompactd woken for an order */
	COMPACT_BY_PROACTIVE,	/* kcompactd's proactive runs */
};

/* A run as its watcher sees it: when it begins, every progress_every_ns
 * once it has run progress_after_ns (checked between batches; by default
 * the constants below), and when it ends. */
enum compact_phase { COMPACT_RUN_BEGIN, COMPACT_RUN_PROGRESS, COMPACT_RUN_END };

#define COMPACT_PROGRESS_AFTER_NS	1000000000ULL
#define COMPACT_PROGRESS_EVERY_NS	250000000ULL

struct compact_run {
	uint64_t id;			/* the compactor's runs, numbered from 1 */
	enum compact_trigger trigger;
	bool minmove;			/* min-move, not the two scanners */
	int order;			/* -1: the whole pool */
	uint64_t start_ns, reported_ns;
	uint64_t free_blocks_before;	/* free pageblocks when it began */
	uint64_t free_blocks;		/* and now */
	uint64_t work_done, work_total;	/* how far: frames between the scanners
					 * covered, or frames of the blocks to clear
					 * moved or failed (0 total: not known yet) */
	const struct compact_stats *stats;	/* so far; result at the end */
};

/* Called with the zone lock held: must not take it, nor wait long. */
typedef void (*compact_watch_fn)(void *arg, enum compact_phase phase, const struct compact_run *run);

/* The pool's compaction state, shared by every run over it
 * (compact_cached_*_pfn and compact_blockskip_flush live in the zone in
 * Linux). */
struct compactor {
	struct zone *zone;
	struct p2m *p2m;
	migrate_fn migrate;
	void *migrate_arg;
	/* Optional: called after every migrate() once the p2m names the
	 * copies, with the sources the batch moved (maybe none), before they
	 * are freed (with migrate_arg): the mover's place to let the guest
	 * write again (not before: a write to a copy the p2m does not name
	 * yet is lost if a persistent pool's VMM dies there) and to give the
	 * sources' memory back, so that a frame is punched only when no
	 * guest frame maps it and before it is free (a free frame reads
	 * zero). */
	void (*release)(void *arg, uint32_t *pfns, unsigned int n);
	/* Optional, both or neither (with migrate_arg): before each call of
	 * the mover, while pace_due() (zone lock held; must not block) says
	 * the guest is owed a turn, pace() is called with the zone lock let
	 * go: the mover's place to give the guest its time back between two
	 * of its pauses, without holding up what needs the lock meanwhile. */
	bool (*pace_due)(void *arg);
	void (*pace)(void *arg);
	unsigned int batch;		/* frames per mover call */
	unsigned int extfrag_threshold;	/* 0..1000: compaction_suitable() */
	uint32_t cached_migrate_pfn;
	uint32_t cached_free_pfn;
	bool blockskip_flush;		/* a run completed: clear skip hints */
	_Atomic bool aborting;		/* ends every run at its next batch: shutting down */
	compact_watch_fn watch;		/* told of every run (optional) */
	void *watch_arg;
	uint64_t progress_after_ns;	/* COMPACT_PROGRESS_AFTER_NS */
	uint64_t progress_every_ns;	/* COMPACT_PROGRESS_EVERY_NS */
	uint64_t nr_runs;
};

void compactor_init(struct compactor *c, struct zone *z, struct p2m *m,
		    migrate_fn migrate, void *arg);

/* One compaction run. order is ignored for COMPACT_FULL and
 * COMPACT_PROACTIVE; wmark_low only matters for COMPACT_PROACTIVE. The
 * watcher learns of it (COMPACT_BY_* from the mode). */
enum compact_result compact_zone(struct compactor *c, enum compact_mode mode, int order,
				 unsigned int wmark_low, struct compact_stats *stats);

/* compaction_suitable(): is compacting for order worth it now? Caller
 * holds the zone lock. COMPACT_SUCCESS when a block is free already. */
enum compact_result compaction_suitable(const struct compactor *c, unsigned int order);

/* Allocation with direct compaction, as __alloc_pages_direct_compact():
 * when no free block of order exists, compact and count a compact_stall,
 * then compact_success or compact_fail. The block a run frees is taken
 * under the same zone-lock hold that saw it free (capture), so a thief
 * waiting on the lock cannot make the stall fruitless; a run that began
 * mid-pool and failed is followed by a whole-pool one, as the kernel
 * raises its priority. -ENOMEM when it fails. *stall_ns (may be NULL): how
 * long compaction ran, 0 when the free lists served. */
int compact_alloc_direct(struct compactor *c, unsigned int order, enum migratetype mt,
			 uint32_t *pfn, struct compact_stats *stats, uint64_t *stall_ns);

/* A used frame the compactor may move: movable, order 0, mapped, neither
 * pinned nor huge-backed. */
static inline bool frame_is_movable(const struct frame *f)
{
	return f->state == FRAME_USED && f->mt == MIGRATE_MOVABLE && f->order == 0 &&
	       !(f->flags & (FRAME_TAIL | FRAME_PINNED | FRAME_HUGE | FRAME_MOVING)) &&
	       f->use.gfn != PFN_NONE;
}

/* A run's watcher calls, for the engines (compact_zone, min-move); zone
 * lock held. compact_run_tick() reports progress when it is due. */
void compact_run_begin(struct compactor *c, struct compact_run *run, enum compact_trigger trigger,
		       bool minmove, int order, const struct compact_stats *stats);
void compact_run_tick(struct compactor *c, struct compact_run *run);
void compact_run_end(struct compactor *c, struct compact_run *run);

/* Does a compaction run hold frames isolated now? Zone lock held. */
static inline bool compaction_running(const struct zone *z)
{
	return z->compacting;
}

/* Waits (polling each millisecond, at most max_ms) until no compaction run
 * holds frames isolated: the free frames a run isolates as destinations
 * are nobody else's until it ends. Without the zone lock; true when idle. */
bool compaction_wait_idle(struct zone *z, unsigned int max_ms);

/* Free aligned pageblocks (2 MiB blocks), what huge pages need. */
uint64_t count_free_pageblocks(const struct zone *z);

const char *compact_result_name(enum compact_result r);

/* Moves the given frames (a batch of n migrations with src and gfn set)
 * onto destinations from dst->take, calling the mover once, then
 * switching the p2m and freeing the sources that moved. Shared by every
 * policy. Caller holds the zone lock; it may be let go and taken back
 * (the free scanner, the guest's turn): the batch is checked again
 * after, so frames read before the call may have changed. Returns the
 * number moved. */
struct dst_source {
	uint32_t (*take)(void *arg);		/* a free frame, or PFN_NONE */
	void (*give_back)(void *arg, uint32_t pfn);
	void *arg;
};
unsigned int migrate_batch(struct compactor *c, struct migration *batch, unsigned int n,
			   const struct dst_source *dst, struct compact_stats *stats);

#endif
