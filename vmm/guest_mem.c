/* Guest memory as mappings of the pool file: boot, the memslots and their
 * two sides, the moves of whole chunks for huge ranges, access for the
 * VMM, and the accounting and checks of what the guest sees. The range
 * requests are in guest_ranges.c. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <linux/fs.h>
#include <linux/kvm.h>

#include "lib/failpoint.h"
#include "vmm/guest_mem.h"
#include "vmm/sysctl.h"

#define OTHER_MAPPINGS	8192	/* the rest of the process: libraries, stacks, pool view */
#define STALE_MAPPINGS	(GUEST_STALE_MAX * GUEST_CHUNK_FRAMES)	/* stale sides at worst */

/* Is the boundary between gfn g and g + 1 also a boundary between
 * mappings? */
static bool is_break(const struct guest_mem *gm, uint32_t g)
{
	if (gm->side[g / GUEST_CHUNK_FRAMES] != gm->side[(g + 1) / GUEST_CHUNK_FRAMES])
		return true;
	return !p2m_contiguous(gm->p2m, g);
}

uint64_t guest_mem_count_mappings(const struct guest_mem *gm)
{
	uint64_t n = 1;

	for (uint32_t g = 0; g + 1 < gm->nr_gfns; g++)
		n += is_break(gm, g);
	return n;
}

uint64_t guest_mem_mappings(const struct guest_mem *gm)
{
	uint64_t n = 1 + gm->p2m->nr_breaks;

	/* a change of side between chunks is a break the p2m does not see */
	for (uint32_t c = 1; c < gm->nr_chunks; c++)
		n += gm->side[c] != gm->side[c - 1] &&
		     p2m_contiguous(gm->p2m, c * GUEST_CHUNK_FRAMES - 1);
	return n;
}

int guest_mem_init(struct guest_mem *gm, struct pool *pool, struct p2m *p2m,
		   struct page_alloc *alloc, uint64_t ram, uint64_t size, char *err, size_t errlen)
{
	uint64_t align = 2ULL << 20, worst;
	long limit;

	memset(gm, 0, sizeof(*gm));
	gm->pagemap_fd = -1;
	pthread_mutex_init(&gm->lock, NULL);
	if (size % GUEST_CHUNK_BYTES || ram % GUEST_CHUNK_BYTES || ram > size) {
		snprintf(err, errlen, "guest memory must be a multiple of 2 MiB");
		return -EINVAL;
	}
	gm->pool = pool;
	gm->p2m = p2m;
	gm->alloc = alloc;
	gm->size = size;
	gm->nr_gfns = (uint32_t)(size >> FRAME_SHIFT);
	gm->unit = pool->backing == POOL_HUGETLB ? GUEST_CHUNK_FRAMES : 1;

	/* a fully scattered guest needs a mapping per unit (and one more per
	 * change of side); make sure the host allows that many before the
	 * guest starts, so a populate never runs out of them */
	worst = gm->nr_gfns / gm->unit + 1 + size / GUEST_CHUNK_BYTES + OTHER_MAPPINGS + STALE_MAPPINGS;
	limit = sysctl_hold("vm/max_map_count", (long)worst);
	if (limit < 0) {
		long now = sysctl_read_long("vm/max_map_count");

		snprintf(err, errlen,
			 "vm.max_map_count is %ld, but a %lu MiB guest may need %lu mappings "
			 "and it cannot be raised (%s): run as root, or sysctl -w vm.max_map_count=%lu",
			 now, (unsigned long)(size >> 20), (unsigned long)worst, strerror((int)-limit),
			 (unsigned long)worst);
		return -EPERM;
	}
	gm->holds_max_map_count = true;
	gm->map_limit = limit - OTHER_MAPPINGS - STALE_MAPPINGS;
	gm->vm_fd = -1;
	gm->nr_chunks = (uint32_t)(size / GUEST_CHUNK_BYTES);
	gm->nr_ram_chunks = (uint32_t)(ram / GUEST_CHUNK_BYTES);
	gm->side = calloc(gm->nr_chunks, 1);
	gm->stale = calloc(gm->nr_chunks, 1);
	gm->plugged = calloc(gm->nr_chunks, 1);
	if (!gm->side || !gm->stale || !gm->plugged) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	memset(gm->plugged, 1, gm->nr_ram_chunks);
	gm->pagemap_fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);

	/* reserve both sides, aligned so guest and host addresses agree
	 * modulo 2 MiB (what a 2 MiB host page behind guest memory needs) */
	gm->reserve_size = 2 * gm->nr_chunks * GUEST_CHUNK_BYTES + align;
	gm->reserve = mmap(NULL, gm->reserve_size, PROT_NONE,
			   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (gm->reserve == MAP_FAILED) {
		snprintf(err, errlen, "cannot reserve %lu MiB of address space: %s",
			 (unsigned long)(size >> 20), strerror(errno));
		gm->reserve = NULL;
		return -errno;
	}
	gm->side_base[0] = (uint8_t *)(((uintptr_t)gm->reserve + align - 1) & ~(uintptr_t)(align - 1));
	gm->side_base[1] = gm->side_base[0] + gm->nr_chunks * GUEST_CHUNK_BYTES;
	return 0;
}

