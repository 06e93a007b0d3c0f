/* Huge regions for the guest: back-huge moves a 2 MiB guest range into one
 * aligned pool block, in order; plug-huge plugs a fresh aligned block into
 * the plug area. Either asks the kernel for a real 2 MiB host page
 * (MADV_COLLAPSE on the shmem mapping), counts direct-compaction stalls as
 * the kernel does, and wakes kcompactd after one. Blocks come from the
 * huge reserve when it has one ready (already a host huge page, so the
 * collapse only maps it). back-huge maps the block on the chunk's spare
 * side and switches the chunk's memslot over to it (guest_mem.h); the
 * reserve's thread then tears the old side down and punches the frames it
 * gave up: a request costs a 2 MiB copy, one mmap and a memslot switch. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "guest/include/vmdefrag_abi.h"
#include "vmm/vm.h"

#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE	25
#endif

#define HUGE_FRAMES	512
#define HUGE_BYTES	(2ULL << 20)

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

static void *copier_thread(void *arg);

int huge_init(struct vm *vm)
{
	struct huge_copier *c = &vm->copier;

	FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/shmem_enabled", "r");
	char line[256] = "";

	if (f) {
		if (!fgets(line, sizeof(line), f))
			line[0] = '\0';
		fclose(f);
	}
	/* MADV_COLLAPSE works under every setting but deny */
	vm->thp_denied = !f || strstr(line, "[deny]");
	if (vm->pool.backing == POOL_MEMFD && vm->thp_denied)
		fprintf(stderr, "vmdefrag: the host denies THP for shmem (%s): guest memory stays on "
			"4 KiB pages\n", f ? "shmem_enabled is deny" : "no shmem_enabled");
	/* where allowed, let the kernel use huge pages for guest memory */
	if (vm->pool.backing == POOL_MEMFD && !vm->thp_denied)
		madvise(guest_mem_hva(&vm->gm, 0), vm->guest_bytes, MADV_HUGEPAGE);
	if (vm->cfg.plug_bytes) {
		vm->plugged = calloc(vm->cfg.plug_bytes / HUGE_BYTES, 1);
		if (!vm->plugged)
			return -ENOMEM;
	}
	vm->pagemap_fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->cond, NULL);
	/* without it back-huge copies on its own thread */
	if (vm->pool.backing == POOL_MEMFD)
		c->running = !pthread_create(&c->thread, NULL, copier_thread, vm);
	return 0;
}

void huge_destroy(struct vm *vm)
{
	struct huge_copier *c = &vm->copier;

	if (vm->pagemap_fd >= 0)
		close(vm->pagemap_fd);
	vm->pagemap_fd = -1;
	if (!c->running)
		return;
	pthread_mutex_lock(&c->lock);
	c->stop = true;
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
	pthread_join(c->thread, NULL);
	c->running = false;
}

/* Does one PMD map [addr, addr + 2 MiB)? Asks the kernel (PAGEMAP_SCAN);
 * false when it cannot say. */
static bool pmd_mapped(struct vm *vm, uint8_t *addr)
{
	struct page_region region;
	struct pm_scan_arg arg = {
		.size = sizeof(arg),
		.start = (uintptr_t)addr,
		.end = (uintptr_t)addr + HUGE_BYTES,
		.vec = (uintptr_t)&region,
		.vec_len = 1,
		.category_mask = PAGE_IS_HUGE,
		.return_mask = PAGE_IS_HUGE,
	};

	return vm->pagemap_fd >= 0 && ioctl(vm->pagemap_fd, PAGEMAP_SCAN, &arg) == 1 &&
	       region.start == arg.start && region.end == arg.end;
}

/* Asks the kernel for a 2 MiB page behind [gpa, gpa + 2 MiB), backed by
 * the pool block at pfn; true if it made one (EAGAIN is retried, as the
 * kernel asks). */
static bool collapse(struct vm *vm, uint64_t gpa, uint32_t pfn)
{
	uint8_t *addr = guest_mem_hva(&vm->gm, (uint32_t)(gpa >> FRAME_SHIFT));

	if (vm->pool.backing != POOL_MEMFD || vm->thp_denied)
		return vm->pool.backing == POOL_HUGETLB;
	/* A block from the huge reserve is a huge page already: a touch
	 * maps it with one PMD (a fault takes no mmap lock), and the kernel
	 * says so. MADV_COLLAPSE would first drain every CPU's LRU lists,
	 * which takes milliseconds here when the machine is busy. */
	*(volatile uint8_t *)addr;
	if (pmd_mapped(vm, addr))
		return true;
	/* collapse needs pages to gather: allocate any holes of the block */
	fallocate(vm->pool.fd, FALLOC_FL_KEEP_SIZE, (off_t)pfn << FRAME_SHIFT, (off_t)HUGE_BYTES);
	for (int tries = 0; tries < 3; tries++) {
		if (!madvise(addr, HUGE_BYTES, MADV_COLLAPSE))
			return true;
		if (errno != EAGAIN)
			return false;
	}
	return false;
}

