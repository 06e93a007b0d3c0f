/* A zone's allocator: the buddy (mm/buddy.h) or the lock-free allocator
 * (mm/lockfree.h) behind one interface, so the compaction engine, min-move,
 * kcompactd, the huge reserve, the views and the VMM run on either
 * (`vmdefrag run --allocator`).
 *
 * The split of state: the allocator owns which frames are free (the
 * buddy's free lists, or the bitfields and counters); the descriptors
 * (struct frame) keep what the VMM needs of a used frame (order and type
 * of its allocation, owner gfn, pins, flags) whichever allocator made it,
 * and here every call keeps the two in step.
 *
 * Locking: as the buddy_* calls, under zone->lock. The lock-free allocator
 * needs none of its own, but the descriptors it is paired with do, so a
 * zone serialises both for now (docs/DESIGN.md section 8 says what comes
 * next). */
#ifndef MM_ZONE_ALLOC_H
#define MM_ZONE_ALLOC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mm/buddy.h"

extern const char *const zone_allocator_names[NR_ZONE_ALLOCATORS];

/* "buddy" or "lockfree": 0 and the allocator in *a, or -EINVAL. */
int zone_allocator_parse(const char *name, enum zone_allocator *a);

/* A zone of nr_frames frames (a whole number of pageblocks) on allocator
 * a, all free. 0, -EINVAL, -ENOMEM, as buddy_init(). */
int zone_init(struct zone *z, uint64_t nr_frames, enum zone_allocator a);
void zone_destroy(struct zone *z);

/* A lock-free zone whose allocator state lives in the caller's memory (a
 * persistent pool's file: lf_init_on()): all free if fresh. Otherwise the
 * state is as a process left it: after lf_recover() or pmem_reconcile(),
 * zone_resync() makes the descriptors say what the bits say (every used
 * frame an order-0 movable allocation, no owner yet: the p2m sets them),
 * and the views and pageblock types follow. */
int zone_init_on(struct zone *z, uint64_t nr_frames, _Atomic uint64_t *bits,
		 _Atomic uint32_t *chunks, bool fresh);
void zone_resync(struct zone *z);

/* Can the zone's allocator hand out blocks of this order? The buddy any
 * up to MAX_ORDER, the lock-free allocator 0, 9 and 10. */
bool zone_order_allocatable(const struct zone *z, unsigned int order);

/* As buddy_alloc(), buddy_free(), buddy_split(), with the same errors
 * (-EINVAL as well for an order the allocator does not hand out). */
int zone_alloc(struct zone *z, unsigned int order, enum migratetype mt, uint32_t *pfn);
int zone_free(struct zone *z, uint32_t pfn, unsigned int order);
int zone_split(struct zone *z, uint32_t pfn);

/* Pins live in the descriptors, whichever allocator (buddy_pin()). */
static inline int zone_pin(struct zone *z, uint32_t pfn)
{
	return buddy_pin(z, pfn);
}

static inline int zone_unpin(struct zone *z, uint32_t pfn)
{
	return buddy_unpin(z, pfn);
}

/* Is a free block headed at pfn, and of what order: the buddy's block on
 * a free list, or on the lock-free allocator the largest aligned all-free
 * block at pfn (every buddy merged). -1 when none starts there. */
int zone_free_block_order(const struct zone *z, uint32_t pfn);

/* The compaction free scanner's __isolate_free_page() + split_page(): the
 * free block headed at pfn becomes MOVABLE order-0 allocations, one per
 * frame. Its order, or, taking nothing, -EINVAL when no free block starts
 * at pfn, -EBUSY when its pageblock is isolated (a block being cleared is
 * no destination). */
int zone_take_free(struct zone *z, uint32_t pfn);

/* Free blocks per order (buddyinfo); and per migratetype (pagetypeinfo:
 * on the lock-free allocator by the type its chunks' kind and isolation
 * give their pageblocks). */
void zone_nr_free(const struct zone *z, uint64_t nr_free[NR_ORDERS]);
void zone_nr_free_type(const struct zone *z, enum migratetype mt, uint64_t nr_free[NR_ORDERS]);

/* buddy_suitable_free_block(): could an allocation of order as mt be
 * served without stealing (a block of its own type, or a wholly free
 * pageblock it could claim)? */
bool zone_suitable_free_block(const struct zone *z, unsigned int order, enum migratetype mt);

/* MIGRATE_ISOLATE on pageblock of pfn: nothing is allocated in it until it
 * is unisolated as type mt. false when it cannot be (lock-free: its chunk
 * is allocated whole or isolated already). */
bool zone_isolate_pageblock(struct zone *z, uint32_t pfn);
void zone_unisolate_pageblock(struct zone *z, uint32_t pfn, enum migratetype mt);

/* buddy_check(), or on the lock-free allocator lf_check() and the
 * descriptors against the bits: every used frame's bit set and every free
 * frame's clear, the counters right. 0 or -EUCLEAN with msg. */
int zone_check(const struct zone *z, char *msg, size_t len);

#endif