static int set_memslot(struct guest_mem *gm, uint32_t chunk, bool present)
{
	struct kvm_userspace_memory_region region = {
		.slot = chunk,
		.guest_phys_addr = chunk * GUEST_CHUNK_BYTES,
		.memory_size = present ? GUEST_CHUNK_BYTES : 0,
		.userspace_addr = (uintptr_t)guest_mem_hva(gm, chunk * GUEST_CHUNK_FRAMES),
	};

	/* no VM yet (tests, fuzzing): there are no memslots to change */
	if (gm->vm_fd < 0)
		return 0;
	return ioctl(gm->vm_fd, KVM_SET_USER_MEMORY_REGION, &region) ? -errno : 0;
}

int guest_mem_set_memslots(struct guest_mem *gm, int vm_fd, char *err, size_t errlen)
{
	int max = ioctl(vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_NR_MEMSLOTS), e;

	if (max > 0 && gm->nr_chunks > (uint32_t)max) {
		snprintf(err, errlen, "a %lu MiB guest needs %u memslots (one per 2 MiB), KVM offers %d",
			 (unsigned long)(gm->size >> 20), gm->nr_chunks, max);
		return -E2BIG;
	}
	gm->vm_fd = vm_fd;
	for (uint32_t c = 0; c < gm->nr_chunks; c++) {
		e = set_memslot(gm, c, true);
		if (e) {
			snprintf(err, errlen, "KVM_SET_USER_MEMORY_REGION (slot %u): %s", c, strerror(-e));
			return e;
		}
	}
	return 0;
}

uint8_t *guest_mem_hva(const struct guest_mem *gm, uint32_t gfn)
{
	return gm->side_base[gm->side[gfn / GUEST_CHUNK_FRAMES]] + ((uint64_t)gfn << FRAME_SHIFT);
}

uint8_t *guest_mem_spare_hva(const struct guest_mem *gm, uint32_t chunk)
{
	return gm->side_base[!gm->side[chunk]] + chunk * GUEST_CHUNK_BYTES;
}

/* Maps len bytes of pool frames from pfn at addr. */
static int map_pool(struct guest_mem *gm, uint8_t *addr, uint64_t len, uint32_t pfn)
{
	return mmap(addr, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, gm->pool->fd,
		    (off_t)pfn << FRAME_SHIFT) == MAP_FAILED ? -errno : 0;
}

/* The end of the frames from gfn (before end) whose chunks map the same
 * side: one stretch of address space. */
static uint32_t same_side_end(const struct guest_mem *gm, uint32_t gfn, uint32_t end)
{
	uint32_t c = gfn / GUEST_CHUNK_FRAMES, next = (c + 1) * GUEST_CHUNK_FRAMES;

	while (next < end && gm->side[next / GUEST_CHUNK_FRAMES] == gm->side[c])
		next += GUEST_CHUNK_FRAMES;
	return next < end ? next : end;
}

int guest_mem_map_frames(struct guest_mem *gm, uint32_t gfn, uint32_t n, uint32_t pfn)
{
	for (uint32_t end = gfn + n, stop; gfn < end; gfn = stop) {
		uint8_t *addr = guest_mem_hva(gm, gfn);
		uint64_t len;
		int err;

		stop = same_side_end(gm, gfn, end);
		len = (uint64_t)(stop - gfn) << FRAME_SHIFT;
		if (pfn == PFN_NONE) {
			err = pool_view_hole(addr, len);
		} else {
			err = map_pool(gm, addr, len, pfn);
			pfn += stop - gfn;
		}
		if (err)
			return err;
	}
	return 0;
}

