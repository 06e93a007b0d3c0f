/* Guest memory realised from the p2m: one KVM memslot per 2 MiB chunk,
 * each over a part of a reserved range of the VMM's address space, in
 * which each run of guest frames backed by consecutive pool frames is one
 * mmap(MAP_FIXED|MAP_SHARED) of the pool file, and each discarded frame an
 * inaccessible hole. The VMM itself reads and writes guest memory through
 * the p2m and the pool's linear view, never through the memslots, so a
 * discarded or bad address is an error, not a segfault.
 *
 * The range is reserved twice (two sides). A chunk's memslot maps one
 * side; the other is spare. Re-mapping a chunk in one piece (back-huge)
 * maps the spare side and points the memslot there: tearing down the
 * hundreds of mappings a fragmented chunk is made of (~2 us each) is
 * left for later, off the guest's path.
 *
 * This module is the only code that changes what backs guest memory.
 * Locking, outermost first:
 *  - gm->lock, the guest memory lock: one change to what backs guest
 *    memory at a time (a request's populate, discard, pin, unpin, the
 *    moves of back-huge and plug-huge). A long request keeps it for its
 *    whole length, so it is all or nothing to every other request.
 *  - the zone lock (pool.zone): the pool, the p2m and the mappings. A
 *    request holds it a step at a time (a chunk's frames, or
 *    GUEST_MEM_HOLD_NS at most) and maps what a step claimed without it,
 *    so compaction, the huge reserve and the control socket never wait
 *    long, whatever a guest asks for. Compaction moves frames with the
 *    zone lock alone: it never changes whether a guest frame is populated
 *    or pinned, and leaves claimed (FRAME_MOVING) frames be.
 *  - the spare sides and their stale marks belong to back-huge, which
 *    runs one at a time (vm->huge_lock). */
#ifndef VMM_GUEST_MEM_H
#define VMM_GUEST_MEM_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mm/p2m.h"
#include "mm/page_alloc.h"
#include "mm/pool.h"

#define GUEST_CHUNK_FRAMES	PAGEBLOCK_FRAMES	/* frames per memslot: a pageblock, so
							 * a chunk can be one huge page */
#define GUEST_CHUNK_BYTES	((uint64_t)GUEST_CHUNK_FRAMES << FRAME_SHIFT)
#define GUEST_STALE_MAX		32	/* chunks whose spare side may wait for teardown */
#define GUEST_MEM_HOLD_NS	(1000 * 1000)	/* zone-lock hold of one request step */

struct guest_mem {
	struct pool *pool;
	struct p2m *p2m;
	struct page_alloc *alloc;	/* where a populate short of frames turns */
	pthread_mutex_t lock;		/* the guest memory lock (above) */
	uint8_t *side_base[2];		/* guest frame 0 on either side */
	uint8_t *side;			/* per chunk: the side its memslot maps */
	uint8_t *stale;			/* per chunk: its spare side still maps old frames */
	uint8_t *plugged;		/* per chunk: guest memory now (RAM always; a
					 * plug-area chunk once plug-huge gave it a block) */
	uint32_t nr_chunks, nr_ram_chunks, nr_stale;
	int vm_fd;			/* the memslots' VM, once set */
	int pagemap_fd;			/* /proc/self/pagemap: which ranges are PMD-mapped */
	uint64_t size;
	uint32_t nr_gfns;
	uint32_t unit;			/* frames per mapping unit: 1, or 512 for hugetlb */
	_Atomic bool stopping;		/* the run is ending: see guest_mem_stop() */
	long map_limit;			/* vm.max_map_count we may use */
	bool holds_max_map_count;	/* sysctl_hold()s it, to unhold */
	void *reserve;			/* what we reserved, for munmap */
	uint64_t reserve_size;
};

/* Reserves the address range (2 MiB aligned) and checks or raises
 * vm.max_map_count for the worst case of this guest. Guest memory is
 * size bytes, of which the first ram bytes are RAM and the rest the plug
 * area; both multiples of GUEST_CHUNK_BYTES. */
int guest_mem_init(struct guest_mem *gm, struct pool *pool, struct p2m *p2m,
		   struct page_alloc *alloc, uint64_t ram, uint64_t size, char *err, size_t errlen);
void guest_mem_destroy(struct guest_mem *gm);

/* Populates guest frames [0, n), in order, and maps all guest memory
 * (the rest as holes): boot, before anything else runs. */