/* A free aligned block of order: a ready one from the huge reserve, or
 * one from the allocator, compacting for it if need be. */
static int get_block(struct vm *vm, unsigned int order, uint32_t *pfn, uint64_t *stall_ns)
{
	struct zone *z = &vm->pool.zone;
	uint64_t stalls, t0 = now_ns();
	int err;

	if (order == PAGEBLOCK_ORDER) {
		*pfn = huge_reserve_take(&vm->reserve);
		if (*pfn != PFN_NONE) {
			zone_lock(z);
			buddy_split(z, *pfn);
			zone_unlock(z);
			*stall_ns = 0;
			return VMD_OK;
		}
	}
	zone_lock(z);
	stalls = z->events[COMPACTSTALL];
	zone_unlock(z);
	err = compact_alloc_direct(&vm->compactor, order, MIGRATE_MOVABLE, pfn, NULL);
	zone_lock(z);
	*stall_ns = z->events[COMPACTSTALL] != stalls ? now_ns() - t0 : 0;
	if (err)
		err = z->free_frames < (1ULL << order) ? VMD_E_NOMEM : VMD_E_FRAGMENTED;
	else
		buddy_split(z, *pfn);	/* order-0 frames, unowned: nobody moves them */
	zone_unlock(z);
	/* a stall: let kcompactd make the next request cheaper, as after a
	 * failed high-order allocation in the kernel */
	if (*stall_ns)
		kcompactd_wakeup(&vm->kcompactd, order);
	return err;
}

static void release_block(struct vm *vm, uint32_t pfn, uint32_t n)
{
	zone_lock(&vm->pool.zone);
	for (uint32_t i = 0; i < n; i++)
		buddy_free(&vm->pool.zone, pfn + i, 0);
	zone_unlock(&vm->pool.zone);
}

/* Frees the frames chunk gave up, which its stale spare side still maps:
 * by the huge reserve's thread when it runs (the teardown and the punch
 * are the slow parts), else here. Zone lock held. */
static void free_frames(struct vm *vm, uint32_t chunk, uint32_t *pfns, unsigned int n)
{
	if (huge_reserve_defer_free(&vm->reserve, pfns, n, guest_mem_spare_hva(&vm->gm, chunk),
				    GUEST_CHUNK_BYTES))
		return;
	guest_mem_clear_spare(&vm->gm, chunk);
	for (unsigned int i = 0; i < n; i++)
		buddy_free(&vm->pool.zone, pfns[i], 0);
	pool_punch_frames(&vm->pool, pfns, n);
}

/* Makes sure chunk's spare side can be mapped: waits for the reserve's
 * thread to clear the stale sides it was handed (all of them, also when
 * too many wait). Zone lock not held: the thread frees under it. */
static void clean_spare(struct vm *vm, uint32_t chunk)
{
	bool wait;

	zone_lock(&vm->pool.zone);
	wait = vm->gm.stale[chunk] || vm->gm.nr_stale >= GUEST_STALE_MAX;
	zone_unlock(&vm->pool.zone);
	if (!wait)
		return;
	huge_reserve_flush(&vm->reserve);
	zone_lock(&vm->pool.zone);
	guest_mem_spares_cleared(&vm->gm);
	zone_unlock(&vm->pool.zone);
}

/* Copies the frames old[] (PFN_NONE: a hole) into block blk, in order.
 * pread() from the pool file reads the page cache directly: mapped
 * views of the sources would fault their page tables in page by page
 * (a remap leaves the guest's empty too), while the block, usually a
 * ready huge page, is written through the pool view in one fault. */
static void copy_into_block(struct vm *vm, const uint32_t *old, uint32_t blk)
{
	for (uint32_t i = 0, len; i < HUGE_FRAMES; i += len) {
		uint8_t *dst = pool_frame(&vm->pool, blk + i);
		uint64_t bytes;

		for (len = 1; i + len < HUGE_FRAMES && old[i] != PFN_NONE &&
			      old[i + len] == old[i] + len; len++)
			;
		if (old[i] == PFN_NONE)
			continue;
		bytes = (uint64_t)len << FRAME_SHIFT;
		if (pread(vm->pool.fd, dst, bytes, (off_t)old[i] << FRAME_SHIFT) != (ssize_t)bytes)
			memcpy(dst, pool_frame(&vm->pool, old[i]), bytes);
	}
	/* drop the pool view's mapping of the block (the data stays in the
	 * file): the guest's mapping is the one that should be huge */
	madvise(pool_frame(&vm->pool, blk), HUGE_BYTES, MADV_DONTNEED);
}