int guest_mem_map_spare(struct guest_mem *gm, uint32_t chunk, uint32_t pfn)
{
	uint8_t *addr = guest_mem_spare_hva(gm, chunk);
	int err;

	if (gm->stale[chunk])
		return -EBUSY;	/* its teardown is still to come */
	err = map_pool(gm, addr, GUEST_CHUNK_BYTES, pfn);
	if (err)
		pool_view_hole(addr, GUEST_CHUNK_BYTES);	/* whatever the failed mmap left */
	return err;
}

void guest_mem_clear_spare(struct guest_mem *gm, uint32_t chunk)
{
	if (pool_view_hole(guest_mem_spare_hva(gm, chunk), GUEST_CHUNK_BYTES)) {
		/* it would keep mapping frames about to be reused */
		fprintf(stderr, "vmdefrag: cannot unmap a spare side: %s\n", strerror(errno));
		abort();
	}
	if (gm->stale[chunk]) {
		gm->stale[chunk] = 0;
		gm->nr_stale--;
	}
}

void guest_mem_spares_cleared(struct guest_mem *gm)
{
	memset(gm->stale, 0, gm->nr_chunks);
	gm->nr_stale = 0;
}

/* Turns chunk over to its other side; the zone lock covers the change,
 * as the mover and the queries read the sides under it. */
static void flip_side(struct guest_mem *gm, uint32_t chunk)
{
	zone_lock(&gm->pool->zone);
	gm->side[chunk] ^= 1;
	zone_unlock(&gm->pool->zone);
}

int guest_mem_switch_side(struct guest_mem *gm, uint32_t chunk)
{
	int err = set_memslot(gm, chunk, false);

	if (err)
		return err;
	flip_side(gm, chunk);
	err = set_memslot(gm, chunk, true);
	if (err) {
		flip_side(gm, chunk);
		if (set_memslot(gm, chunk, true)) {
			/* the guest has lost this memory: nothing sane is left */
			fprintf(stderr, "vmdefrag: cannot restore the memslot of chunk %u: %s\n",
				chunk, strerror(errno));
			abort();
		}
		return err;
	}
	gm->stale[chunk] = 1;
	gm->nr_stale++;
	return 0;
}

void guest_mem_destroy(struct guest_mem *gm)
{
	free(gm->side);
	free(gm->stale);
	free(gm->plugged);
	gm->side = gm->stale = gm->plugged = NULL;
	if (gm->pagemap_fd >= 0)
		close(gm->pagemap_fd);
	gm->pagemap_fd = -1;
	if (gm->reserve)
		munmap(gm->reserve, gm->reserve_size);
	gm->reserve = NULL;
	if (gm->holds_max_map_count)
		sysctl_unhold("vm/max_map_count");
	gm->holds_max_map_count = false;
}

int guest_mem_remap(struct guest_mem *gm, uint32_t gfn, uint32_t n)
{
	uint32_t end = gfn + n;

	while (gfn < end) {
		uint32_t pfn = p2m_lookup(gm->p2m, gfn), len = 1;
		int err;

		if (pfn == PFN_NONE) {
			while (gfn + len < end && p2m_lookup(gm->p2m, gfn + len) == PFN_NONE)
				len++;
		} else {
			while (gfn + len < end && p2m_lookup(gm->p2m, gfn + len) == pfn + len)
				len++;
		}
		err = guest_mem_map_frames(gm, gfn, len, pfn);
		if (err)
			return err;
		gfn += len;
	}
	return 0;
}

int guest_mem_populate_all(struct guest_mem *gm, uint32_t n)
{
	struct zone *z = &gm->pool->zone;

	for (uint32_t gfn = 0; gfn < n;) {
		unsigned int order = MAX_ORDER;
		uint32_t pfn;
		int err;

		while ((gfn & ((1U << order) - 1)) || gfn + (1U << order) > n ||
		       !zone_order_allocatable(z, order))
			order--;
		err = zone_alloc(z, order, MIGRATE_MOVABLE, &pfn);
		if (err)
			return err;
		zone_split(z, pfn);
		pool_sync_state(gm->pool);	/* sync: the bits before the p2m */
		for (uint32_t i = 0; i < (1U << order); i++)
			p2m_map(gm->p2m, gfn + i, pfn + i);
		gfn += 1U << order;
	}
	return guest_mem_remap(gm, 0, gm->nr_gfns);
}