int guest_mem_populate_all(struct guest_mem *gm, uint32_t n);

/* Adds a memslot per chunk to the VM, each over side 0; errors in err. */
int guest_mem_set_memslots(struct guest_mem *gm, int vm_fd, char *err, size_t errlen);

/* The run is ending: a request in progress stops at its next step, with
 * what it did so far done (consistent, not undone: nobody will see its
 * answer), so a vCPU in a long request does not hold the exit up. */
static inline void guest_mem_stop(struct guest_mem *gm)
{
	atomic_store(&gm->stopping, true);
}

static inline void guest_mem_lock(struct guest_mem *gm)
{
	pthread_mutex_lock(&gm->lock);
}

static inline void guest_mem_unlock(struct guest_mem *gm)
{
	pthread_mutex_unlock(&gm->lock);
}

/* Is [gfn, gfn + n) all guest memory now: RAM, or plugged plug area?
 * Guest memory lock or zone lock held (a plug changes it under both). */
bool guest_mem_usable(const struct guest_mem *gm, uint32_t gfn, uint32_t n);

/* Where guest frame gfn is mapped now (its chunk's side). */
uint8_t *guest_mem_hva(const struct guest_mem *gm, uint32_t gfn);

/* ---- requests: ranges checked whole, then done whole ---- */

enum guest_mem_op { GUEST_POPULATE, GUEST_DISCARD, GUEST_PIN, GUEST_UNPIN };

struct guest_range {
	uint32_t gfn, n;
};

/* Checks the ranges (usable guest memory, not overlapping, each frame in
 * a state the op accepts), then does the op on them all. The guest memory
 * lock is held, the zone lock not. On an error nothing changed, and *bad
 * is the index of the range at fault:
 *   -ERANGE     a range not in guest memory (an unplugged plug-area slot)
 *   -EINVAL     ranges that overlap (*bad: the later one)
 *   -ENOENT     pin or unpin of a frame that is not populated
 *   -EPERM      unpin of a frame that is not pinned
 *   -EBUSY      discard of a pinned frame
 *   -EOVERFLOW  a frame pinned too many times
 *   -ENOMEM     populate: too few free frames (or mappings)
 *   -EINTR      the run is ending (guest_mem_stop()): done in part
 * Work under the zone lock grows with the frames and ranges named, a step
 * at a time. Populate takes frames from wherever the allocator has them;
 * discard gives them back to the host (holes in the pool file). */
int guest_mem_apply(struct guest_mem *gm, enum guest_mem_op op, const struct guest_range *ranges,
		    size_t nr, size_t *bad);

/* A guest's request: guest_mem_apply() under the guest memory lock (not
 * held by the caller), and a populate short of frames once more after the
 * allocator gave back what it holds back (alloc_reclaim(), waited out
 * without the lock). The same errors. */
int guest_mem_request(struct guest_mem *gm, enum guest_mem_op op, const struct guest_range *ranges,
		      size_t nr, size_t *bad);

/* ---- the mover ---- */

/* Maps guest frames [gfn, gfn + n) to pool frames [pfn, pfn + n), or as
 * holes when pfn is PFN_NONE; the p2m is the caller's to update. Zone
 * lock held, or the guest memory lock with the frames claimed
 * (FRAME_MOVING) or unpopulated: then nobody else maps them. */
int guest_mem_map_frames(struct guest_mem *gm, uint32_t gfn, uint32_t n, uint32_t pfn);
/* Re-mmaps guest frames [gfn, gfn + n) from the p2m. Zone lock held. */
int guest_mem_remap(struct guest_mem *gm, uint32_t gfn, uint32_t n);

/* ---- huge ranges: back-huge and plug-huge (vm->huge_lock held) ---- */

/* A chunk's frames for back-huge, read and claimed with the zone lock
 * held: -EBUSY when one is pinned; else old[] gets each guest frame's pool
 * frame (PFN_NONE: a hole) and *in_order whether the chunk is one aligned
 * block in order already. In order, the block is marked huge (FRAME_HUGE)
 * and stays where it is; else its frames are marked FRAME_MOVING, so that
 * compaction leaves them while the zone lock is given up for the move,
 * until guest_mem_rebind_chunk() or guest_mem_unclaim_chunk(). Guest memory
 * lock held. */
