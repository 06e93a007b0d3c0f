/* A lock-free frame allocator, after the idea of LLFree (Wrenger et al.,
 * "LLFree: Scalable and Optionally-Persistent Page-Frame Allocation",
 * USENIX ATC '23); our own design and code.
 *
 * State, all of it changed only by atomic compare-and-swap or fetch-and-op:
 * - one bit per frame (1: used), 512 of them per chunk (2 MiB: order 9);
 * - an entry per chunk: its free frames, whether it is allocated whole
 *   (order 9, or half of an order 10), and its kind (movable or not, the
 *   way a pageblock's migratetype keeps the two apart);
 * - per group of LF_GROUP_CHUNKS chunks (64 MiB): its free frames and a
 *   reservation hint.
 * Each thread (a vCPU, the compactor) has a struct lf_local and reserves a
 * group per kind to allocate in, so threads touch different cache lines.
 * A frame is reserved in its chunk's counter before its bit is set, and a
 * freed frame's bit is cleared before the counter gives it back: a chunk's
 * counter never promises a frame its bits do not have, and a whole-chunk
 * allocation (counter 512 -> 0) can never race a single frame's.
 *
 * Orders 0, 9 and 10 are allocated; others are -EINVAL (a free at one
 * of them answers as the buddy would for a block never allocated at that
 * order: -ENOENT if the frame is free, -EINVAL if not). Error contract as
 * buddy_alloc()/buddy_free() (mm/buddy.h). About 0.13 bytes of state per
 * frame. */
#ifndef MM_LOCKFREE_H
#define MM_LOCKFREE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mm/frame.h"

#define LF_CHUNK_ORDER		PAGEBLOCK_ORDER
#define LF_CHUNK_FRAMES		(1U << LF_CHUNK_ORDER)
#define LF_WORDS_PER_CHUNK	(LF_CHUNK_FRAMES / 64)
#define LF_GROUP_CHUNKS		32
#define LF_GROUP_FRAMES		(LF_GROUP_CHUNKS * LF_CHUNK_FRAMES)

/* What a chunk holds, kept apart as pageblock migratetypes keep them. */
enum lf_kind {
	LF_KIND_NONE,		/* never allocated from */
	LF_KIND_MOVABLE,
	LF_KIND_UNMOVABLE,	/* MIGRATE_UNMOVABLE and MIGRATE_RECLAIMABLE */
	LF_NR_KINDS
};

/* A chunk entry: free frames (0..512), flags, kind. */
#define LF_CHUNK_FREE_MASK	0x3ffU
#define LF_CHUNK_HUGE		(1U << 10)	/* allocated whole: order 9 or 10 */
#define LF_CHUNK_PAIR_HEAD	(1U << 11)	/* first half of an order-10 block */
#define LF_CHUNK_PAIR_TAIL	(1U << 12)	/* second half */
#define LF_CHUNK_PAIR_BUSY	(LF_CHUNK_PAIR_HEAD | LF_CHUNK_PAIR_TAIL)
						/* on a head: the pair is being built or
						 * freed, and no call but that one's
						 * changes or accepts it */
#define LF_CHUNK_ISOLATED	(1U << 13)	/* being cleared: nothing is allocated in it */
#define LF_CHUNK_KIND_SHIFT	14
#define LF_CHUNK_KIND_MASK	3U

/* A cache line each: threads in different groups share no line. */
struct lf_group {
	_Alignas(64) _Atomic uint32_t free;	/* free frames in the group's chunks */
};

/* Who allocates in a group, apart from its counter: a thread looking for
 * a group reads every group's hints, which change only when a group is
 * reserved, and its counter only where the hints suit (reading the others'
 * counters, written at each of their allocations and frees, pulled their
 * lines away from them: two threads at random order-0 operations scaled
 * 1.6x instead of 1.8x). */
struct lf_group_hint {
	_Atomic uint32_t reserved;		/* how many locals allocate here */
	_Atomic uint32_t owner;			/* the local that last reserved it: its
						 * frees come back here */
};

