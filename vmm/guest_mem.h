/* Guest memory realised from the p2m: one KVM memslot over a reserved
 * range of the VMM's address space, in which each run of guest frames
 * backed by consecutive pool frames is one mmap(MAP_FIXED|MAP_SHARED) of
 * the pool file, and each discarded frame an inaccessible hole. The VMM
 * itself reads and writes guest memory through the p2m and the pool's
 * linear view, never through the memslot, so a discarded or bad address
 * is an error, not a segfault. All calls with the zone lock held. */
#ifndef VMM_GUEST_MEM_H
#define VMM_GUEST_MEM_H

#include <stdbool.h>
#include <stdint.h>

#include "mm/p2m.h"
#include "mm/pool.h"

struct guest_mem {
	struct pool *pool;
	struct p2m *p2m;
	uint8_t *base;			/* guest frame 0 in the VMM's address space */
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
 * vm.max_map_count for the worst case of this guest. */
int guest_mem_init(struct guest_mem *gm, struct pool *pool, struct p2m *p2m, uint64_t size,
		   char *err, size_t errlen);
void guest_mem_destroy(struct guest_mem *gm);

/* Populates guest frames [0, n), in order, and maps all guest memory
 * (the rest as holes): boot. */
int guest_mem_populate_all(struct guest_mem *gm, uint32_t n);

/* Re-mmaps guest frames [gfn, gfn + n) from the p2m. */
int guest_mem_remap(struct guest_mem *gm, uint32_t gfn, uint32_t n);

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

/* Mappings the p2m needs now, counted afresh. */
uint64_t guest_mem_count_mappings(const struct guest_mem *gm);
/* nr_mappings, recounted first if frames moved since. */
uint64_t guest_mem_mappings(struct guest_mem *gm);

#endif
