/* Guest memory under the guest interface, without KVM: a VM's memory side
 * (vm_create_memory: a real memfd pool, allocator, p2m and mappings), its
 * requests through the same decoder the vCPUs use, and vm_check() after
 * each test. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "guest/include/vmdefrag_abi.h"
#include "mm/compaction.h"
#include "mm/minmove.h"
#include "tests/check_run.h"
#include "vmm/huge.h"
#include "vmm/pvmem.h"
#include "vmm/vcpu.h"
#include "vmm/vm.h"
#include "vmm/vm_setup.h"

#define MEM		(64ULL << 20)
#define PLUG		(8ULL << 20)
#define CHUNK		GUEST_CHUNK_FRAMES
#define BLOCK_GPA	0x10000ULL	/* where tests put request blocks */
#define RANGES_GPA	0x11000ULL	/* and range arrays */

static struct vm *vm;
static struct vcpu vcpu;

static void setup(void)
{
	struct vm_config cfg = {
		.mem_bytes = MEM,
		.plug_bytes = PLUG,
		.nr_cpus = 1,
		.backing = POOL_MEMFD,
		.batch = COMPACT_CLUSTER_MAX,
	};

	vm = calloc(1, sizeof(*vm));
	ck_assert_int_eq(vm_create_memory(vm, &cfg), 0);
	vcpu = (struct vcpu){ .vm = vm, .id = 0, .fd = -1 };
}

static void assert_consistent(void)
{
	char msg[256];

	ck_assert_msg(vm_check(vm, msg, sizeof(msg)) == 0, "vm_check: %s", msg);
}

static void teardown(void)
{
	assert_consistent();
	vm_destroy(vm);
	free(vm);
}

/* ---- helpers ---- */

static int apply(enum guest_mem_op op, const struct guest_range *r, size_t n, size_t *bad)
{
	size_t ignored;
	int err;

	guest_mem_lock(&vm->gm);
	err = guest_mem_apply(&vm->gm, op, r, n, bad ? bad : &ignored);
	guest_mem_unlock(&vm->gm);
	return err;
}

static int apply1(enum guest_mem_op op, uint32_t gfn, uint32_t n)
{
	struct guest_range r = { gfn, n };

	return apply(op, &r, 1, NULL);
}

static uint32_t pfn_of(uint32_t gfn)
{
	uint32_t pfn;

	zone_lock(&vm->pool.zone);
	pfn = p2m_lookup(&vm->p2m, gfn);
	zone_unlock(&vm->pool.zone);
	return pfn;
}

static uint64_t word(uint32_t gfn, uint64_t seed)
{
	return (gfn + 1) * 0x9E3779B97F4A7C15ULL ^ seed;
}

/* Writes a word derived from the frame and seed into frames [gfn, gfn+n). */
static void fill(uint32_t gfn, uint32_t n, uint64_t seed)
{
	for (uint32_t g = gfn; g < gfn + n; g++) {
		uint64_t w = word(g, seed);

		ck_assert_int_eq(guest_write(&vm->gm, (uint64_t)g << FRAME_SHIFT, &w, sizeof(w)), 0);
	}
}

static void assert_filled(uint32_t gfn, uint32_t n, uint64_t seed)
{
	for (uint32_t g = gfn; g < gfn + n; g++) {
		uint64_t w = 0;

		ck_assert_int_eq(guest_read(&vm->gm, (uint64_t)g << FRAME_SHIFT, &w, sizeof(w)), 0);
		ck_assert_msg(w == word(g, seed), "guest frame %u holds 0x%lx, expected 0x%lx", g,
			      (unsigned long)w, (unsigned long)word(g, seed));
	}
}

static uint64_t nr_pinned(void)
{
	uint64_t n;

	zone_lock(&vm->pool.zone);
	n = vm->pool.zone.nr_pinned;
	zone_unlock(&vm->pool.zone);
	return n;
}

/* A request the way a vCPU makes it: a block in guest memory. */
static struct vmd_request request(uint32_t op, uint64_t a0, uint64_t a1, uint64_t a2)
{
	struct vmd_request req = { op, 99, { a0, a1, a2, 0, 0, 0 } };

	ck_assert_int_eq(guest_write(&vm->gm, BLOCK_GPA, &req, sizeof(req)), 0);
	pvmem_handle(&vcpu, BLOCK_GPA);
	ck_assert_int_eq(guest_read(&vm->gm, BLOCK_GPA, &req, sizeof(req)), 0);
	return req;
}