/* Copies len bytes between guest memory at gpa and buf, page by page
 * through the p2m and the pool file. pread/pwrite, not the pool's view:
 * a fault on the view under the zone lock could wait on the mmap lock
 * another thread holds for an mmap. The view only where the file cannot
 * be read or written (anonymous pools; hugetlbfs does not write). */
static int guest_copy(struct guest_mem *gm, uint64_t gpa, uint8_t *buf, uint64_t len, bool to_guest)
{
	if (gpa >= gm->size || len > gm->size - gpa)
		return -ERANGE;
	while (len) {
		uint32_t pfn = p2m_lookup(gm->p2m, (uint32_t)(gpa >> FRAME_SHIFT));
		uint64_t off = gpa & (FRAME_SIZE - 1), chunk = FRAME_SIZE - off;
		off_t at = ((off_t)pfn << FRAME_SHIFT) + (off_t)off;
		uint8_t *frame;
		ssize_t done;

		if (pfn == PFN_NONE)
			return -EFAULT;
		if (chunk > len)
			chunk = len;
		done = to_guest ? pwrite(gm->pool->fd, buf, chunk, at) : pread(gm->pool->fd, buf, chunk, at);
		if (done != (ssize_t)chunk) {
			frame = (uint8_t *)pool_frame(gm->pool, pfn) + off;
			if (to_guest)
				memcpy(frame, buf, chunk);
			else
				memcpy(buf, frame, chunk);
		}
		buf += chunk;
		gpa += chunk;
		len -= chunk;
	}
	return 0;
}

int guest_read(struct guest_mem *gm, uint64_t gpa, void *buf, uint64_t len)
{
	int err;

	zone_lock(&gm->pool->zone);
	err = guest_copy(gm, gpa, buf, len, false);
	zone_unlock(&gm->pool->zone);
	return err;
}

int guest_write(struct guest_mem *gm, uint64_t gpa, const void *buf, uint64_t len)
{
	int err;

	zone_lock(&gm->pool->zone);
	err = guest_copy(gm, gpa, (uint8_t *)(uintptr_t)buf, len, true);
	zone_unlock(&gm->pool->zone);
	return err;
}

/* ---- what is guest memory ---- */

bool guest_mem_usable(const struct guest_mem *gm, uint32_t gfn, uint32_t n)
{
	if (!n || gfn >= gm->nr_gfns || n > gm->nr_gfns - gfn)
		return false;
	for (uint32_t c = gfn / GUEST_CHUNK_FRAMES; c <= (gfn + n - 1) / GUEST_CHUNK_FRAMES; c++)
		if (!gm->plugged[c])
			return false;
	return true;
}

uint32_t guest_mem_find_plug_slot(const struct guest_mem *gm, uint32_t n)
{
	/* first fit, aligned to the block within the plug area */
	for (uint32_t c = gm->nr_ram_chunks; n && c + n <= gm->nr_chunks; c += n) {
		bool free_run = true;

		for (uint32_t k = 0; k < n; k++)
			free_run &= !gm->plugged[c + k];
		if (free_run)
			return c;
	}
	return UINT32_MAX;
}

int guest_mem_plug(struct guest_mem *gm, uint32_t chunk, uint32_t n, uint32_t blk)
{
	struct zone *z = &gm->pool->zone;
	uint32_t g0 = chunk * GUEST_CHUNK_FRAMES, frames = n * GUEST_CHUNK_FRAMES;
	int err;

	/* mapped before the zone lock: the slot is nobody's until plugged */
	err = guest_mem_map_frames(gm, g0, frames, blk);
	if (err) {
		if (guest_mem_map_frames(gm, g0, frames, PFN_NONE)) {
			fprintf(stderr, "vmdefrag: cannot unmap a failed plug: %s\n", strerror(errno));
			abort();
		}
		return err;
	}
	zone_lock(z);
	for (uint32_t i = 0; i < frames; i++) {
		err = p2m_map(gm->p2m, g0 + i, blk + i);
		if (err) {
			fprintf(stderr, "vmdefrag: BUG: plugging guest frame %u: %s\n", g0 + i, strerror(-err));
			abort();
		}
		frame_set_flag(z, blk + i, FRAME_HUGE);
	}
	memset(gm->plugged + chunk, 1, n);
	zone_unlock(z);
	return 0;
}

