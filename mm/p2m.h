/* The p2m map (guest frame -> pool frame) and its reverse (pool frame ->
 * owning guest frame, kept in the frame descriptor). Every change goes
 * through these calls, so the two directions always agree. Same locking
 * as the zone: callers hold zone->lock when shared. */
#ifndef MM_P2M_H
#define MM_P2M_H

#include <stdbool.h>
#include <stdint.h>

#include "mm/buddy.h"

struct p2m {
	uint32_t *pfn_of;	/* per guest frame: pool frame, or PFN_NONE */
	uint32_t nr_gfns;
	uint64_t nr_mapped;
	uint64_t nr_breaks;	/* guest frames g whose successor is not backed
				 * alike (see p2m_contiguous): mappings - 1 */
	struct zone *zone;
	bool external;		/* pfn_of is the caller's (a persistent pool's file) */
};

int p2m_init(struct p2m *m, struct zone *z, uint32_t nr_gfns);
void p2m_destroy(struct p2m *m);

/* The same on the caller's array of nr_gfns entries (a persistent pool's,
 * pool->pmem_p2m), which outlives it: all holes if fresh, else as it is,
 * each mapped frame then made owned by its guest frame (after
 * pmem_reconcile() and zone_resync()). -EUCLEAN if an entry names a frame
 * that is free or owned twice. */
int p2m_init_on(struct p2m *m, struct zone *z, uint32_t nr_gfns, uint32_t *pfn_of, bool fresh);

/* A copy of src over z, a clone of src's zone. */
int p2m_clone(struct p2m *dst, const struct p2m *src, struct zone *z);

/* Maps gfn to an allocated, unowned pool frame. -ERANGE for gfn or pfn out
 * of range, -EEXIST if gfn is mapped, -ENOENT if pfn is free, -EBUSY if
 * pfn already backs another guest frame. */
int p2m_map(struct p2m *m, uint32_t gfn, uint32_t pfn);

/* Unmaps gfn; its pool frame (in *pfn) stays allocated, now unowned.
 * -ERANGE, or -ENOENT if gfn is not mapped. */
int p2m_unmap(struct p2m *m, uint32_t gfn, uint32_t *pfn);

/* Points the guest frame that owns old_pfn at new_pfn (a migration's
 * switch). new_pfn must be allocated and unowned; old_pfn is left
 * allocated and unowned for the caller to free. */
int p2m_move(struct p2m *m, uint32_t old_pfn, uint32_t new_pfn);

/* Checks that both directions agree: each mapped guest frame's pool frame
 * is a used order-0 frame owned by it, each owned frame's owner maps it,
 * pinned frames are owned. 0, or -EUCLEAN with what is wrong in msg. */
int p2m_check(const struct p2m *m, char *msg, size_t len);

static inline uint32_t p2m_lookup(const struct p2m *m, uint32_t gfn)
{
	return gfn < m->nr_gfns ? m->pfn_of[gfn] : PFN_NONE;
}

/* Are guest frames g and g + 1 backed alike: both holes, or pool frames
 * n and n + 1, so that one mapping of the pool file can cover both? */
static inline bool p2m_contiguous(const struct p2m *m, uint32_t g)
{
	uint32_t a = m->pfn_of[g], b = m->pfn_of[g + 1];

	if (a == PFN_NONE || b == PFN_NONE)
		return a == b;
	return b == a + 1;
}

/* Reverse map: the guest frame pfn backs, or PFN_NONE. */
static inline uint32_t p2m_owner(const struct p2m *m, uint32_t pfn)
{
	const struct frame *f = &m->zone->frames[pfn];

	return f->state == FRAME_USED ? f->use.gfn : PFN_NONE;
}

#endif