static struct vmd_request batch(uint32_t op, const struct vmd_range *r, unsigned int n)
{
	ck_assert_int_eq(guest_write(&vm->gm, RANGES_GPA, r, n * sizeof(*r)), 0);
	return request(VMD_OP_MEM_BATCH, op, RANGES_GPA, n);
}

static struct vmd_range frames_at(uint32_t gfn, uint32_t n)
{
	return (struct vmd_range){ (uint64_t)gfn << FRAME_SHIFT, (uint64_t)n << FRAME_SHIFT };
}

/* ---- the count of mappings ---- */

/* Moves, then a populate: the count once drifted here (4,099 counted
 * against 3,076 real ones in this very sequence), and populates were
 * refused for mappings that did not exist. */
START_TEST(test_mappings_exact_after_moves)
{
	struct guest_range singles[1024];
	struct compact_stats st;

	for (unsigned int i = 0; i < 1024; i++)
		singles[i] = (struct guest_range){ 4096 + 2 * i, 1 };
	ck_assert_int_eq(apply(GUEST_DISCARD, singles, 1024, NULL), 0);
	ck_assert_int_eq(apply1(GUEST_DISCARD, 1024, 1024), 0);
	compact_zone(&vm->compactor, COMPACT_FULL, -1, 0, &st);
	ck_assert_uint_gt(st.moved, 0);
	ck_assert_int_eq(apply1(GUEST_POPULATE, 1024, 1024), 0);
	zone_lock(&vm->pool.zone);
	ck_assert_uint_eq(guest_mem_mappings(&vm->gm), guest_mem_count_mappings(&vm->gm));
	ck_assert_uint_gt(guest_mem_mappings(&vm->gm), 1000);
	zone_unlock(&vm->pool.zone);
}
END_TEST

/* ---- all or nothing ---- */

START_TEST(test_overlapping_ranges_refused)
{
	struct vmd_range r[3] = { frames_at(3000, 4), frames_at(100, 1), frames_at(3003, 2) };
	struct vmd_request req;

	/* pinned twice in one batch would pass each check once */
	req = batch(VMD_OP_PIN, r, 3);
	ck_assert_int_eq(req.status, VMD_E_INVAL);
	ck_assert_uint_eq(req.arg[3], 2);
	ck_assert_uint_eq(nr_pinned(), 0);
	/* one pin, then an unpin batch naming it twice: refused, still pinned */
	ck_assert_int_eq(apply1(GUEST_PIN, 3003, 1), 0);
	r[0] = frames_at(3003, 1);
	r[1] = frames_at(3000, 4);
	req = batch(VMD_OP_UNPIN, r, 2);
	ck_assert_int_eq(req.status, VMD_E_INVAL);
	ck_assert_uint_eq(req.arg[3], 1);
	ck_assert_uint_eq(nr_pinned(), 1);
	ck_assert_int_eq(apply1(GUEST_DISCARD, 3003, 1), -EBUSY);
	ck_assert_int_eq(apply1(GUEST_UNPIN, 3003, 1), 0);
	/* touching ranges are not overlapping */
	r[0] = frames_at(3000, 3);
	r[1] = frames_at(3003, 1);
	ck_assert_int_eq(batch(VMD_OP_DISCARD, r, 2).status, VMD_OK);
	ck_assert_uint_eq(pfn_of(3000), PFN_NONE);
	ck_assert_uint_eq(pfn_of(3003), PFN_NONE);
}
END_TEST

