/* The buddy allocator over the frame pool: Linux's zone, one level down.
 * Orders 0..MAX_ORDER, a free list per order and migratetype, pageblocks of
 * PAGEBLOCK_ORDER frames (2 MiB) each with a migratetype, fallback and block
 * claiming as in mm/page_alloc.c (v6.15: __rmqueue_claim/__rmqueue_steal),
 * and the kernel's free-list hygiene: a free block always sits on the list
 * of its pageblock's migratetype.
 *
 * Locking: the buddy_* calls do not lock. Callers that share a zone
 * between threads hold zone->lock around them (zone_lock()/zone_unlock()). */
#ifndef MM_BUDDY_H
#define MM_BUDDY_H

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mm/clock.h"
#include "mm/frame.h"
#include "mm/vmevents.h"

struct free_area {
	uint32_t head[MIGRATE_TYPES];		/* first free block, or PFN_NONE */
	uint64_t nr_free_type[MIGRATE_TYPES];	/* blocks on each list */
	uint64_t nr_free;			/* blocks of this order, all types */
};

/* Pageblock byte: low bits the migratetype, high bit compaction's skip hint. */
#define PB_MT_MASK	0x7f
#define PB_SKIP		0x80

/* One place in the code that takes the zone lock, and its holds: how
 * long the lock is held is what everyone else may wait. */
#define ZONE_LOCK_SITES		48
struct zone_lock_site {
	const char *name;		/* the function that took the lock */
	uint64_t holds;
	uint64_t total_ns, min_ns, max_ns;
};

/* Which allocator owns the zone's free frames (mm/zone_alloc.h). */
enum zone_allocator {
	ZONE_BUDDY,		/* free lists through the descriptors: this file */
	ZONE_LOCKFREE,		/* bitfields and counters: mm/lockfree.h */
	NR_ZONE_ALLOCATORS
};

struct lf_pool;
struct lf_local;
struct lf_view;

struct zone {
	enum zone_allocator allocator;
	struct lf_pool *lf;			/* ZONE_LOCKFREE: the free frames */
	struct lf_local *lf_local;		/* and its context, the lock held */
	struct lf_view *lf_view;		/* its free blocks per order, counted
						 * from the bits (mm/zone_alloc.c) */
	unsigned int pageblock_order;		/* PAGEBLOCK_ORDER but in tests */
	struct frame *frames;
	uint8_t *pageblock;			/* one byte per pageblock */
	uint32_t nr_frames;
	uint32_t nr_pageblocks;
	uint64_t free_frames;
	uint64_t nr_pinned;			/* frames with FRAME_PINNED */
	uint64_t nr_huge;			/* frames with FRAME_HUGE */
	struct free_area free_area[NR_ORDERS];
	uint64_t events[NR_VM_EVENTS];		/* compaction and migration counters */
	pthread_mutex_t lock;
	unsigned int compacting;		/* compaction runs holding frames
						 * isolated (under the lock) */
	_Atomic unsigned int lock_waiters;	/* threads in zone_lock() */
	_Atomic unsigned int lock_gen;		/* zone_lock() acquisitions */
	const char *lock_site;			/* who holds the lock now, */
	uint64_t lock_since_ns;			/* since when */
	struct zone_lock_site lock_sites[ZONE_LOCK_SITES];
	unsigned int nr_lock_sites;		/* the last one collects any overflow */
};

/* Largest pool a zone accepts: frame numbers fit in 32 bits with
 * PFN_NONE spare. The smallest is one pageblock. */
#define ZONE_MAX_FRAMES		(UINT32_MAX - PAGEBLOCK_FRAMES + 1)

/* Returns 0, -EINVAL when nr_frames is not a whole number of pageblocks or
 * out of range (less than one pageblock, or too large), -ENOMEM. All
 * frames start free, all pageblocks MOVABLE, as after the kernel's
 * memmap_init. */
int buddy_init(struct zone *z, uint64_t nr_frames);

/* The same with pageblocks of 2^pageblock_order frames (1..MAX_ORDER)
 * instead of 2 MiB: small hand-built pools for tests. */
int buddy_init_pageblock(struct zone *z, uint64_t nr_frames, unsigned int pageblock_order);
void buddy_destroy(struct zone *z);

/* What every zone has, whichever allocator owns its free frames: the
 * descriptors (all free), the pageblock bytes (all MOVABLE), the counters
 * and the lock; no free lists. 0, -EINVAL or -ENOMEM as buddy_init(). */
int zone_init_frames(struct zone *z, uint64_t nr_frames, unsigned int pageblock_order);

/* The descriptors' side of an allocation and of a free, whichever
 * allocator made it: frames [pfn, pfn + 2^order) become one used block of
 * type mt with no owner, or n frames become free; free_frames follows. */
