/* The min-move policy: clear 2 MiB blocks by evacuating the pageblocks
 * that hold the fewest movable frames (never one holding a pinned or
 * unmovable frame) into the holes of the fullest pageblocks, and the lower
 * bound on moves any policy needs for k free blocks. */
#ifndef MM_MINMOVE_H
#define MM_MINMOVE_H

#include <stdint.h>

#include "mm/compaction.h"

#define MINMOVE_MAX	UINT64_MAX	/* target: as many free blocks as possible */

/* The fewest frame moves that can leave k free aligned pageblocks: the k
 * cheapest blocks (free ones cost 0, evacuable ones their used frames),
 * or UINT64_MAX when no policy can get k. Caller holds the zone lock. */
uint64_t compact_lower_bound(const struct zone *z, uint64_t k);

/* The target for "free a block of order" (-1: as many blocks as
 * possible): one more free pageblock than now (or as many as a block of
 * that order spans) when no block of the order is free, else now's count.
 * Caller holds the zone lock. */
uint64_t minmove_target_for_order(const struct zone *z, int order);

/* Runs the policy until target free aligned pageblocks exist (or as many
 * as possible). Takes the zone lock for the run, and breaks it between
 * batches. */
enum compact_result compact_minmove(struct compactor *c, uint64_t target,
				    struct compact_stats *stats);

#endif
