/* The VMM's mover: moves guest frames to new pool frames under a running
 * guest. Why a pause: every vCPU is held out of KVM_RUN for the batch, so
 * no guest write can race the copy - simple, and correct for any access
 * pattern (a userfaultfd write-protect scheme would stall only the vCPUs
 * that touch a moving page, but costs a registration per page and a
 * re-registration after each remap). The pause is short because the batch
 * is small and coalesced: sources sorted by guest frame get destinations
 * in ascending order, so guest-consecutive frames land on consecutive pool
 * frames and one mmap covers each run. Between two batches the guest gets
 * its turn back, at least as long as the last batch held it out (see
 * vmm_pace()). */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "lib/cmp.h"
#include "lib/failpoint.h"
#include "mm/clock.h"
#include "vmm/mover.h"
#include "vmm/vm.h"

static int cmp_gfn(const void *a, const void *b)
{
	const struct migration *x = a, *y = b;

	return cmp_u64(x->gfn, y->gfn);
}

/* Reorders the batch by guest frame and gives it the destinations in
 * ascending order (any destination serves any source). */
static void pair_up(struct migration *batch, unsigned int nr, uint32_t *scratch)
{
	for (unsigned int i = 0; i < nr; i++)
		scratch[i] = batch[i].dst;
	sort_pfns(scratch, nr);
	qsort(batch, nr, sizeof(*batch), cmp_gfn);
	for (unsigned int i = 0; i < nr; i++)
		batch[i].dst = scratch[i];
}

/* Points the guest frames of batch[i..i+len) at their destinations. */
static int remap_run(struct vm *vm, const struct migration *m, unsigned int len)
{
	return guest_mem_map_frames(&vm->gm, m->gfn, len, m->dst);
}

void vmm_release(void *arg, uint32_t *pfns, unsigned int n)
{
	struct vm *vm = arg;

	/* sync: the p2m's switches durable before a source is punched, and
	 * before the guest writes the copies */
	if (n)
		pool_sync_state(&vm->pool);
	if (vm->mover_paused) {
		vm->mover_paused = false;
		atomic_store_explicit(&vm->mover_held_ns, mono_ns() - vm->mover_paused_ns,
				      memory_order_relaxed);
		vm_resume(vm);
	}
	if (n)
		pool_punch_frames(&vm->pool, pfns, n);
}

/* Runs of consecutive destinations (the batch is in ascending order of
 * them after pair_up): the body runs once per run, from i, len long. */
#define for_each_dst_run(batch, nr, i, len)						\
	for (unsigned int i = 0, len; i < (nr); i += len)				\
		if ((len = dst_run((batch), (nr), i)))

static unsigned int dst_run(const struct migration *batch, unsigned int nr, unsigned int i)
{
	unsigned int len = 1;

	while (i + len < nr && batch[i + len].dst == batch[i].dst + len)
		len++;
	return len;
}

/* Gives the destinations their pages before the pause: fallocate fills a
 * run of holes in one call (~1.6 us a page here), where a copy into a
 * hole faults each page in (~4-5 us), with the guest held out. */
static void prepare_destinations(struct vm *vm, const struct migration *batch, unsigned int nr)
{
	for_each_dst_run(batch, nr, i, len)
		fallocate(vm->pool.fd, FALLOC_FL_KEEP_SIZE, (off_t)batch[i].dst << FRAME_SHIFT,
			  (off_t)len << FRAME_SHIFT);
}

/* Copies every source to its destination through the pool file, touching
 * no mapping (faults and later zaps of page tables cost more than the
 * copy): a pread per source into a bounce buffer, a pwrite per run of
 * destinations. */