/* ---- moving whole chunks ---- */

int guest_mem_claim_chunk(struct guest_mem *gm, uint32_t chunk, uint32_t old[GUEST_CHUNK_FRAMES],
			  bool *in_order)
{
	struct zone *z = &gm->pool->zone;
	uint32_t g0 = chunk * GUEST_CHUNK_FRAMES, first;

	zone_lock(z);
	first = p2m_lookup(gm->p2m, g0);
	*in_order = first != PFN_NONE && !(first % GUEST_CHUNK_FRAMES);
	for (uint32_t i = 0; i < GUEST_CHUNK_FRAMES; i++) {
		old[i] = p2m_lookup(gm->p2m, g0 + i);
		if (old[i] != PFN_NONE && frame_test_flag(z, old[i], FRAME_PINNED)) {
			zone_unlock(z);
			*in_order = false;
			return -EBUSY;
		}
		if (old[i] != first + i)
			*in_order = false;
	}
	/* marked while the lock is held, so compaction leaves them be */
	for (uint32_t i = 0; i < GUEST_CHUNK_FRAMES; i++)
		if (old[i] != PFN_NONE)
			frame_set_flag(z, old[i], *in_order ? FRAME_HUGE : FRAME_MOVING);
	zone_unlock(z);
	return 0;
}

void guest_mem_unclaim_chunk(struct guest_mem *gm, uint32_t chunk)
{
	struct zone *z = &gm->pool->zone;

	zone_lock(z);
	for (uint32_t i = 0; i < GUEST_CHUNK_FRAMES; i++) {
		uint32_t pfn = p2m_lookup(gm->p2m, chunk * GUEST_CHUNK_FRAMES + i);

		if (pfn != PFN_NONE)
			frame_clear_flag(z, pfn, FRAME_MOVING);
	}
	zone_unlock(z);
}

void guest_mem_rebind_chunk(struct guest_mem *gm, uint32_t chunk, uint32_t blk,
			    uint32_t old[GUEST_CHUNK_FRAMES], unsigned int *nr_old)
{
	struct zone *z = &gm->pool->zone;
	uint32_t g0 = chunk * GUEST_CHUNK_FRAMES;

	*nr_old = 0;
	zone_lock(z);
	for (uint32_t i = 0; i < GUEST_CHUNK_FRAMES; i++) {
		uint32_t pfn = p2m_lookup(gm->p2m, g0 + i);
		int err;

		/* a mapped guest frame is switched by one store (p2m_move),
		 * never unmapped on the way: a persistent pool's p2m is in its
		 * file, and a crash between two stores must find the frame
		 * still mapped, to the old frame or the new (both hold its
		 * data while the vCPUs are held out) */
		if (pfn != PFN_NONE) {
			frame_clear_flag(z, pfn, FRAME_MOVING);
			frame_clear_flag(z, pfn, FRAME_HUGE);
			err = p2m_move(gm->p2m, pfn, blk + i);
			old[(*nr_old)++] = pfn;
		} else {
			err = p2m_map(gm->p2m, g0 + i, blk + i);
		}
		if (err) {
			/* the block is the caller's, allocated and unowned */
			fprintf(stderr, "vmdefrag: BUG: frame %u of a new block is not free to map\n", blk + i);
			abort();
		}
		frame_set_flag(z, blk + i, FRAME_HUGE);
		FAILPOINT("huge-rebinding");	/* part of the chunk on each side */
	}
	zone_unlock(z);
}

/* ---- host huge pages ---- */

/* PAGEMAP_SCAN (Linux 6.7), newer than Debian 12's headers */
#ifndef PAGEMAP_SCAN
struct page_region {
	uint64_t start, end, categories;
};