/* A batch whose third range is refused changed nothing in the first two. */
START_TEST(test_batch_refused_changes_nothing)
{
	struct vmd_range r[3] = { frames_at(2000, 16), frames_at(2100, 16), frames_at(2200, 16) };
	struct vmd_request req;
	uint64_t free_before;
	uint32_t taken;

	fill(2000, 300, 7);
	ck_assert_int_eq(apply1(GUEST_PIN, 2210, 1), 0);
	req = batch(VMD_OP_DISCARD, r, 3);
	ck_assert_int_eq(req.status, VMD_E_PINNED);
	ck_assert_uint_eq(req.arg[3], 2);
	assert_filled(2000, 300, 7);
	/* unpin: the second range was never pinned */
	r[0] = frames_at(2210, 1);
	req = batch(VMD_OP_UNPIN, r, 2);
	ck_assert_int_eq(req.status, VMD_E_NOT_PINNED);
	ck_assert_uint_eq(req.arg[3], 1);
	ck_assert_uint_eq(nr_pinned(), 1);
	ck_assert_int_eq(apply1(GUEST_UNPIN, 2210, 1), 0);
	/* a populate of more than is free: nothing populated */
	ck_assert_int_eq(apply1(GUEST_DISCARD, 1024, 4096), 0);
	free_before = vm->pool.zone.free_frames;
	r[0] = frames_at(1024, 2048);
	r[1] = frames_at(8192, 1);
	r[2] = frames_at(3072, 2048);
	ck_assert_int_eq(apply1(GUEST_DISCARD, 8192, 1), 0);
	zone_lock(&vm->pool.zone);
	ck_assert_int_eq(buddy_alloc(&vm->pool.zone, 0, MIGRATE_MOVABLE, &taken), 0);
	zone_unlock(&vm->pool.zone);
	req = batch(VMD_OP_POPULATE, r, 3);
	ck_assert_int_eq(req.status, VMD_E_NOMEM);
	ck_assert_uint_eq(vm->pool.zone.free_frames, free_before);
	for (uint32_t g = 1024; g < 1024 + 4096; g++)
		ck_assert_uint_eq(pfn_of(g), PFN_NONE);
	/* the frame taken above, given back for the checks */
	zone_lock(&vm->pool.zone);
	ck_assert_int_eq(buddy_free(&vm->pool.zone, taken, 0), 0);
	zone_unlock(&vm->pool.zone);
}
END_TEST

/* Guest frames [4096, 8192) discarded, single scattered frames first, so
 * a populate of them takes many steps. */
static void free_for_a_long_request(void)
{
	struct guest_range singles[2048];

	for (unsigned int i = 0; i < 2048; i++)
		singles[i] = (struct guest_range){ 12288 + 2 * i, 1 };
	ck_assert_int_eq(apply(GUEST_DISCARD, singles, 2048, NULL), 0);
	ck_assert_int_eq(apply1(GUEST_DISCARD, 4096, 4096), 0);
}

/* Pool frames [6144, 8192) isolated, as a min-move run isolates the
 * blocks it clears: their free frames count as free but cannot be taken. */
static void isolate_upper_half(bool on)
{
	struct zone *z = &vm->pool.zone;

	zone_lock(z);
	for (uint32_t pfn = 6144; pfn < 8192; pfn += CHUNK) {
		if (on)
			buddy_set_pageblock_migratetype(z, pfn, MIGRATE_ISOLATE);
		else
			buddy_unisolate_pageblock(z, pfn, MIGRATE_MOVABLE);
	}
	zone_unlock(z);
}

/* Free frames the count promises may not be there to take: a min-move
 * run isolates whole pageblocks meanwhile. The populate finds out half
 * way, and gives back what it took. */
START_TEST(test_populate_undone_when_frames_run_out)
{
	struct zone *z = &vm->pool.zone;
	uint64_t mapped, free_frames;

	ck_assert_int_eq(apply1(GUEST_DISCARD, 4096, 4096), 0);
	/* guest frames [4096, 8192) were pool frames [4096, 8192): isolate
	 * the upper half of them, and only those are free but the lower */
	isolate_upper_half(true);
	zone_lock(z);
	free_frames = z->free_frames;
	zone_unlock(z);
	ck_assert_uint_eq(free_frames, 4096);
	mapped = vm->p2m.nr_mapped;
	ck_assert_int_eq(apply1(GUEST_POPULATE, 4096, 4096), -ENOMEM);
	ck_assert_uint_eq(vm->p2m.nr_mapped, mapped);
	ck_assert_uint_eq(z->free_frames, free_frames);
	for (uint32_t g = 4096; g < 8192; g++)
		ck_assert_uint_eq(pfn_of(g), PFN_NONE);
	/* the isolation over, the same populate works */
	isolate_upper_half(false);
	ck_assert_int_eq(apply1(GUEST_POPULATE, 4096, 4096), 0);
}
END_TEST

/* The frames run out in the first of two ranges: the populate fails
 * there, blaming that range, whatever the later ranges hold (populated
 * already here: a walk that only left the range it failed in took them
 * as success, and answered OK with holes left in the first). */