struct lf_pool {
	uint32_t nr_frames;
	uint32_t nr_chunks;
	uint32_t nr_groups;
	_Atomic uint64_t *bits;		/* LF_WORDS_PER_CHUNK per chunk */
	_Atomic uint32_t *chunks;	/* one entry per chunk */
	struct lf_group *groups;
	struct lf_group_hint *hints;	/* one per group */
	bool external;			/* bits and chunks are the caller's memory */
	_Atomic uint32_t next_group;	/* where the next search for a group starts */
	_Atomic uint32_t nr_locals;	/* ids handed to lf_locals */
};

/* One thread's allocation context: the group it reserved per kind, and
 * the chunk it took its last frame from. Written by its thread's
 * allocations: a cache line of its own, or threads slow each other. */
struct lf_local {
	_Alignas(64) uint32_t group[LF_NR_KINDS];	/* UINT32_MAX: none */
	uint32_t chunk[LF_NR_KINDS];
	uint32_t id;			/* from the pool at its first reservation; 0: none yet */
};

/* Returns 0, -EINVAL when nr_frames is not a whole number of chunks, or is
 * 0 or more than ZONE_MAX_FRAMES-like limits allow, -ENOMEM. All free. */
int lf_init(struct lf_pool *p, uint64_t nr_frames);
void lf_destroy(struct lf_pool *p);

/* The same on the caller's memory for the bits (nr_frames / 64 words) and
 * chunk entries (one per chunk), as a persistent pool maps them from its
 * file: all free if fresh, else as they are, for lf_recover(). The
 * caller's memory outlives the pool (lf_destroy() leaves it). */
int lf_init_on(struct lf_pool *p, uint64_t nr_frames, _Atomic uint64_t *bits,
	       _Atomic uint32_t *chunks, bool fresh);

/* What lf_recover() repaired. */
struct lf_recovery {
	uint32_t busy_chunks;		/* a split, or a pair being built or freed, in
					 * flight when the process died: made frames */
	uint32_t broken_pairs;		/* half of a pair without the other half */
	uint32_t isolated_chunks;	/* isolation ended */
	uint32_t counts_fixed;		/* chunk counters that disagreed with the bits */
};

/* Makes the bits and chunk entries a process left when it died at any
 * instant into a state lf_check() accepts with no call in flight. Whatever
 * a call had made busy (a split, or a pair being built or freed: in each,
 * nobody but that call had the block, or its owner had it whole) is
 * finished as a split, every frame of it allocated, so nothing an owner
 * may hold is lost; half of a pair without the other half likewise;
 * isolation ends; every chunk's free count is recounted from its bits and
 * every group's from its chunks. Which allocated frames anyone owns the
 * allocator cannot know: the caller frees the rest (pmem_reconcile()). */
void lf_recover(struct lf_pool *p, struct lf_recovery *r);

void lf_local_init(struct lf_local *l);
/* Gives up l's group reservations (a thread that stops allocating). */
void lf_local_release(struct lf_pool *p, struct lf_local *l);

/* Allocates 2^order frames aligned to 2^order as mt: 0 and the first
 * frame in *pfn, -EINVAL for an order other than 0, 9, 10 or a type that
 * cannot be allocated, -ENOMEM when nothing fits. Any thread, at any time,
 * each with its own l. */
int lf_alloc(struct lf_pool *p, struct lf_local *l, unsigned int order, enum migratetype mt,
	     uint32_t *pfn);

/* Frees what lf_alloc() returned. 0, or, changing nothing: -EINVAL for a
 * bad order, a misaligned frame, a frame that is not the start of an
 * allocation of that order; -ERANGE for a frame outside the pool; -ENOENT
 * for a frame that is not allocated (double free). */
int lf_free(struct lf_pool *p, uint32_t pfn, unsigned int order);

/* Allocates a frame in chunk c as mt, when c is of mt's kind and in use,
 * not isolated and not allocated whole: the compaction free scanner's way
 * to take a destination (never in a wholly free chunk, as the kernel's
 * suitable_migration_target() refuses a free pageblock), by the same
 * atomic steps as lf_alloc(). 0, -ENOMEM when c has no such frame,
 * -EINVAL for a bad type or chunk. */
