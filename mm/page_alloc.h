/* The allocation slow path, as the kernel's __alloc_pages_slowpath() for
 * what a guest asks of the pool: when the free lists alone cannot serve,
 * it knows what else may give memory and in which order (the huge
 * reserve's ready blocks, direct compaction, kcompactd for the next time,
 * frames held back by compaction runs and deferred frees), and it counts
 * and times the stall itself. The VMM asks here, never the pieces. */
#ifndef MM_PAGE_ALLOC_H
#define MM_PAGE_ALLOC_H

#include <stdint.h>

#include "mm/compaction.h"
#include "mm/huge_reserve.h"
#include "mm/kcompactd.h"

struct page_alloc {
	struct zone *zone;
	struct compactor *compactor;	/* direct compaction; NULL: none */
	struct kcompactd *kcompactd;	/* woken after a stall; NULL: none */
	struct huge_reserve *reserve;	/* ready pageblocks; NULL: none */
};

/* A free aligned block of 2^order frames as mt, without the zone lock.
 * For a pageblock, a ready block of the huge reserve comes first: it is
 * a host huge page already. Then the free lists, then direct compaction,
 * which takes the block it frees before anyone else can (capture); then
 * the reserve again, whose builder may have taken a block the run freed
 * in its lock breaks: that one is waited for while it is being built. If
 * all that fails while frames wait in the reserve's queue to be punched
 * and freed, it waits for them and tries once more. *stall_ns is how long direct compaction ran (0: no
 * stall), and a stall wakes kcompactd for order, as after a failed
 * high-order allocation in the kernel.
 * 0 with *pfn; -ENOMEM when the pool has fewer free frames than the block;
 * -EAGAIN when it has enough, but no block of order could be made. */
int alloc_block_slowpath(struct page_alloc *a, unsigned int order, enum migratetype mt,
			 uint32_t *pfn, uint64_t *stall_ns);

/* Frees what is held back from the free lists when order-0 allocations
 * fell short: waits for deferred frees to finish, gives the huge
 * reserve's ready blocks back, and waits (at most max_ms) for compaction
 * runs to return the free frames they isolated. Then the caller retries,
 * as the kernel's allocator retries after reclaim. Without the zone lock. */
void alloc_reclaim(struct page_alloc *a, unsigned int max_ms);

#endif