START_TEST(test_populate_fails_in_first_of_two_ranges)
{
	struct zone *z = &vm->pool.zone;
	struct guest_range r[2] = { { 4096, 4096 }, { 1024, 8 } };
	uint64_t mapped, free_frames;
	size_t bad = 99;

	ck_assert_int_eq(apply1(GUEST_DISCARD, 4096, 4096), 0);
	isolate_upper_half(true);
	zone_lock(z);
	free_frames = zone_free_frames(z);
	zone_unlock(z);
	mapped = vm->p2m.nr_mapped;
	ck_assert_int_eq(apply(GUEST_POPULATE, r, 2, &bad), -ENOMEM);
	ck_assert_uint_eq(bad, 0);
	ck_assert_uint_eq(vm->p2m.nr_mapped, mapped);
	ck_assert_uint_eq(zone_free_frames(z), free_frames);
	for (uint32_t g = 4096; g < 8192; g++)
		ck_assert_uint_eq(pfn_of(g), PFN_NONE);
	isolate_upper_half(false);
}
END_TEST

/* How many guest frames from gfn on are backed (want_backed) or holes,
 * before the first that is not. */
static uint32_t run_of(uint32_t gfn, uint32_t n, bool want_backed)
{
	uint32_t k = 0;

	while (k < n && (pfn_of(gfn + k) != PFN_NONE) == want_backed)
		k++;
	return k;
}

/* A vCPU in a long request does not hold the exit up: when the run ends,
 * a populate or discard stops at its next step, what it did so far done
 * and consistent. The stop comes in the request's first pass (its check of
 * every frame gives the zone lock up each millisecond, and looks then:
 * nothing done yet) or at the end of a step of the second (a prefix of the
 * range done, each step up to a chunk): which one depends on how long the
 * check took, slower under TSan on a loaded machine, so either is right,
 * as long as the request stopped before its end and left a prefix. */
START_TEST(test_stop_ends_long_requests)
{
	uint32_t done;

	free_for_a_long_request();
	guest_mem_stop(&vm->gm);
	ck_assert_int_eq(apply1(GUEST_POPULATE, 4096, 4096), -EINTR);
	done = run_of(4096, 4096, true);
	ck_assert_uint_lt(done, 4096);
	ck_assert_uint_eq(run_of(4096 + done, 4096 - done, false), 4096 - done);
	assert_consistent();
	/* the same for a discard: the frames scattered, so it takes steps */
	atomic_store(&vm->gm.stopping, false);
	ck_assert_int_eq(apply1(GUEST_POPULATE, 4096, 4096), 0);
	guest_mem_stop(&vm->gm);
	ck_assert_int_eq(apply1(GUEST_DISCARD, 4096, 4096), -EINTR);
	done = run_of(4096, 4096, false);
	ck_assert_uint_lt(done, 4096);
	ck_assert_uint_eq(run_of(4096 + done, 4096 - done, true), 4096 - done);
	assert_consistent();
}
END_TEST

/* ---- the plug area ---- */

START_TEST(test_unplugged_slots_refused)
{
	uint32_t plug0 = (uint32_t)(MEM >> FRAME_SHIFT);
	struct vmd_request req;
	uint64_t gpa, huge, stall;

	/* not guest memory until plugged: every request refuses it */
	ck_assert_int_eq(request(VMD_OP_POPULATE, MEM, 4096, 0).status, VMD_E_RANGE);
	ck_assert_int_eq(request(VMD_OP_DISCARD, MEM + 4096, 4096, 0).status, VMD_E_RANGE);
	ck_assert_int_eq(request(VMD_OP_PIN, MEM, 4096, 0).status, VMD_E_RANGE);
	ck_assert_int_eq(request(VMD_OP_BACK_HUGE, MEM, 0, 0).status, VMD_E_RANGE);
	req = request(VMD_OP_POPULATE, MEM - 4096, 8192, 0);
	ck_assert_int_eq(req.status, VMD_E_RANGE);
	ck_assert_uint_eq(pfn_of(plug0), PFN_NONE);
	/* a free block for the plug */
	ck_assert_int_eq(apply1(GUEST_DISCARD, 20 * CHUNK, CHUNK), 0);
	ck_assert_int_eq(huge_plug(vm, PAGEBLOCK_ORDER, &gpa, &huge, &stall), VMD_OK);
	ck_assert_uint_eq(gpa, MEM);
	/* now it is: requests work there, and the frames are the block's */
	ck_assert_int_eq(request(VMD_OP_PIN, MEM, 4096, 0).status, VMD_OK);
	ck_assert_int_eq(request(VMD_OP_UNPIN, MEM, 4096, 0).status, VMD_OK);
	ck_assert_uint_eq(pfn_of(plug0) % CHUNK, 0);
	ck_assert_int_eq(request(VMD_OP_DISCARD, MEM + 4096, 4096, 0).status, VMD_OK);
	ck_assert_int_eq(request(VMD_OP_POPULATE, MEM, 8192, 0).status, VMD_OK);
	/* the next slot is still not guest memory */
	ck_assert_int_eq(request(VMD_OP_POPULATE, MEM + GUEST_CHUNK_BYTES, 4096, 0).status, VMD_E_RANGE);
}
END_TEST

