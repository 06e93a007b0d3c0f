/* The allocation slow path (see page_alloc.h). */
#include <errno.h>

#include "mm/page_alloc.h"

static bool take_reserved(struct page_alloc *a, unsigned int order, uint32_t *pfn)
{
	if (!a->reserve || order != PAGEBLOCK_ORDER)
		return false;
	*pfn = huge_reserve_take(a->reserve);
	return *pfn != PFN_NONE;
}

int alloc_block_slowpath(struct page_alloc *a, unsigned int order, enum migratetype mt,
			 uint32_t *pfn, uint64_t *stall_ns)
{
	int err;

	*stall_ns = 0;
	if (take_reserved(a, order, pfn))
		return 0;
	if (a->compactor) {
		err = compact_alloc_direct(a->compactor, order, mt, pfn, NULL, stall_ns);
	} else {
		zone_lock(a->zone);
		err = zone_alloc(a->zone, order, mt, pfn);
		zone_unlock(a->zone);
	}
	if (err && take_reserved(a, order, pfn))
		err = 0;
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