static void copy_frames(struct vm *vm, struct migration *batch, unsigned int nr, uint8_t *bounce)
{
	int fd = vm->pool.fd;

	for (unsigned int i = 0; i < nr; i++) {
		uint8_t *buf = bounce + ((size_t)i << FRAME_SHIFT);

		if (pread(fd, buf, FRAME_SIZE, (off_t)batch[i].src << FRAME_SHIFT) != FRAME_SIZE)
			memcpy(buf, pool_frame(&vm->pool, batch[i].src), FRAME_SIZE);
		batch[i].result = 0;
	}
	for_each_dst_run(batch, nr, i, len) {
		size_t bytes = (size_t)len << FRAME_SHIFT;
		uint8_t *buf = bounce + ((size_t)i << FRAME_SHIFT);

		if (pwrite(fd, buf, bytes, (off_t)batch[i].dst << FRAME_SHIFT) != (ssize_t)bytes)
			memcpy(pool_frame(&vm->pool, batch[i].dst), buf, bytes);
	}
}

/* The guest's turn: as long as the last batch held it out (so the mover
 * takes at most half its time, whatever the batch size), no less than
 * MIN_GUEST_TURN_NS (time to come back in and fault in again the frames
 * just moved), and no more than MAX_GUEST_TURN_NS (a pause that long was
 * the host's doing, or a ,sync pool's flush, not the batch's). Measured
 * with defrag-bench (batch 32): batches back to back held a guest write
 * out for up to 216 ms, the vCPU re-entering each time only to be kicked
 * out again while KVM rebuilt a mapping; with turns, under 3.3 ms. */
#define MIN_GUEST_TURN_NS 100000ULL
#define MAX_GUEST_TURN_NS 10000000ULL

static uint64_t guest_turn_ns(struct vm *vm)
{
	uint64_t turn = atomic_load_explicit(&vm->mover_held_ns, memory_order_relaxed);

	if (turn < MIN_GUEST_TURN_NS)
		return MIN_GUEST_TURN_NS;
	return turn > MAX_GUEST_TURN_NS ? MAX_GUEST_TURN_NS : turn;
}

bool vmm_pace_due(void *arg)
{
	struct vm *vm = arg;

	return vm_turn_owed(vm, guest_turn_ns(vm));
}

void vmm_pace(void *arg)
{
	struct vm *vm = arg;

	vm_yield_to_guest(vm, guest_turn_ns(vm));
}

void vmm_migrate(void *arg, struct migration *batch, unsigned int nr)
{
	struct vm *vm = arg;
	uint32_t *scratch = malloc(nr * sizeof(*scratch));
	uint8_t *bounce = malloc((size_t)nr << FRAME_SHIFT);

	if (!scratch || !bounce || vm->pool.backing == POOL_HUGETLB) {
		/* hugetlb frames map in 2 MiB units only */
		for (unsigned int i = 0; i < nr; i++)
			batch[i].result = scratch && bounce ? -EOPNOTSUPP : -ENOMEM;
		free(scratch);
		free(bounce);
		return;
	}
	pair_up(batch, nr, scratch);
	prepare_destinations(vm, batch, nr);
	vm->mover_paused_ns = mono_ns();
	vm_pause(vm);
	vm->mover_paused = true;	/* until vmm_release(), after the p2m's switch */
	copy_frames(vm, batch, nr, bounce);
	/* sync: the copies and the destinations' bits durable before the
	 * p2m names them */
	if (vm->pool.sync) {
		for_each_dst_run(batch, nr, i, len)
			pool_write_frames(&vm->pool, batch[i].dst, len);
		pool_sync_state(&vm->pool);
	}
	FAILPOINT("move-copied");		/* destinations nobody maps, with data */
	for (unsigned int i = 0, len; i < nr; i += len) {
		int err;

		for (len = 1; i + len < nr && batch[i + len].gfn == batch[i].gfn + len &&
			      batch[i + len].dst == batch[i].dst + len; len++)
			;
		err = remap_run(vm, &batch[i], len);
		if (err) {
			/* leave these where they were: map the sources back,
			 * and hand back the destinations empty */
			for (unsigned int k = i; k < i + len; k++) {
				batch[k].result = err;
				guest_mem_remap(&vm->gm, batch[k].gfn, 1);
			}
			pool_punch(&vm->pool, batch[i].dst, len);
		}
	}
	/* the guest runs again in vmm_release(), once the p2m names the
	 * copies it now maps: a write before that would go to a frame a
	 * persistent pool's p2m does not name yet, and a crash would lose
	 * it; the sources are punched there too, for the same reason */
	free(scratch);
	free(bounce);
}
