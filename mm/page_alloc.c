/* The allocation slow path (see page_alloc.h). */
#include <errno.h>

#include "mm/page_alloc.h"

static bool take_reserved(struct page_alloc *a, unsigned int order, uint32_t *pfn, bool wait)
{
	if (!a->reserve || order != PAGEBLOCK_ORDER)
		return false;
	*pfn = wait ? huge_reserve_take_wait(a->reserve) : huge_reserve_take(a->reserve);
	return *pfn != PFN_NONE;
}

/* The free lists, else direct compaction; then the reserve, whose builder
 * may have taken the block compaction freed in a lock break: it is the
 * caller's once built. */
static int alloc_or_compact(struct page_alloc *a, unsigned int order, enum migratetype mt,
			    uint32_t *pfn, uint64_t *stall_ns)
{
	uint64_t ns = 0;
	int err;

	if (a->compactor) {
		err = compact_alloc_direct(a->compactor, order, mt, pfn, NULL, &ns);
		*stall_ns += ns;
	} else {
		zone_lock(a->zone);
		err = zone_alloc(a->zone, order, mt, pfn);
		zone_unlock(a->zone);
	}
	if (err && take_reserved(a, order, pfn, true))
		err = 0;
	return err;
}

int alloc_block_slowpath(struct page_alloc *a, unsigned int order, enum migratetype mt,
			 uint32_t *pfn, uint64_t *stall_ns)
{
	int err;

	*stall_ns = 0;
	if (take_reserved(a, order, pfn, false))
		return 0;
	err = alloc_or_compact(a, order, mt, pfn, stall_ns);
	/* frames handed to the reserve to punch are neither free nor
	 * movable, and may sit in every block compaction could empty: once
	 * they are free, one more try (the kernel retries compaction after
	 * reclaim made progress) */
	if (err && a->reserve && huge_reserve_flush(a->reserve))
		err = alloc_or_compact(a, order, mt, pfn, stall_ns);
	if (*stall_ns && a->kcompactd)
		kcompactd_wakeup(a->kcompactd, order);
	if (err == -ENOMEM) {
		zone_lock(a->zone);
		if (zone_free_frames(a->zone) >= 1ULL << order)
			err = -EAGAIN;
		zone_unlock(a->zone);
	}
	return err;
}

void alloc_reclaim(struct page_alloc *a, unsigned int max_ms)
{
	if (a->reserve) {
		huge_reserve_flush(a->reserve);
		huge_reserve_drain(a->reserve);
	}
	compaction_wait_idle(a->zone, max_ms);
}