/* ---- back-huge ---- */

/* A back-huge whose memslot switch fails gives its block back punched: the
 * block held a copy of the range by then, and a free frame must read
 * zeros for the next guest that gets it (vm_check reads them). KVM
 * refusing the switch is played by a descriptor that is no VM. */
START_TEST(test_failed_switch_gives_block_back_clean)
{
	uint32_t chunk = 4, g0 = chunk * CHUNK;
	uint64_t huge, stall;

	vm->gm.vm_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	ck_assert_int_ge(vm->gm.vm_fd, 0);
	fill(g0, CHUNK, 3);
	/* out of order: the range has to move */
	ck_assert_int_eq(apply1(GUEST_DISCARD, g0 + 100, 1), 0);
	/* and a free block to move it into */
	ck_assert_int_eq(apply1(GUEST_DISCARD, 20 * CHUNK, CHUNK), 0);
	ck_assert_int_eq(huge_back(vm, (uint64_t)g0 << FRAME_SHIFT, &huge, &stall), VMD_E_NOMEM);
	ck_assert_uint_eq(pfn_of(g0 + 100), PFN_NONE);
	assert_filled(g0, 100, 3);
	assert_filled(g0 + 101, CHUNK - 101, 3);
	ck_assert_uint_eq(vm->pool.zone.nr_huge, 0);
	close(vm->gm.vm_fd);
	vm->gm.vm_fd = -1;
}
END_TEST

/* The same move when the switch works: the range is in one block, in
 * order, its data intact and its hole populated with zeros; the frames it
 * left are free and read zeros. */
START_TEST(test_back_huge_moves_range)
{
	uint32_t chunk = 4, g0 = chunk * CHUNK, blk;
	uint64_t huge, stall, zero = 1;

	fill(g0, CHUNK, 3);
	ck_assert_int_eq(apply1(GUEST_DISCARD, g0 + 100, 1), 0);
	ck_assert_int_eq(apply1(GUEST_DISCARD, 20 * CHUNK, CHUNK), 0);
	ck_assert_int_eq(huge_back(vm, (uint64_t)g0 << FRAME_SHIFT, &huge, &stall), VMD_OK);
	blk = pfn_of(g0);
	ck_assert_uint_eq(blk % CHUNK, 0);
	for (uint32_t i = 0; i < CHUNK; i++)
		ck_assert_uint_eq(pfn_of(g0 + i), blk + i);
	assert_filled(g0, 100, 3);
	assert_filled(g0 + 101, CHUNK - 101, 3);
	ck_assert_int_eq(guest_read(&vm->gm, (uint64_t)(g0 + 100) << FRAME_SHIFT, &zero, 8), 0);
	ck_assert_uint_eq(zero, 0);
	ck_assert_uint_eq(vm->pool.zone.nr_huge, CHUNK);
	ck_assert_uint_eq(vm->gm.side[chunk], 1);
}
END_TEST

/* A hole in a huge block: the block is no longer huge, all of it. */
START_TEST(test_discard_in_huge_block)
{
	uint64_t huge, stall;

	/* booted in order: back-huge just marks the block */
	ck_assert_int_eq(huge_back(vm, 6 * GUEST_CHUNK_BYTES, &huge, &stall), VMD_OK);
	ck_assert_uint_eq(vm->pool.zone.nr_huge, CHUNK);
	ck_assert_int_eq(apply1(GUEST_DISCARD, 6 * CHUNK + 7, 1), 0);
	ck_assert_uint_eq(vm->pool.zone.nr_huge, 0);
}
END_TEST