int lf_alloc_in_chunk(struct lf_pool *p, uint32_t c, enum migratetype mt, uint32_t *pfn);

/* Allocates frame pfn itself as mt (in a chunk of mt's kind, a wholly
 * free one, or, failing both, any): to rebuild a given layout, as a
 * benchmark copying another allocator's state does. 0, -EBUSY when it is
 * used or its chunk is allocated whole or isolated (nothing changed),
 * -ERANGE outside the pool, -EINVAL for a type one cannot allocate as. */
int lf_alloc_at(struct lf_pool *p, uint32_t pfn, enum migratetype mt);

/* Isolates chunk c (MIGRATE_ISOLATE for a pageblock): no allocation takes
 * a frame in it until lf_unisolate_chunk() (but one that reserved its frame
 * just before may still complete); frees still come back. false when it is
 * allocated whole, isolated already, or not in the pool. */
bool lf_isolate_chunk(struct lf_pool *p, uint32_t c);
void lf_unisolate_chunk(struct lf_pool *p, uint32_t c);

/* Chunk c's entry (c < nr_chunks), a snapshot: free frames, flags, kind. */
static inline uint32_t lf_chunk_entry(const struct lf_pool *p, uint32_t c)
{
	return atomic_load_explicit(&p->chunks[c], memory_order_relaxed);
}

static inline uint32_t lf_entry_free(uint32_t e)
{
	return e & LF_CHUNK_FREE_MASK;
}

static inline enum lf_kind lf_entry_kind(uint32_t e)
{
	return (enum lf_kind)((e >> LF_CHUNK_KIND_SHIFT) & LF_CHUNK_KIND_MASK);
}

/* split_page() for whole chunks: the order-9 or order-10 allocation at
 * pfn becomes order-0 allocations of every frame in it (their bits set,
 * the counters 0), so they can be freed or moved one by one. 0; or,
 * changing nothing, -ERANGE outside the pool, -ENOENT for a free frame,
 * -EINVAL for a frame inside a whole-chunk allocation but not its head
 * (as buddy_split(); a frame allocated alone is split already: 0). */
int lf_split(struct lf_pool *p, uint32_t pfn);

/* Is frame pfn allocated (as a frame or in a whole chunk)? A snapshot;
 * false outside the pool. */
bool lf_frame_used(const struct lf_pool *p, uint32_t pfn);

/* Free frames: the sum of the groups' counters (exact when quiet). */
uint64_t lf_free_frames(const struct lf_pool *p);

/* Free blocks per order as the buddy would have them with every buddy
 * merged (the largest aligned all-free blocks), so buddyinfo and the
 * fragmentation indices mean what the kernel means. A snapshot. */
void lf_nr_free(const struct lf_pool *p, uint64_t nr_free[NR_ORDERS]);

/* Adds chunk c's free blocks to nr_free, as lf_nr_free() counts them but
 * with a wholly free chunk as one block of order 9 (pairs are the
 * caller's to merge). A snapshot. */
void lf_chunk_nr_free(const struct lf_pool *p, uint32_t c, uint64_t nr_free[NR_ORDERS]);

/* The order of the largest aligned all-free block that starts at pfn (the
 * buddy's free block head, with every buddy merged), or -1 when pfn is
 * used or outside the pool. A snapshot. */
int lf_free_order(const struct lf_pool *p, uint32_t pfn);

/* A chunk's kind (enum lf_kind) and whether it is allocated whole. */
enum lf_kind lf_chunk_kind(const struct lf_pool *p, uint32_t chunk);

/* Bytes of allocation state: bitfield, chunk entries, groups. */
size_t lf_metadata_bytes(const struct lf_pool *p);

/* Checks, with no allocation in flight, that every counter matches the
 * bits and flags. 0, or -EUCLEAN with what is wrong in msg. */
int lf_check(const struct lf_pool *p, char *msg, size_t len);

#endif
