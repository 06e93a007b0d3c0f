/* The per-frame descriptor: what struct page is to Linux, one level down.
 * A frame is 4 KiB of the pool; its number is its offset in the pool file
 * divided by 4096. Kept at 12 bytes so a 4 GiB pool costs 12 MiB. */
#ifndef MM_FRAME_H
#define MM_FRAME_H

#include <stdint.h>

#define FRAME_SHIFT		12
#define FRAME_SIZE		(1UL << FRAME_SHIFT)
#define MAX_ORDER		10		/* largest buddy order, inclusive */
#define NR_ORDERS		(MAX_ORDER + 1)
#define PAGEBLOCK_ORDER		9		/* 2 MiB */
#define PAGEBLOCK_FRAMES	(1U << PAGEBLOCK_ORDER)
#define PFN_NONE		UINT32_MAX

/* Kernel order and names (mm/page_alloc.c migratetype_names[]); the first
 * NR_ALLOC_TYPES are what callers may allocate as. HighAtomic is never
 * used here but kept so pagetypeinfo reads like the kernel's. */
enum migratetype {
	MIGRATE_UNMOVABLE,
	MIGRATE_MOVABLE,
	MIGRATE_RECLAIMABLE,
	MIGRATE_HIGHATOMIC,
	MIGRATE_ISOLATE,
	MIGRATE_TYPES
};
#define NR_ALLOC_TYPES		(MIGRATE_RECLAIMABLE + 1)

enum frame_state {
	FRAME_FREE,		/* in the buddy allocator */
	FRAME_USED,		/* handed out; ->mt says as what */
};

enum frame_flags {
	FRAME_BUDDY	= 1 << 0,	/* head of a free block on a free list */
	FRAME_TAIL	= 1 << 1,	/* used, but not the head of its allocation */
	FRAME_PINNED	= 1 << 2,	/* used and must not move (DMA-like) */
	FRAME_HUGE	= 1 << 3,	/* used and backed by a host huge page */
	FRAME_MOVING	= 1 << 4,	/* used and being moved by a request that
					 * dropped the zone lock: compaction leaves it */
};

struct frame {
	union {
		struct {		/* free block head: free list links */
			uint32_t next;
			uint32_t prev;
		} lru;
		struct {		/* used frame */
			uint32_t gfn;	/* owning guest frame, or PFN_NONE */
			uint32_t pins;	/* pin count */
		} use;
	};
	uint8_t state;		/* enum frame_state */
	uint8_t order;		/* free head: block order; used head: allocation order */
	uint8_t mt;		/* free head: list it is on; used: type allocated as */
	uint8_t flags;		/* enum frame_flags */
};

_Static_assert(sizeof(struct frame) <= 16, "frame descriptor must stay within 16 bytes");

extern const char *const migratetype_names[MIGRATE_TYPES];

#endif