/* ---- requests racing every compaction policy ---- */

/* Two threads populate and discard random runs of their own half of
 * memory, writing a new word into every frame they populate, while the
 * main thread runs the two scanners (full and for order 9) and min-move
 * (everything, and one block) in turn; every 20 runs the threads stop
 * and every frame is checked: its word, and vm_check(). Min-move once
 * filled a block the guest had emptied meanwhile and handed a frame to
 * two guest frames (test_holes_freed_meanwhile in check_minmove); this
 * is the race that found it. GUEST_MEM_CHURN_SECONDS sets how long. */
#define CHURN_LO	1024U
#define CHURN_FRAMES	7680U		/* per thread */

static struct {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool pause, stop;
	unsigned int paused;
	uint32_t version[2 * CHURN_FRAMES];	/* per frame: its word's seed, 0 a hole */
	atomic_ulong requests, refused;
	char error[256];			/* the first thing a thread found wrong */
} churn;

#define churn_fail(...) do {							\
	pthread_mutex_lock(&churn.lock);						\
	if (!churn.error[0])								\
		snprintf(churn.error, sizeof(churn.error), __VA_ARGS__);		\
	pthread_mutex_unlock(&churn.lock);						\
} while (0)

/* Stops here while the main thread checks; false when the run is over. */
static bool churn_go_on(void)
{
	bool go;

	pthread_mutex_lock(&churn.lock);
	while (churn.pause && !churn.stop) {
		churn.paused++;
		pthread_cond_broadcast(&churn.cond);
		pthread_cond_wait(&churn.cond, &churn.lock);
		churn.paused--;
	}
	go = !churn.stop;
	pthread_mutex_unlock(&churn.lock);
	return go;
}

static void *churn_thread(void *arg)
{
	uint32_t half = (uint32_t)(uintptr_t)arg, lo = CHURN_LO + half * CHURN_FRAMES;
	uint64_t seed = 0x2545F4914F6CDD1DULL * (half + 1), next_version = half + 1;

	while (churn_go_on()) {
		uint32_t first, n, *ver;
		bool populate;
		int err;

		seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17;
		first = lo + (uint32_t)(seed % CHURN_FRAMES);
		n = 1 + (uint32_t)(seed >> 32) % 256;
		if (first + n > lo + CHURN_FRAMES)
			n = lo + CHURN_FRAMES - first;
		populate = seed >> 63;
		err = apply1(populate ? GUEST_POPULATE : GUEST_DISCARD, first, n);
		atomic_fetch_add(&churn.requests, 1);
		if (err == -ENOMEM && populate) {
			atomic_fetch_add(&churn.refused, 1);
			continue;	/* all or nothing: the holes stay holes */
		}
		if (err) {
			churn_fail("%s at guest frame %u: %s", populate ? "populate" : "discard", first, strerror(-err));
			continue;
		}
		ver = &churn.version[first - CHURN_LO];
		for (uint32_t i = 0; i < n; i++) {
			uint64_t w = 0;

			if (!populate) {
				ver[i] = 0;
				continue;
			}
			if (ver[i])
				continue;	/* populated before: keeps its word */
			if (guest_read(&vm->gm, (uint64_t)(first + i) << FRAME_SHIFT, &w, sizeof(w)) || w)
				churn_fail("guest frame %u populated holding 0x%lx", first + i, (unsigned long)w);
			ver[i] = (uint32_t)(next_version += 2);
			w = word(first + i, ver[i]);
			if (guest_write(&vm->gm, (uint64_t)(first + i) << FRAME_SHIFT, &w, sizeof(w)))
				churn_fail("guest frame %u cannot be written", first + i);
		}
	}
	return NULL;
}

/* With the threads stopped: every populated frame holds its word. */
static void churn_check(void)
{
	char msg[256];

	ck_assert_msg(vm_check(vm, msg, sizeof(msg)) == 0, "vm_check: %s", msg);
	for (uint32_t i = 0; i < 2 * CHURN_FRAMES; i++) {
		uint32_t g = CHURN_LO + i, pfn = pfn_of(g);
		uint64_t w = 0;

		ck_assert_msg((pfn == PFN_NONE) == !churn.version[i],
			      "guest frame %u: the p2m says %u, the thread %s", g, pfn,
			      churn.version[i] ? "populated it" : "discarded it");
		if (pfn == PFN_NONE)
			continue;
		ck_assert_int_eq(guest_read(&vm->gm, (uint64_t)g << FRAME_SHIFT, &w, sizeof(w)), 0);
		ck_assert_msg(w == word(g, churn.version[i]), "guest frame %u holds 0x%lx, expected 0x%lx",
			      g, (unsigned long)w, (unsigned long)word(g, churn.version[i]));
	}
}