void frames_mark_used(struct zone *z, uint32_t pfn, unsigned int order, enum migratetype mt);
void frames_mark_free(struct zone *z, uint32_t pfn, uint32_t n);

/* Would freeing the allocation of order at pfn be right? 0, or what
 * buddy_free() answers (-EINVAL, -ERANGE, -ENOENT, -EBUSY). */
int frames_check_free(const struct zone *z, uint32_t pfn, unsigned int order);

/* A copy of src's whole state, to run policies on the same start. */
int buddy_clone(struct zone *dst, const struct zone *src);

/* Allocates 2^order frames aligned to 2^order, as migratetype mt
 * (UNMOVABLE, MOVABLE or RECLAIMABLE). Returns 0 and the first frame in
 * *pfn, -EINVAL for a bad order or type, -ENOMEM when no block is free. */
int buddy_alloc(struct zone *z, unsigned int order, enum migratetype mt, uint32_t *pfn);

/* Frees what buddy_alloc() returned, coalescing buddies. Returns 0, or,
 * changing nothing: -EINVAL for a bad order, a misaligned frame, a frame
 * that is not the start of an allocation of that order; -ERANGE for a
 * frame number outside the pool; -ENOENT for a frame that is not
 * allocated (double free); -EBUSY for a pinned frame. */
int buddy_free(struct zone *z, uint32_t pfn, unsigned int order);

/* split_page(): turns the order-N allocation at pfn into 2^N order-0
 * allocations, so its frames can be freed or moved one by one. */
int buddy_split(struct zone *z, uint32_t pfn);

/* Takes the free block whose head is pfn off its free list and returns it
 * as a MOVABLE allocation of its own order (the compaction free scanner's
 * __isolate_free_page). -EINVAL if pfn is not a free block head. */
int buddy_isolate_free(struct zone *z, uint32_t pfn);

/* Would an allocation of order as mt be served from its own lists or by
 * claiming a block, without stealing a single block (compact_finished()'s
 * test)? */
bool buddy_suitable_free_block(const struct zone *z, unsigned int order, enum migratetype mt);

/* Pins a used frame (counted): compaction will not move it and it cannot
 * be freed until unpinned. -ERANGE, -ENOENT for a free frame, -EINVAL to
 * unpin a frame that is not pinned. */
int buddy_pin(struct zone *z, uint32_t pfn);
int buddy_unpin(struct zone *z, uint32_t pfn);

/* Checks the zone's consistency: every free list well linked and counted,
 * every frame in exactly one free block or allocation, the free count
 * right. 0, or -EUCLEAN with what is wrong in msg. Lock held. */
int buddy_check(const struct zone *z, char *msg, size_t len);

static inline unsigned int pfn_to_pageblock(const struct zone *z, uint32_t pfn)
{
	return pfn >> z->pageblock_order;
}

static inline uint32_t pageblock_nr_frames(const struct zone *z)
{
	return 1U << z->pageblock_order;
}

static inline uint32_t pageblock_start_pfn(const struct zone *z, uint32_t pfn)
{
	return pfn & ~(pageblock_nr_frames(z) - 1);
}

static inline enum migratetype pageblock_migratetype(const struct zone *z, uint32_t pfn)
{
	return (enum migratetype)(z->pageblock[pfn_to_pageblock(z, pfn)] & PB_MT_MASK);
}

/* Changes a pageblock's migratetype, moving its free blocks to the new
 * type's lists (move_freepages_block + set_pageblock_migratetype). */
void buddy_set_pageblock_migratetype(struct zone *z, uint32_t pfn, enum migratetype mt);

/* Ends a pageblock's isolation (MIGRATE_ISOLATE): gives it type mt and
 * lets its free blocks merge with free neighbours again
 * (unset_migratetype_isolate). */
void buddy_unisolate_pageblock(struct zone *z, uint32_t pfn, enum migratetype mt);

/* Free blocks per order, all types: one line of /proc/buddyinfo. */
void buddy_nr_free(const struct zone *z, uint64_t nr_free[NR_ORDERS]);

static inline bool frame_is_free(const struct zone *z, uint32_t pfn)
{
	return z->frames[pfn].state == FRAME_FREE;
}

/* Is flag set on frame pfn (lock held)? */
static inline bool frame_test_flag(const struct zone *z, uint32_t pfn, enum frame_flags flag)
{
	return z->frames[pfn].flags & flag;
}

/* How many times a used frame is pinned (lock held). */
static inline uint32_t frame_pins(const struct zone *z, uint32_t pfn)
{
	return z->frames[pfn].use.pins;
}