int guest_mem_claim_chunk(struct guest_mem *gm, uint32_t chunk, uint32_t old[GUEST_CHUNK_FRAMES],
			  bool *in_order);
void guest_mem_unclaim_chunk(struct guest_mem *gm, uint32_t chunk);
/* The chunk's guest frames now map the aligned block at blk (its frames
 * allocated, order 0, unowned) in order, marked huge; the frames they
 * mapped before are handed back in old[] (*nr_old of them), used and
 * unowned, still mapped by the stale spare side. Guest memory lock held. */
void guest_mem_rebind_chunk(struct guest_mem *gm, uint32_t chunk, uint32_t blk,
			    uint32_t old[GUEST_CHUNK_FRAMES], unsigned int *nr_old);

/* Moving a whole chunk: map it on the spare side to the pool frames
 * [pfn, pfn + GUEST_CHUNK_FRAMES) (the spare side must not be stale),
 * then, with the VM paused, switch its memslot over (without the zone
 * lock: it takes it for the switch of sides). The switch leaves the old
 * side stale: it still maps the old frames until it is cleared, which
 * must happen before they are freed. On error nothing changed. */
int guest_mem_map_spare(struct guest_mem *gm, uint32_t chunk, uint32_t pfn);
int guest_mem_switch_side(struct guest_mem *gm, uint32_t chunk);
/* The spare side of chunk: cleared now with guest_mem_clear_spare(), or
 * later by whoever frees the old frames (with pool_view_hole()), after
 * which guest_mem_spares_cleared() says so. */
uint8_t *guest_mem_spare_hva(const struct guest_mem *gm, uint32_t chunk);
void guest_mem_clear_spare(struct guest_mem *gm, uint32_t chunk);
void guest_mem_spares_cleared(struct guest_mem *gm);

/* Plug-huge: the first run of n unplugged plug-area chunks aligned to n,
 * or UINT32_MAX. Guest memory lock held. */
uint32_t guest_mem_find_plug_slot(const struct guest_mem *gm, uint32_t n);
/* Maps the block at blk (n chunks of frames: allocated, order 0,
 * unowned) in order at chunk, marked huge, and makes those chunks guest
 * memory. 0, or a negative errno and nothing changed. Guest memory lock
 * held. */
int guest_mem_plug(struct guest_mem *gm, uint32_t chunk, uint32_t n, uint32_t blk);

/* Does one PMD map the 2 MiB at guest frame gfn (chunk aligned)? Asks the
 * kernel (PAGEMAP_SCAN); false when it cannot say. */
bool guest_mem_pmd_mapped(const struct guest_mem *gm, uint32_t gfn);
/* 2 MiB ranges of guest memory the kernel maps with one PMD (a shmem or
 * file THP, or hugetlb), from PAGEMAP_SCAN over both sides of the chunks
 * that one aligned run of pool frames backs (no other can be); -1 if the
 * kernel cannot say. Without the zone lock: it takes it to read the p2m,
 * briefly, then reads the page tables without it. */
int64_t guest_mem_host_huge_ranges(const struct guest_mem *gm);

/* ---- access and accounting ---- */

/* Copies between guest memory and the VMM; -EFAULT if any byte is not
 * backed, -ERANGE if outside guest memory. Takes the zone lock: no frame
 * moves under the copy. */
int guest_read(struct guest_mem *gm, uint64_t gpa, void *buf, uint64_t len);
int guest_write(struct guest_mem *gm, uint64_t gpa, const void *buf, uint64_t len);

/* Mappings guest memory is made of now: one per run of guest frames
 * backed alike (p2m_contiguous) on one side. Exact, from the p2m's count
 * and the chunks' sides. Zone lock held. */
uint64_t guest_mem_mappings(const struct guest_mem *gm);
/* The same counted afresh frame by frame, for checks. */
uint64_t guest_mem_count_mappings(const struct guest_mem *gm);

/* Checks what the guest really sees (the process's mappings, from
 * /proc/self/maps) against the p2m: each guest frame on its chunk's side
 * maps its pool frame read-write, or is an inaccessible hole when not
 * populated; spare sides map pool frames only while stale. Also checks
 * that plug-area chunks nobody plugged hold no frame. 0, or -EUCLEAN with
 * the first difference in msg. Zone lock held. */
int guest_mem_check_view(const struct guest_mem *gm, char *msg, size_t len);

#endif