struct pm_scan_arg {
	uint64_t size, flags, start, end, walk_end, vec, vec_len, max_pages;
	uint64_t category_inverted, category_mask, category_anyof_mask, return_mask;
};

#define PAGEMAP_SCAN	_IOWR('f', 16, struct pm_scan_arg)
#define PAGE_IS_HUGE	(1 << 6)
#endif

/* Bytes of [start, end) the kernel maps with huge pages (PMD-mapped THP,
 * hugetlb), or -1 when it cannot say. */
static int64_t huge_bytes(const struct guest_mem *gm, uintptr_t start, uintptr_t end)
{
	struct page_region regions[64];
	int64_t bytes = 0;

	if (gm->pagemap_fd < 0)
		return -1;
	while (start < end) {
		struct pm_scan_arg arg = {
			.size = sizeof(arg),
			.start = start,
			.end = end,
			.vec = (uintptr_t)regions,
			.vec_len = sizeof(regions) / sizeof(regions[0]),
			.category_mask = PAGE_IS_HUGE,
			.return_mask = PAGE_IS_HUGE,
		};
		int n = ioctl(gm->pagemap_fd, PAGEMAP_SCAN, &arg);

		if (n < 0)
			return -1;
		for (int i = 0; i < n; i++)
			bytes += (int64_t)(regions[i].end - regions[i].start);
		/* a full vector: the walk stopped early, go on from there */
		if (n < (int)arg.vec_len || arg.walk_end <= start)
			break;
		start = arg.walk_end;
	}
	return bytes;
}

bool guest_mem_pmd_mapped(const struct guest_mem *gm, uint32_t gfn)
{
	uintptr_t addr = (uintptr_t)guest_mem_hva(gm, gfn);

	return huge_bytes(gm, addr, addr + GUEST_CHUNK_BYTES) == (int64_t)GUEST_CHUNK_BYTES;
}

/* Is the chunk backed by one aligned run of pool frames, the only way
 * its 2 MiB can be one host huge page? Zone lock held. */
static bool chunk_could_be_huge(const struct guest_mem *gm, uint32_t chunk)
{
	uint32_t g0 = chunk * GUEST_CHUNK_FRAMES, pfn = p2m_lookup(gm->p2m, g0);

	if (pfn == PFN_NONE || pfn % GUEST_CHUNK_FRAMES)
		return false;
	for (uint32_t i = 1; i < GUEST_CHUNK_FRAMES; i++)
		if (gm->p2m->pfn_of[g0 + i] != pfn + i)
			return false;
	return true;
}

int64_t guest_mem_host_huge_ranges(const struct guest_mem *gm)
{
	struct zone *z = &gm->pool->zone;
	uint8_t *candidate = calloc(gm->nr_chunks, 1);
	int64_t bytes = 0;

	if (!candidate)
		return -1;
	/* Ask the kernel only about chunks that could be huge: walking the
	 * page tables of every small mapping of a fragmented guest takes
	 * ~100 ms a GiB (PAGEMAP_SCAN goes VMA by VMA). The p2m says which,
	 * under the zone lock, given up every millisecond (a big guest mapped
	 * in order has many to check). */
	zone_lock(z);
	for (uint32_t c = 0; c < gm->nr_chunks; c++) {
		candidate[c] = chunk_could_be_huge(gm, c);
		if (!(c & 63))
			zone_lock_relax(z, GUEST_MEM_HOLD_NS);
	}
	zone_unlock(z);
	/* both sides of each (the one left behind by a move holds its old
	 * huge page until it is cleared), candidates next to each other in
	 * one scan */
	for (int side = 0; side < 2 && bytes >= 0; side++) {
		for (uint32_t c = 0, end; c < gm->nr_chunks && bytes >= 0; c = end) {
			int64_t b;

			if (!candidate[c]) {
				end = c + 1;
				continue;
			}
			for (end = c + 1; end < gm->nr_chunks && candidate[end]; end++)
				;
			b = huge_bytes(gm, (uintptr_t)gm->side_base[side] + (uintptr_t)c * GUEST_CHUNK_BYTES,
				       (uintptr_t)gm->side_base[side] + (uintptr_t)end * GUEST_CHUNK_BYTES);
			bytes = b < 0 ? -1 : bytes + b;
		}
	}
	free(candidate);
	return bytes < 0 ? -1 : bytes / (int64_t)GUEST_CHUNK_BYTES;
}