static void *copier_thread(void *arg)
{
	struct vm *vm = arg;
	struct huge_copier *c = &vm->copier;

	pthread_mutex_lock(&c->lock);
	while (!c->stop) {
		const uint32_t *old = c->old;
		uint32_t blk = c->blk;

		if (!old) {
			pthread_cond_wait(&c->cond, &c->lock);
			continue;
		}
		pthread_mutex_unlock(&c->lock);
		copy_into_block(vm, old, blk);
		pthread_mutex_lock(&c->lock);
		c->old = NULL;
		pthread_cond_broadcast(&c->cond);
	}
	pthread_mutex_unlock(&c->lock);
	return NULL;
}

/* Copies old[] into blk: starts it on the copier thread, or does it here
 * when there is none; copy_wait() returns when it is done. */
static void copy_start(struct vm *vm, const uint32_t *old, uint32_t blk)
{
	struct huge_copier *c = &vm->copier;

	if (!c->running) {
		copy_into_block(vm, old, blk);
		return;
	}
	pthread_mutex_lock(&c->lock);
	c->old = old;
	c->blk = blk;
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
}

static void copy_wait(struct vm *vm)
{
	struct huge_copier *c = &vm->copier;

	pthread_mutex_lock(&c->lock);
	while (c->old)
		pthread_cond_wait(&c->cond, &c->lock);
	pthread_mutex_unlock(&c->lock);
}

static int map_block(struct vm *vm, uint64_t gpa, uint32_t pfn, uint32_t n)
{
	return guest_mem_map_frames(&vm->gm, (uint32_t)(gpa >> FRAME_SHIFT), n, pfn);
}

/* back-huge, one at a time (vm->huge_lock): the spare sides are its. */
static int back_huge(struct vm *vm, uint64_t gpa, uint64_t *huge, uint64_t *stall_ns)
{
	struct zone *z = &vm->pool.zone;
	uint32_t g0 = (uint32_t)(gpa >> FRAME_SHIFT), chunk = g0 / GUEST_CHUNK_FRAMES;
	uint32_t blk = PFN_NONE, old[HUGE_FRAMES], nr_old = 0;
	bool in_order = true;
	int status = VMD_OK, err;

	zone_lock(z);
	/* the plug area's unplugged slots are not the guest's to back */
	if (gpa >= vm->cfg.mem_bytes && !vm->plugged[(gpa - vm->cfg.mem_bytes) / HUGE_BYTES]) {
		zone_unlock(z);
		return VMD_E_RANGE;
	}
	for (uint32_t i = 0; i < HUGE_FRAMES; i++) {
		uint32_t pfn = p2m_lookup(&vm->p2m, g0 + i);

		if (pfn != PFN_NONE && (z->frames[pfn].flags & FRAME_PINNED))
			status = VMD_E_PINNED;
		if (pfn == PFN_NONE || (pfn & (HUGE_FRAMES - 1)) != i ||
		    pfn != p2m_lookup(&vm->p2m, g0) + i)
			in_order = false;
	}
	/* marked while the lock is held, so compaction leaves it be */
	if (!status && in_order) {
		blk = p2m_lookup(&vm->p2m, g0);
		for (uint32_t i = 0; i < HUGE_FRAMES; i++)
			z->frames[blk + i].flags |= FRAME_HUGE;
	}
	zone_unlock(z);
	if (status)
		return status;
	if (!in_order) {
		clean_spare(vm, chunk);
		status = get_block(vm, PAGEBLOCK_ORDER, &blk, stall_ns);
		if (status)
			return status;
		zone_lock(z);
		/* the range may have changed while we compacted: check again */
		for (uint32_t i = 0; i < HUGE_FRAMES && !status; i++) {
			old[i] = p2m_lookup(&vm->p2m, g0 + i);
			if (old[i] != PFN_NONE && (z->frames[old[i]].flags & FRAME_PINNED))
				status = VMD_E_PINNED;
		}
		if (status) {
			zone_unlock(z);
			release_block(vm, blk, HUGE_FRAMES);
			return status;
		}
		/* the spare side is in no memslot: mapped while the guest runs */
		if (guest_mem_map_spare(&vm->gm, chunk, blk)) {
			zone_unlock(z);
			release_block(vm, blk, HUGE_FRAMES);
			return VMD_E_NOMEM;
		}
		vm_pause(vm);
		copy_start(vm, old, blk);
		err = guest_mem_switch_side(&vm->gm, chunk);
		copy_wait(vm);
		if (err) {
			vm_resume(vm);
			guest_mem_clear_spare(&vm->gm, chunk);
			zone_unlock(z);
			release_block(vm, blk, HUGE_FRAMES);
			return VMD_E_NOMEM;
		}
		vm_resume(vm);
		for (uint32_t i = 0; i < HUGE_FRAMES; i++) {
			uint32_t pfn;

			if (p2m_unmap(&vm->p2m, g0 + i, &pfn) == 0) {
				z->frames[pfn].flags &= ~FRAME_HUGE;
				old[nr_old++] = pfn;
			}
			p2m_map(&vm->p2m, g0 + i, blk + i);
			z->frames[blk + i].flags |= FRAME_HUGE;
		}
		free_frames(vm, chunk, old, nr_old);
		vm->gm.mappings_stale = true;
		zone_unlock(z);
	}
	*huge = collapse(vm, gpa, blk);
	return VMD_OK;
}