/* ---- what the zone holds, for the VMM and the tools (lock held) ---- */

struct zone_counts {
	uint64_t frames;	/* in the pool */
	uint64_t free;		/* on the free lists */
	uint64_t pinned;	/* FRAME_PINNED */
	uint64_t huge;		/* FRAME_HUGE */
};

static inline void zone_get_counts(const struct zone *z, struct zone_counts *c)
{
	*c = (struct zone_counts){ z->nr_frames, z->free_frames, z->nr_pinned, z->nr_huge };
}

static inline uint32_t zone_nr_frames(const struct zone *z)
{
	return z->nr_frames;
}

static inline uint64_t zone_free_frames(const struct zone *z)
{
	return z->free_frames;
}

static inline unsigned int zone_pageblock_order(const struct zone *z)
{
	return z->pageblock_order;
}

/* An event counter (mm/vmevents.h), as /proc/vmstat shows it. */
static inline uint64_t zone_event(const struct zone *z, enum vm_event e)
{
	return z->events[e];
}

/* Free blocks of each order on migratetype mt's lists: a row of
 * /proc/pagetypeinfo. */
static inline void buddy_nr_free_type(const struct zone *z, enum migratetype mt,
				      uint64_t nr_free[NR_ORDERS])
{
	for (unsigned int o = 0; o < NR_ORDERS; o++)
		nr_free[o] = z->free_area[o].nr_free_type[mt];
}

/* Bytes of allocator metadata per pool: descriptors and pageblock bytes. */
static inline uint64_t zone_metadata_bytes(const struct zone *z)
{
	return (uint64_t)z->nr_frames * sizeof(struct frame) + z->nr_pageblocks + sizeof(*z);
}

/* Records the hold that ends now (zone_unlock()). */
void zone_lock_account(struct zone *z);

/* zone_lock(z) records its caller as the holder, so the longest holds can
 * be told apart by where they come from (zone_lock_sites()). */
#define zone_lock(z)	zone_lock_at((z), __func__)

static inline void zone_lock_at(struct zone *z, const char *site)
{
	atomic_fetch_add(&z->lock_waiters, 1);
	pthread_mutex_lock(&z->lock);
	atomic_fetch_sub(&z->lock_waiters, 1);
	atomic_fetch_add(&z->lock_gen, 1);
	z->lock_site = site;
	z->lock_since_ns = mono_ns();
}

static inline void zone_unlock(struct zone *z)
{
	zone_lock_account(z);
	pthread_mutex_unlock(&z->lock);
}

/*
 * A long holder's pause (the kernel's lock break between compaction
 * batches): ends the hold, lets any waiter in, and takes the lock back.
 * pthread mutexes are not fair, so an unlock followed at once by a lock
 * would starve a waiter; when someone waits, this yields until another
 * thread has taken the lock (or a short while has passed).
 */
static inline void zone_lock_break(struct zone *z)
{
	unsigned int gen = atomic_load(&z->lock_gen);
	const char *site = z->lock_site;

	zone_unlock(z);
	for (int i = 0; i < 1000 && atomic_load(&z->lock_gen) == gen &&
			atomic_load(&z->lock_waiters); i++)
		sched_yield();
	zone_lock_at(z, site);
}

/* How long the lock has been held (by the caller). */
static inline uint64_t zone_lock_held_ns(const struct zone *z)
{
	return mono_ns() - z->lock_since_ns;
}

/* Breaks the lock when it has been held for max_ns: for loops whose work
 * per step is small but whose steps are many. */
static inline void zone_lock_relax(struct zone *z, uint64_t max_ns)
{
	if (zone_lock_held_ns(z) >= max_ns)
		zone_lock_break(z);
}

/* The lock's holders so far, up to max (lock held): returns how many. */
unsigned int zone_lock_sites(const struct zone *z, struct zone_lock_site *out, unsigned int max);

/* Frame flags that zone counters follow (lock held). */
static inline void frame_set_flag(struct zone *z, uint32_t pfn, enum frame_flags flag)
{
	struct frame *f = &z->frames[pfn];

	if (f->flags & flag)
		return;
	f->flags |= flag;
	if (flag == FRAME_HUGE)
		z->nr_huge++;
	else if (flag == FRAME_PINNED)
		z->nr_pinned++;
}

static inline void frame_clear_flag(struct zone *z, uint32_t pfn, enum frame_flags flag)
{
	struct frame *f = &z->frames[pfn];

	if (!(f->flags & flag))
		return;
	f->flags &= ~flag;
	if (flag == FRAME_HUGE)
		z->nr_huge--;
	else if (flag == FRAME_PINNED)
		z->nr_pinned--;
}

#endif
