/* Huge regions for the guest: back-huge moves a 2 MiB guest range into one
 * aligned pool block, in order; plug-huge plugs a fresh aligned block into
 * the plug area. Either makes sure a real 2 MiB host page backs it: a
 * fault on the guest's mapping maps one with a PMD when the block is a
 * host huge page already (a block from the huge reserve), else
 * MADV_COLLAPSE makes one (pool_collapse()). Blocks come from the
 * allocator's slow path (mm/page_alloc.h): the huge reserve, the free
 * lists, direct compaction. back-huge maps the block on the chunk's spare
 * side and switches the chunk's memslot over to it (guest_mem.h); the
 * reserve's thread then tears the old side down and punches the frames it
 * gave up: a request costs a 2 MiB copy, one mmap and a memslot switch.
 *
 * Both run one at a time (vm->huge_lock), change guest memory only through
 * guest_mem under its lock, and never hold the zone lock across the slow
 * parts (the pause, the copy, the memslot switch, the collapse): the frames
 * being moved are claimed instead (FRAME_MOVING). */
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

#include "lib/failpoint.h"
#include "lib/thread.h"
#include "guest/include/vmdefrag_abi.h"
#include "vmm/huge.h"
#include "vmm/vm.h"

/* Copies a range into its new block while back-huge switches the memslot:
 * the switch mostly sleeps, and the host has two cores. */
struct huge_copier {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool running, stop;
	const uint32_t *old;		/* the job's sources; NULL: no job */
	uint32_t blk;			/* and its block */
};

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ	22
#endif

static void *copier_thread(void *arg);

int huge_init(struct vm *vm)
{
	FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/shmem_enabled", "r");
	struct huge_copier *c;
	char line[256] = "";

	if (f) {
		if (!fgets(line, sizeof(line), f))
			line[0] = '\0';
		fclose(f);
	}
	/* MADV_COLLAPSE works under every setting but deny */
	vm->thp_denied = !f || strstr(line, "[deny]");
	if (vm->pool.shmem && vm->thp_denied)
		fprintf(stderr, "vmdefrag: the host denies THP for shmem (%s): guest memory stays on "
			"4 KiB pages\n", f ? "shmem_enabled is deny" : "no shmem_enabled");
	/* where allowed, let the kernel use huge pages for guest memory */
	if (vm->pool.shmem && !vm->thp_denied)
		madvise(guest_mem_hva(&vm->gm, 0), vm->guest_bytes, MADV_HUGEPAGE);
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	vm->copier = c;
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->cond, NULL);
	/* without it back-huge copies on its own thread */
	if (vm->pool.shmem)
		c->running = !pthread_create(&c->thread, NULL, copier_thread, vm);
	return 0;
}

void huge_destroy(struct vm *vm)
{
	struct huge_copier *c = vm->copier;

	if (!c)
		return;
	if (c->running)
		thread_stop(c->thread, &c->lock, &c->cond, &c->stop);
	pthread_cond_destroy(&c->cond);
	pthread_mutex_destroy(&c->lock);
	free(c);
	vm->copier = NULL;
}

/* Asks the kernel for a 2 MiB page behind [gpa, gpa + 2 MiB), backed by
 * the pool block at pfn; true if it made one (EAGAIN is retried, as the
 * kernel asks). */
static bool collapse(struct vm *vm, uint64_t gpa, uint32_t pfn)
{
	uint32_t gfn = (uint32_t)(gpa >> FRAME_SHIFT);
	uint8_t *addr = guest_mem_hva(&vm->gm, gfn);

	if (!vm->pool.shmem || vm->thp_denied)
		return vm->pool.backing == POOL_HUGETLB;
	/* A block from the huge reserve is a huge page already: a fault
	 * maps it with one PMD, and the kernel says so. MADV_COLLAPSE would
	 * first drain every CPU's LRU lists, which takes milliseconds here
	 * when the machine is busy. The fault is asked for, not taken: the
	 * VMM never touches the guest's mappings itself, so a page that is
	 * not there is an error here, never a SIGSEGV. */
	madvise(addr, FRAME_SIZE, MADV_POPULATE_READ);
	if (guest_mem_pmd_mapped(&vm->gm, gfn))
		return true;
	return !pool_collapse(&vm->pool, pfn, addr);
}