int huge_back(struct vm *vm, uint64_t gpa, uint64_t *huge, uint64_t *stall_ns)
{
	int status;

	*huge = *stall_ns = 0;
	if (gpa & (HUGE_BYTES - 1))
		return VMD_E_ALIGN;
	if (gpa >= vm->guest_bytes)
		return VMD_E_RANGE;
	if (vm->pool.backing == POOL_HUGETLB) {
		*huge = 1;	/* every 2 MiB is a hugetlb page already */
		return VMD_OK;
	}
	pthread_mutex_lock(&vm->huge_lock);
	status = back_huge(vm, gpa, huge, stall_ns);
	pthread_mutex_unlock(&vm->huge_lock);
	return status;
}

int huge_plug(struct vm *vm, unsigned int order, uint64_t *gpa, uint64_t *huge, uint64_t *stall_ns)
{
	struct zone *z = &vm->pool.zone;
	uint64_t slots = vm->cfg.plug_bytes / HUGE_BYTES, need, start = UINT64_MAX;
	uint32_t blk, n = 1U << order;
	int status;

	*gpa = *huge = *stall_ns = 0;
	if (order < PAGEBLOCK_ORDER || order > MAX_ORDER)
		return VMD_E_INVAL;
	if (vm->pool.backing == POOL_HUGETLB && order != PAGEBLOCK_ORDER)
		return VMD_E_INVAL;
	need = 1ULL << (order - PAGEBLOCK_ORDER);
	/* the plug area's 2 MiB slots: first fit, aligned to the block */
	zone_lock(z);
	for (uint64_t s = 0; s + need <= slots && start == UINT64_MAX; s += need) {
		bool free_run = true;

		for (uint64_t k = 0; k < need; k++)
			free_run &= !vm->plugged[s + k];
		if (free_run)
			start = s;
	}
	if (start != UINT64_MAX)
		memset(vm->plugged + start, 1, need);
	zone_unlock(z);
	if (start == UINT64_MAX)
		return VMD_E_NOMEM;
	status = get_block(vm, order, &blk, stall_ns);
	if (status) {
		zone_lock(z);
		memset(vm->plugged + start, 0, need);
		zone_unlock(z);
		return status;
	}
	*gpa = vm->cfg.mem_bytes + start * HUGE_BYTES;
	zone_lock(z);
	for (uint32_t i = 0; i < n; i++) {
		p2m_map(&vm->p2m, (uint32_t)(*gpa >> FRAME_SHIFT) + i, blk + i);
		z->frames[blk + i].flags |= FRAME_HUGE;
	}
	if (map_block(vm, *gpa, blk, n)) {
		for (uint32_t i = 0; i < n; i++)
			p2m_unmap(&vm->p2m, (uint32_t)(*gpa >> FRAME_SHIFT) + i, NULL);
		guest_mem_remap(&vm->gm, (uint32_t)(*gpa >> FRAME_SHIFT), n);
		memset(vm->plugged + start, 0, need);
		zone_unlock(z);
		release_block(vm, blk, n);
		return VMD_E_NOMEM;
	}
	vm->gm.mappings_stale = true;
	zone_unlock(z);
	*huge = 1;
	for (uint64_t off = 0; off < (uint64_t)n << FRAME_SHIFT; off += HUGE_BYTES)
		if (!collapse(vm, *gpa + off, blk + (uint32_t)(off >> FRAME_SHIFT)))
			*huge = 0;
	return VMD_OK;
}