/* ---- consistency ---- */

/* One line of /proc/self/maps, clipped to the guest sides. */
struct view_map {
	uintptr_t start, end;
	uint64_t offset;
	bool pool;		/* maps the pool file */
	bool rw, none;		/* rw-s / ---p */
};

/* Checks one page of a side against what that side should show. */
static int check_view_page(const struct guest_mem *gm, const struct view_map *v, uintptr_t addr,
			   char *msg, size_t len)
{
	unsigned int s = addr >= (uintptr_t)gm->side_base[1];
	uint32_t gfn = (uint32_t)((addr - (uintptr_t)gm->side_base[s]) >> FRAME_SHIFT);
	uint32_t chunk = gfn / GUEST_CHUNK_FRAMES, want = p2m_lookup(gm->p2m, gfn);
	uint32_t seen = v->pool ? (uint32_t)((v->offset + (addr - v->start)) >> FRAME_SHIFT) : PFN_NONE;

	if (gm->side[chunk] != s) {
		/* the spare side: holes, or old frames while it is stale */
		if (v->pool && !gm->stale[chunk]) {
			snprintf(msg, len, "guest frame %u: the spare side of chunk %u maps frame %u", gfn,
				 chunk, seen);
			return -EUCLEAN;
		}
		return 0;
	}
	if (seen != want || (v->pool && !v->rw) || (!v->pool && !v->none)) {
		snprintf(msg, len, "guest frame %u: the guest sees %s%u, the p2m says %s%u", gfn,
			 v->pool ? "frame " : "a hole ", seen, want == PFN_NONE ? "a hole " : "frame ", want);
		return -EUCLEAN;
	}
	return 0;
}

int guest_mem_check_view(const struct guest_mem *gm, char *msg, size_t len)
{
	uintptr_t lo = (uintptr_t)gm->side_base[0], hi = (uintptr_t)gm->side_base[1] + gm->size;
	uintptr_t covered = lo;
	FILE *f = fopen("/proc/self/maps", "r");
	struct stat st;
	char line[512];
	int err = 0;

	for (uint32_t c = 0; c < gm->nr_chunks; c++) {
		for (uint32_t g = c * GUEST_CHUNK_FRAMES; !gm->plugged[c] && g < (c + 1) * GUEST_CHUNK_FRAMES; g++) {
			if (p2m_lookup(gm->p2m, g) != PFN_NONE) {
				snprintf(msg, len, "guest frame %u in an unplugged slot maps frame %u", g,
					 p2m_lookup(gm->p2m, g));
				if (f)
					fclose(f);
				return -EUCLEAN;
			}
		}
	}
	if (!f || fstat(gm->pool->fd, &st)) {
		snprintf(msg, len, "cannot read /proc/self/maps or the pool file: %s", strerror(errno));
		if (f)
			fclose(f);
		return -errno;
	}
	while (!err && fgets(line, sizeof(line), f)) {
		unsigned long start, end, offset, inode;
		char perms[8];
		struct view_map v;

		if (sscanf(line, "%lx-%lx %7s %lx %*s %lu", &start, &end, perms, &offset, &inode) != 5 ||
		    end <= lo || start >= hi)
			continue;
		v.pool = inode == st.st_ino;
		v.rw = !strcmp(perms, "rw-s");
		v.none = !strcmp(perms, "---p");
		v.start = start;
		v.offset = offset;
		start = start < lo ? lo : start;
		end = end > hi ? hi : end;
		if (start != covered) {
			snprintf(msg, len, "guest memory at 0x%lx (side %d, guest frame %lu) is not mapped at all",
				 (unsigned long)covered, covered >= (uintptr_t)gm->side_base[1],
				 (unsigned long)(((covered - lo) % gm->size) >> FRAME_SHIFT));
			err = -EUCLEAN;
		}
		for (uintptr_t a = start; !err && a < end; a += FRAME_SIZE)
			err = check_view_page(gm, &v, a, msg, len);
		covered = end;
	}
	fclose(f);
	if (!err && covered != hi) {
		snprintf(msg, len, "guest memory from 0x%lx on is not mapped at all", (unsigned long)covered);
		err = -EUCLEAN;
	}
	return err;
}