/* A free aligned block of order from the allocator's slow path, split to
 * order-0 frames (unowned: nobody moves them) for the request to map. */
static int get_block(struct vm *vm, unsigned int order, uint32_t *pfn, uint64_t *stall_ns)
{
	int err = alloc_block_slowpath(&vm->alloc, order, MIGRATE_MOVABLE, pfn, stall_ns);

	if (err)
		return err == -EAGAIN ? VMD_E_FRAGMENTED : VMD_E_NOMEM;
	zone_lock(&vm->pool.zone);
	zone_split(&vm->pool.zone, *pfn);
	zone_unlock(&vm->pool.zone);
	pool_sync_state(&vm->pool);		/* sync: its bits before any p2m entry */
	FAILPOINT("huge-block-taken");		/* a block nobody owns */
	return VMD_OK;
}

/* Gives back a block a request took and did not keep. It may hold a copy
 * of guest data by now: punched first, as every free frame must read
 * zeros for the next guest that gets it. */
static void release_block(struct vm *vm, uint32_t pfn, uint32_t n)
{
	pool_punch(&vm->pool, pfn, n);
	zone_lock(&vm->pool.zone);
	for (uint32_t i = 0; i < n; i++)
		zone_free(&vm->pool.zone, pfn + i, 0);
	zone_unlock(&vm->pool.zone);
}

/* Frees the frames chunk gave up, which its stale spare side still maps:
 * by the huge reserve's thread when it runs (the teardown and the punch
 * are the slow parts), else here. */
static void free_old_frames(struct vm *vm, uint32_t chunk, uint32_t *pfns, unsigned int n)
{
	if (huge_reserve_defer_free(&vm->reserve, pfns, n, guest_mem_spare_hva(&vm->gm, chunk),
				    GUEST_CHUNK_BYTES))
		return;
	guest_mem_clear_spare(&vm->gm, chunk);
	pool_punch_frames(&vm->pool, pfns, n);
	zone_lock(&vm->pool.zone);
	for (unsigned int i = 0; i < n; i++)
		zone_free(&vm->pool.zone, pfns[i], 0);
	zone_unlock(&vm->pool.zone);
}

/* Makes sure chunk's spare side can be mapped: waits for the reserve's
 * thread to clear the stale sides it was handed (all of them, also when
 * too many wait). Zone lock not held: the thread frees under it. */
static void clean_spare(struct vm *vm, uint32_t chunk)
{
	if (!vm->gm.stale[chunk] && vm->gm.nr_stale < GUEST_STALE_MAX)
		return;
	huge_reserve_flush(&vm->reserve);
	guest_mem_spares_cleared(&vm->gm);
}

/* Copies the frames old[] (PFN_NONE: a hole) into block blk, in order.
 * pread() from the pool file reads the page cache directly: mapped
 * views of the sources would fault their page tables in page by page
 * (a remap leaves the guest's empty too), while the block, usually a
 * ready huge page, is written through the pool view in one fault. */
