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
 * left for later, off the guest's path. All calls with the zone lock
 * held. */
#ifndef VMM_GUEST_MEM_H
#define VMM_GUEST_MEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mm/p2m.h"
#include "mm/pool.h"

#define GUEST_CHUNK_FRAMES	512	/* frames per memslot: 2 MiB */
#define GUEST_CHUNK_BYTES	(2ULL << 20)
#define GUEST_STALE_MAX		32	/* chunks whose spare side may wait for teardown */

struct guest_mem {
	struct pool *pool;
	struct p2m *p2m;
	uint8_t *side_base[2];		/* guest frame 0 on either side */
	uint8_t *side;			/* per chunk: the side its memslot maps */
	uint8_t *stale;			/* per chunk: its spare side still maps old frames */
	uint32_t nr_chunks, nr_stale;
	int vm_fd;			/* the memslots' VM, once set */
	uint64_t size;
	uint32_t nr_gfns;
	uint32_t unit;			/* frames per mapping unit: 1, or 512 for hugetlb */
	uint64_t nr_mappings;		/* mmap'ed segments the memslot is made of */
	bool mappings_stale;		/* frames moved: nr_mappings needs a recount */
	long map_limit;			/* vm.max_map_count we may use */
	bool holds_max_map_count;	/* sysctl_hold()s it, to unhold */
	void *reserve;			/* what we reserved, for munmap */
	uint64_t reserve_size;
};

/* Reserves the address range (2 MiB aligned) and checks or raises
 * vm.max_map_count for the worst case of this guest; size is a multiple
 * of GUEST_CHUNK_BYTES. */
int guest_mem_init(struct guest_mem *gm, struct pool *pool, struct p2m *p2m, uint64_t size,
		   char *err, size_t errlen);
void guest_mem_destroy(struct guest_mem *gm);

/* Populates guest frames [0, n), in order, and maps all guest memory
 * (the rest as holes): boot. */
int guest_mem_populate_all(struct guest_mem *gm, uint32_t n);

/* Adds a memslot per chunk to the VM, each over side 0; errors in err. */
int guest_mem_set_memslots(struct guest_mem *gm, int vm_fd, char *err, size_t errlen);

/* Where guest frame gfn is mapped now (its chunk's side). */
uint8_t *guest_mem_hva(const struct guest_mem *gm, uint32_t gfn);

/* Re-mmaps guest frames [gfn, gfn + n) from the p2m. */
int guest_mem_remap(struct guest_mem *gm, uint32_t gfn, uint32_t n);
/* Maps guest frames [gfn, gfn + n) to pool frames [pfn, pfn + n), or as
 * holes when pfn is PFN_NONE; the p2m is the caller's to update. */
int guest_mem_map_frames(struct guest_mem *gm, uint32_t gfn, uint32_t n, uint32_t pfn);

/* Moving a whole chunk: map it on the spare side to the pool frames
 * [pfn, pfn + GUEST_CHUNK_FRAMES) (the spare side must not be stale),
 * then, with the VM paused, switch its memslot over. The switch leaves
 * the old side stale: it still maps the old frames until it is cleared,
 * which must happen before they are freed. On error nothing changed. */
int guest_mem_map_spare(struct guest_mem *gm, uint32_t chunk, uint32_t pfn);
int guest_mem_switch_side(struct guest_mem *gm, uint32_t chunk);
/* The spare side of chunk: cleared now with guest_mem_clear_spare(), or
 * later by whoever frees the old frames (with pool_unmap_view()), after
 * which guest_mem_spares_cleared() says so. */
uint8_t *guest_mem_spare_hva(const struct guest_mem *gm, uint32_t chunk);
void guest_mem_clear_spare(struct guest_mem *gm, uint32_t chunk);
void guest_mem_spares_cleared(struct guest_mem *gm);

/* The range operations behind the guest requests, frame by frame, after
 * the caller checked the range. populate: -ENOMEM (nothing changed) when
 * the pool or the mapping limit runs out. */
int guest_mem_populate(struct guest_mem *gm, uint32_t gfn, uint32_t n);
int guest_mem_discard(struct guest_mem *gm, uint32_t gfn, uint32_t n);

/* Copies between guest memory and the VMM; -EFAULT if any byte is not
 * backed, -ERANGE if outside guest memory. */
int guest_read(struct guest_mem *gm, uint64_t gpa, void *buf, uint64_t len);
int guest_write(struct guest_mem *gm, uint64_t gpa, const void *buf, uint64_t len);

/* 2 MiB ranges of guest memory the kernel backs with huge pages (smaps:
 * ShmemPmdMapped, FilePmdMapped, Hugetlb), or -1. */
int64_t guest_mem_host_huge_ranges(const struct guest_mem *gm);

/* Checks what the guest really sees (the process's mappings, from
 * /proc/self/maps) against the p2m: each guest frame on its chunk's side
 * maps its pool frame read-write, or is an inaccessible hole when not
 * populated; spare sides map pool frames only while stale. 0, or
 * -EUCLEAN with the first difference in msg. Zone lock held. */
int guest_mem_check_view(const struct guest_mem *gm, char *msg, size_t len);

/* Mappings the p2m needs now, counted afresh. */
uint64_t guest_mem_count_mappings(const struct guest_mem *gm);
/* nr_mappings, recounted first if frames moved since. */
uint64_t guest_mem_mappings(struct guest_mem *gm);

#endif
