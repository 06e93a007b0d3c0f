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

/* Runs the policy until target free aligned pageblocks exist (or as many
 * as possible). Takes the zone lock per batch. */
enum compact_result compact_minmove(struct compactor *c, uint64_t target,
				    struct compact_stats *stats);

#endif