static void churn_pause(bool pause)
{
	pthread_mutex_lock(&churn.lock);
	churn.pause = pause;
	pthread_cond_broadcast(&churn.cond);
	while (pause && churn.paused < 2)
		pthread_cond_wait(&churn.cond, &churn.lock);
	pthread_mutex_unlock(&churn.lock);
}

START_TEST(test_requests_race_every_policy)
{
	const char *env = getenv("GUEST_MEM_CHURN_SECONDS");
	uint64_t seconds = env ? strtoull(env, NULL, 10) : 5, start = mono_ns(), moved = 0, runs = 0;
	struct compact_stats st;
	pthread_t t[2];

	memset(&churn, 0, sizeof(churn));
	pthread_mutex_init(&churn.lock, NULL);
	pthread_cond_init(&churn.cond, NULL);
	/* every frame of the two halves populated (as booted), then half of them free */
	for (uint32_t i = 0; i < 2 * CHURN_FRAMES; i++)
		churn.version[i] = 1;
	fill(CHURN_LO, 2 * CHURN_FRAMES, 1);
	ck_assert_int_eq(apply1(GUEST_DISCARD, 2048, 8192), 0);
	memset(&churn.version[2048 - CHURN_LO], 0, 8192 * sizeof(churn.version[0]));
	for (uintptr_t i = 0; i < 2; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, churn_thread, (void *)i), 0);
	while (mono_ns() - start < seconds * 1000000000ULL && !churn.error[0]) {
		switch (runs++ % 4) {
		case 0: compact_zone(&vm->compactor, COMPACT_FULL, -1, 0, &st); break;
		case 1: compact_zone(&vm->compactor, COMPACT_DIRECT, PAGEBLOCK_ORDER, 0, &st); break;
		case 2: compact_minmove(&vm->compactor, MINMOVE_MAX, &st); break;
		case 3: compact_minmove(&vm->compactor, 1, &st); break;
		}
		moved += st.moved;
		if (runs % 20 == 0) {
			churn_pause(true);
			churn_check();
			churn_pause(false);
		}
	}
	pthread_mutex_lock(&churn.lock);
	churn.stop = true;
	pthread_cond_broadcast(&churn.cond);
	pthread_mutex_unlock(&churn.lock);
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	ck_assert_msg(!churn.error[0], "%s", churn.error);
	churn_check();
	printf("churn: %lu s, %lu compaction runs, %lu frames moved, %lu requests (%lu refused)\n",
	       (unsigned long)seconds, (unsigned long)runs, (unsigned long)moved,
	       (unsigned long)churn.requests, (unsigned long)churn.refused);
	/* the race was on: frames moved and requests done under it */
	ck_assert_uint_gt(moved, 0);
	ck_assert_uint_gt(churn.requests - churn.refused, 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("guest_mem");
	TCase *tc = tcase_create("guest_mem"), *race;

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_mappings_exact_after_moves);
	tcase_add_test(tc, test_overlapping_ranges_refused);
	tcase_add_test(tc, test_batch_refused_changes_nothing);
	tcase_add_test(tc, test_populate_undone_when_frames_run_out);
	tcase_add_test(tc, test_populate_fails_in_first_of_two_ranges);
	tcase_add_test(tc, test_stop_ends_long_requests);
	tcase_add_test(tc, test_unplugged_slots_refused);
	tcase_add_test(tc, test_failed_switch_gives_block_back_clean);
	tcase_add_test(tc, test_back_huge_moves_range);
	tcase_add_test(tc, test_discard_in_huge_block);
	suite_add_tcase(s, tc);
	race = tcase_create("race");
	tcase_add_checked_fixture(race, setup, teardown);
	tcase_set_timeout(race, 60 + (getenv("GUEST_MEM_CHURN_SECONDS") ?
				      atoi(getenv("GUEST_MEM_CHURN_SECONDS")) : 0));
	tcase_add_test(race, test_requests_race_every_policy);
	suite_add_tcase(s, race);
	return check_run(s);
}
