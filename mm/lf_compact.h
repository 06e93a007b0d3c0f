/* Compaction on the lock-free allocator's bitfields (mm/lockfree.h): the
 * kernel's two scanners, and min-move on the chunk counters. No lock: a
 * destination frame is taken by the same compare-and-swap steps a vCPU's
 * allocation uses, and the chunks min-move clears are isolated by a flag
 * in their entry, so compaction runs while other threads allocate and
 * free. Moving a frame's contents and its owner's mapping is the caller's
 * (lf_migrate_fn), as migrate_fn is for the buddy's compaction. */
#ifndef MM_LF_COMPACT_H
#define MM_LF_COMPACT_H

#include <stdint.h>

#include "mm/lockfree.h"

/* Moves what frame src holds to frame dst (allocated for it). 0, or a
 * negative errno when src cannot move (pinned, unmovable, or freed by its
 * owner meanwhile); then dst is given back. The callback is the judge of
 * what may move: the allocator keeps no type per frame (a frame stolen
 * into a movable chunk, or one allocated in a chunk that became another
 * kind's between a scan and the move, reaches it too). */
typedef int (*lf_migrate_fn)(void *arg, uint32_t src, uint32_t dst);

struct lf_compact_stats {
	uint64_t moved;			/* frames moved */
	uint64_t failed;		/* moves the callback refused */
	uint64_t free_failed;		/* sources the callback moved that were no
					 * single-frame allocation: a callback bug */
	uint64_t scanned;		/* used frames the migrate side looked at */
	uint64_t free_chunks_before;	/* wholly free chunks when it began */
	uint64_t free_chunks_after;	/* and when it ended */
	uint64_t ns;
};

/* Wholly free chunks now (a snapshot). */
uint64_t lf_free_chunks(const struct lf_pool *p);

/* Linux's two scanners: the migrate scanner walks the used bits of movable
 * chunks from the bottom, the free scanner takes free frames of movable
 * (or wholly free) chunks from the top, until they meet. */
void lf_compact_scanners(struct lf_pool *p, lf_migrate_fn migrate, void *arg,
			 struct lf_compact_stats *st);

/* The fewest moves that can leave k wholly free chunks: the k cheapest
 * chunks (free ones cost 0, movable ones their used frames), or UINT64_MAX
 * when fewer than k chunks could ever be cleared. */
uint64_t lf_compact_lower_bound(const struct lf_pool *p, uint64_t k);

/* Min-move: clears the cheapest movable chunks into the holes of the
 * fullest, each frame moved once, until target chunks are wholly free
 * (UINT64_MAX: as many as the holes allow). */
void lf_compact_minmove(struct lf_pool *p, uint64_t target, lf_migrate_fn migrate, void *arg,
			struct lf_compact_stats *st);

#endif