static void copy_into_block(struct vm *vm, const uint32_t *old, uint32_t blk)
{
	for (uint32_t i = 0, len; i < GUEST_CHUNK_FRAMES; i += len) {
		uint8_t *dst = pool_frame(&vm->pool, blk + i);
		uint64_t bytes;

		for (len = 1; i + len < GUEST_CHUNK_FRAMES && old[i] != PFN_NONE &&
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
	pool_drop_view(&vm->pool, blk, GUEST_CHUNK_FRAMES);
}

static void *copier_thread(void *arg)
{
	struct vm *vm = arg;
	struct huge_copier *c = vm->copier;

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
	struct huge_copier *c = vm->copier;

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
	struct huge_copier *c = vm->copier;

	pthread_mutex_lock(&c->lock);
	while (c->old)
		pthread_cond_wait(&c->cond, &c->lock);
	pthread_mutex_unlock(&c->lock);
}

/* Moves chunk into block blk (taken, order 0, unowned), its frames
 * claimed in old[]: maps the block on the spare side while the guest runs,
 * then with the vCPUs held out copies the frames over and switches the
 * chunk's memslot, and rebinds the guest frames before the guest runs
 * again. On error nothing changed and the block is the caller's. */
static int move_chunk(struct vm *vm, uint32_t chunk, uint32_t blk, uint32_t old[GUEST_CHUNK_FRAMES])
{
	unsigned int nr_old;
	int err;

	/* the spare side is in no memslot: mapped while the guest runs */
	err = guest_mem_map_spare(&vm->gm, chunk, blk);
	if (err)
		return err;
	vm_pause(vm);
	copy_start(vm, old, blk);
	err = guest_mem_switch_side(&vm->gm, chunk);
	copy_wait(vm);
	if (err) {
		vm_resume(vm);
		guest_mem_clear_spare(&vm->gm, chunk);
		return err;
	}
	pool_write_frames(&vm->pool, blk, GUEST_CHUNK_FRAMES);	/* sync: the copy durable */
	pool_sync_state(&vm->pool);
	FAILPOINT("huge-copied");		/* the block nobody owns, with data */
	guest_mem_rebind_chunk(&vm->gm, chunk, blk, old, &nr_old);
	vm_resume(vm);
	pool_sync_state(&vm->pool);		/* sync: the p2m before the old frames' punch */
	FAILPOINT("huge-rebound");		/* the old frames nobody owns */
	free_old_frames(vm, chunk, old, nr_old);
	return 0;
}

/* back-huge of a range that is not one block in order: a new block for
 * it, taken without the guest memory lock (it may compact), then the move
 * of whatever the range holds by then. */
static int move_range_to_block(struct vm *vm, uint64_t gpa, uint64_t *huge, uint64_t *stall_ns)
{
	struct guest_mem *gm = &vm->gm;
	uint32_t chunk = (uint32_t)(gpa / GUEST_CHUNK_BYTES);
	uint32_t blk, old[GUEST_CHUNK_FRAMES];
	bool in_order;
	int status, err;

	clean_spare(vm, chunk);
	status = get_block(vm, PAGEBLOCK_ORDER, &blk, stall_ns);
	if (status)
		return status;
	guest_mem_lock(gm);
	/* the range may have changed meanwhile: claimed again, as it is now */
	err = guest_mem_claim_chunk(gm, chunk, old, &in_order);
	if (err || in_order) {
		/* pinned now; or whole after all (populates that happened to
		 * fill it in order): then its own frames stay */
		if (in_order)
			*huge = collapse(vm, gpa, old[0]);
		guest_mem_unlock(gm);
		release_block(vm, blk, GUEST_CHUNK_FRAMES);
		return err ? VMD_E_PINNED : VMD_OK;
	}
	err = move_chunk(vm, chunk, blk, old);
	if (err) {
		guest_mem_unclaim_chunk(gm, chunk);
		guest_mem_unlock(gm);
		release_block(vm, blk, GUEST_CHUNK_FRAMES);
		return VMD_E_NOMEM;
	}
	*huge = collapse(vm, gpa, blk);
	guest_mem_unlock(gm);
	return VMD_OK;
}

/* back-huge, one at a time (vm->huge_lock): the spare sides are its. A
 * range that is one aligned block in order already stays where it is. */
static int back_range(struct vm *vm, uint64_t gpa, uint64_t *huge, uint64_t *stall_ns)
{
	struct guest_mem *gm = &vm->gm;
	uint32_t g0 = (uint32_t)(gpa >> FRAME_SHIFT), old[GUEST_CHUNK_FRAMES];
	bool in_order;
	int err;

	guest_mem_lock(gm);
	/* the plug area's unplugged slots are not the guest's to back */
	if (!guest_mem_usable(gm, g0, GUEST_CHUNK_FRAMES)) {
		guest_mem_unlock(gm);
		return VMD_E_RANGE;
	}
	err = guest_mem_claim_chunk(gm, g0 / GUEST_CHUNK_FRAMES, old, &in_order);
	if (!err && in_order) {
		*huge = collapse(vm, gpa, old[0]);
		guest_mem_unlock(gm);
		return VMD_OK;
	}
	if (!err)
		guest_mem_unclaim_chunk(gm, g0 / GUEST_CHUNK_FRAMES);
	guest_mem_unlock(gm);
	return err ? VMD_E_PINNED : move_range_to_block(vm, gpa, huge, stall_ns);
}

int huge_back(struct vm *vm, uint64_t gpa, uint64_t *huge, uint64_t *stall_ns)
{
	int status;

	*huge = *stall_ns = 0;
	if (gpa & (GUEST_CHUNK_BYTES - 1))
		return VMD_E_ALIGN;
	if (gpa >= vm->guest_bytes)
		return VMD_E_RANGE;
	if (vm->pool.backing == POOL_HUGETLB) {
		*huge = 1;	/* every 2 MiB is a hugetlb page already */
		return VMD_OK;
	}
	pthread_mutex_lock(&vm->huge_lock);
	status = back_range(vm, gpa, huge, stall_ns);
	pthread_mutex_unlock(&vm->huge_lock);
	return status;
}

/* plug-huge, one at a time (vm->huge_lock): a slot stays outside guest
 * memory until its block is mapped. */
static int plug_block(struct vm *vm, unsigned int order, uint64_t *gpa, uint64_t *huge,
		     uint64_t *stall_ns)
{
	struct guest_mem *gm = &vm->gm;
	uint32_t chunks = 1U << (order - PAGEBLOCK_ORDER), n = 1U << order, chunk, blk;
	int status;

	guest_mem_lock(gm);
	chunk = guest_mem_find_plug_slot(gm, chunks);
	guest_mem_unlock(gm);
	if (chunk == UINT32_MAX)
		return VMD_E_NOMEM;
	status = get_block(vm, order, &blk, stall_ns);
	if (status)
		return status;
	guest_mem_lock(gm);
	if (guest_mem_plug(gm, chunk, chunks, blk)) {
		guest_mem_unlock(gm);
		release_block(vm, blk, n);
		return VMD_E_NOMEM;
	}
	FAILPOINT("huge-plugged");		/* a plugged block: dropped at recovery */
	*gpa = (uint64_t)chunk * GUEST_CHUNK_BYTES;
	*huge = 1;
	for (uint32_t c = 0; c < chunks; c++)
		if (!collapse(vm, *gpa + c * GUEST_CHUNK_BYTES, blk + c * GUEST_CHUNK_FRAMES))
			*huge = 0;
	guest_mem_unlock(gm);
	return VMD_OK;
}

int huge_plug(struct vm *vm, unsigned int order, uint64_t *gpa, uint64_t *huge, uint64_t *stall_ns)
{
	int status;

	*gpa = *huge = *stall_ns = 0;
	if (order < PAGEBLOCK_ORDER || order > MAX_ORDER)
		return VMD_E_INVAL;
	if (vm->pool.backing == POOL_HUGETLB && order != PAGEBLOCK_ORDER)
		return VMD_E_INVAL;
	pthread_mutex_lock(&vm->huge_lock);
	status = plug_block(vm, order, gpa, huge, stall_ns);
	pthread_mutex_unlock(&vm->huge_lock);
	return status;
}
