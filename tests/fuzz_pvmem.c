/* Fuzz target for the guest interface: the request decoder, MEM_BATCH,
 * huge requests and guest memory, on a VM's memory side without KVM
 * (vm_create_memory(): a real memfd pool, allocator, p2m and mappings; no
 * memslots). An input is a small program: each step writes bytes into
 * guest memory (request blocks, range arrays, strings), sends a request
 * through pvmem_handle() as a vCPU would, or compacts the pool. After a
 * program that changed guest memory, vm_check() must hold; anything else
 * is a finding (abort), and so is a refused request that changed what the
 * guest can see. Each program starts from the VM as booted (put back after
 * every program that changed it), so a finding reproduces from its input
 * alone.
 *
 * Built with -fsanitize-coverage-ignorelist=tests/fuzz_pvmem.ignore (the
 * checkers are the judge, not the code under test) and without trace-cmp
 * (the program's values are decoded to meaningful ones already, and the
 * per-frame loops' comparisons would take most of the time). */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "guest/include/vmdefrag_abi.h"
#include "mm/compaction.h"
#include "mm/minmove.h"
#include "vmm/pvmem.h"
#include "vmm/vcpu.h"
#include "vmm/vm.h"
#include "vmm/vm_setup.h"

#define MEM		(8ULL << 20)
#define PLUG		(4ULL << 20)
#define FRAMES		((MEM + PLUG) >> FRAME_SHIFT)
#define CHUNKS		((MEM + PLUG) / GUEST_CHUNK_BYTES)
#define MAX_STEPS	64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct vm *vm;
static struct vcpu vcpu;

/* The allocator and p2m as they were after boot. */
static struct zone boot_zone;
static struct p2m boot_p2m;

static void snapshot_boot(void)
{
	if (buddy_clone(&boot_zone, &vm->pool.zone) || p2m_clone(&boot_p2m, &vm->p2m, &boot_zone)) {
		fprintf(stderr, "fuzz_pvmem: cannot keep the booted state\n");
		abort();
	}
}

/* Puts the VM back as it booted: the allocator and p2m copied back from
 * the snapshot, every frame a hole again, no plug, every chunk on side 0,
 * RAM mapped in one piece. Recreating the VM instead costs ~2 ms. */
static void vm_reboot(void)
{
	struct guest_mem *gm = &vm->gm;
	struct zone *z = &vm->pool.zone;
	uint32_t ram = (uint32_t)(MEM >> FRAME_SHIFT);

	zone_lock(z);
	memcpy(z->frames, boot_zone.frames, (size_t)z->nr_frames * sizeof(*z->frames));
	memcpy(z->pageblock, boot_zone.pageblock, z->nr_pageblocks);
	memcpy(z->free_area, boot_zone.free_area, sizeof(z->free_area));
	z->free_frames = boot_zone.free_frames;
	z->nr_pinned = boot_zone.nr_pinned;
	z->nr_huge = boot_zone.nr_huge;
	memcpy(vm->p2m.pfn_of, boot_p2m.pfn_of, (size_t)boot_p2m.nr_gfns * sizeof(*boot_p2m.pfn_of));
	vm->p2m.nr_mapped = boot_p2m.nr_mapped;
	vm->p2m.nr_breaks = boot_p2m.nr_breaks;
	memset(gm->side, 0, gm->nr_chunks);
	memset(gm->stale, 0, gm->nr_chunks);
	memset(gm->plugged + gm->nr_ram_chunks, 0, gm->nr_chunks - gm->nr_ram_chunks);
	gm->nr_stale = 0;
	if (pool_punch(&vm->pool, 0, z->nr_frames) || pool_view_hole(gm->side_base[0], 2 * gm->size) ||
	    guest_mem_map_frames(gm, 0, ram, 0) || guest_mem_map_frames(gm, ram, gm->nr_gfns - ram, PFN_NONE)) {
		fprintf(stderr, "fuzz_pvmem: cannot map guest memory again\n");
		abort();
	}
	zone_unlock(z);
	/* the compaction state as at boot: the VMM's mover and release() */
	{
		struct compactor booted = vm->compactor;

		compactor_init(&vm->compactor, z, &vm->p2m, booted.migrate, booted.migrate_arg);
		vm->compactor.release = booted.release;
		vm->compactor.pace_due = booted.pace_due;
		vm->compactor.pace = booted.pace;
	}
	vm->compactor.batch = 8;
	vm->stopping = false;
	vm->vcpus_done = 0;
	atomic_store(&gm->stopping, false);
}

static void vm_up(void)
{
	struct vm_config cfg = {
		.mem_bytes = MEM,
		.plug_bytes = PLUG,
		.nr_cpus = 2,
		.backing = POOL_MEMFD,
		.batch = 8,	/* small batches: more of them, more lock breaks */
	};

	vm = calloc(1, sizeof(*vm));
	if (!vm || vm_create_memory(vm, &cfg)) {
		fprintf(stderr, "fuzz_pvmem: cannot create the VM's memory\n");
		abort();
	}
	vcpu = (struct vcpu){ .vm = vm, .id = 0, .fd = -1 };
	snapshot_boot();
}

/* ---- reading the program ---- */

struct input {
	const uint8_t *p;
	size_t left;
};

static uint64_t bytes(struct input *in, unsigned int n)
{
	uint64_t v = 0;

	for (unsigned int i = 0; i < n && in->left; i++, in->left--)
		v |= (uint64_t)*in->p++ << (8 * i);
	return v;
}

/* An argument: mostly values that mean something to this VM, some
 * anything at all. */
static uint64_t value(struct input *in)
{
	uint8_t kind = (uint8_t)bytes(in, 1);
	uint64_t x = bytes(in, 2);

	switch (kind & 7) {
	case 0: return x & 0xff;				/* counts, orders, codes */
	case 1: return (x % (FRAMES + 16)) << FRAME_SHIFT;	/* a page, or just past */
	case 2: return (x % (CHUNKS + 2)) * GUEST_CHUNK_BYTES;	/* a 2 MiB boundary */
	case 3: return ((x % 1024) + 1) << FRAME_SHIFT;		/* a length in pages */
	case 4: return ((x % FRAMES) << FRAME_SHIFT) | (kind >> 3);	/* misaligned */
	case 5: return MEM + ((x % 1100) << FRAME_SHIFT);	/* the plug area */
	case 6: return bytes(in, 8);				/* anything */
	default: return ~0ULL - (x << FRAME_SHIFT);		/* near the top: wraps */
	}
}

static const uint32_t ops[] = {
	VMD_OP_INFO, VMD_OP_CONSOLE, VMD_OP_EXIT, VMD_OP_VCPU_DONE, VMD_OP_REPORT, VMD_OP_ASSERT,
	VMD_OP_GET_ARGS, VMD_OP_BOOTED, VMD_OP_POPULATE, VMD_OP_DISCARD, VMD_OP_PIN, VMD_OP_UNPIN,
	VMD_OP_MEM_BATCH, VMD_OP_BACK_HUGE, VMD_OP_PLUG_HUGE, 0, 9, 23, 0xffffffff,
};

static void write_guest(uint64_t gpa, const void *buf, uint64_t len)
{
	guest_write(&vm->gm, gpa, buf, len);	/* not backed: the request finds out */
}

/* What the guest can tell of its memory: which frames are populated and
 * how often pinned, and which slots are plugged; not where frames are
 * (compaction may move them at any time). FNV-1a. */
static uint64_t guest_state(void)
{
	const struct zone *z = &vm->pool.zone;
	uint64_t h = 0xcbf29ce484222325ULL;

	zone_lock(&vm->pool.zone);
	for (uint32_t g = 0; g < vm->p2m.nr_gfns; g++) {
		uint32_t pfn = p2m_lookup(&vm->p2m, g);
		uint64_t v = pfn == PFN_NONE ? 0 : 1 + (uint64_t)frame_pins(z, pfn);

		h = (h ^ v) * 0x100000001b3ULL;
	}
	for (uint32_t c = 0; c < vm->gm.nr_chunks; c++)
		h = (h ^ vm->gm.plugged[c]) * 0x100000001b3ULL;
	zone_unlock(&vm->pool.zone);
	return h;
}

static bool changes_memory(uint32_t op)
{
	return op == VMD_OP_POPULATE || op == VMD_OP_DISCARD || op == VMD_OP_PIN ||
	       op == VMD_OP_UNPIN || op == VMD_OP_MEM_BATCH || op == VMD_OP_BACK_HUGE ||
	       op == VMD_OP_PLUG_HUGE;
}

/* A request as a vCPU makes one: a block at a guest address (the port
 * takes 32 bits), then the exit. A refused request must change nothing
 * the guest can see. */
static bool request(struct input *in)
{
	uint32_t op = ops[bytes(in, 1) % (sizeof(ops) / sizeof(ops[0]))];
	struct vmd_request req = { op, 1, { 0 } };
	uint64_t block = value(in), before = 0;
	bool answered;

	for (int i = 0; i < 4; i++)
		req.arg[i] = value(in);
	write_guest(block, &req, sizeof(req));
	if (changes_memory(op))
		before = guest_state();
	pvmem_handle(&vcpu, (uint32_t)block);
	answered = !guest_read(&vm->gm, (uint32_t)block, &req, sizeof(req));
	/* (once the run is ending, a request stops half way on purpose) */
	if (changes_memory(op) && answered && req.status != VMD_OK && req.status != 1 &&
	    !vm->stopping && guest_state() != before) {
		fprintf(stderr, "fuzz_pvmem: op %u was refused (%d) but changed guest memory\n", op,
			req.status);
		abort();
	}
	return changes_memory(op);
}

/* Ranges for a MEM_BATCH, or a string, laid out in guest memory. */
static void write_ranges(struct input *in)
{
	struct vmd_range r[16];
	uint64_t at = value(in), n = bytes(in, 1) % 17;

	for (uint64_t i = 0; i < n; i++)
		r[i] = (struct vmd_range){ value(in), value(in) };
	write_guest(at, r, n * sizeof(r[0]));
}

static void write_bytes(struct input *in)
{
	uint64_t at = value(in), n = bytes(in, 1);

	if (n > in->left)
		n = in->left;
	write_guest(at, in->p, n);
	in->p += n;
	in->left -= n;
}

static void compact(struct input *in)
{
	struct compact_stats st;
	uint8_t how = (uint8_t)bytes(in, 1);

	if (how & 1)
		compact_minmove(&vm->compactor, how >> 4, &st);
	else
		compact_zone(&vm->compactor, how & 2 ? COMPACT_FULL : COMPACT_DIRECT, (how >> 4) % NR_ORDERS,
			     0, &st);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in = { data, size };
	static int devnull, out;
	bool changed = false;
	char msg[256];

	if (!vm) {
		devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
		out = dup(1);
		vm_up();
	}
	/* the guest's console goes nowhere */
	fflush(stdout);
	dup2(devnull, 1);
	for (int step = 0; step < MAX_STEPS && in.left; step++) {
		switch (bytes(&in, 1) % 8) {
		case 0: write_bytes(&in); break;
		case 1: write_ranges(&in); break;
		case 2: compact(&in); changed = true; break;
		default: changed |= request(&in); break;
		}
	}
	fflush(stdout);
	dup2(out, 1);
	if (changed && vm_check(vm, msg, sizeof(msg))) {
		fprintf(stderr, "fuzz_pvmem: after this input the VMM is not consistent: %s\n", msg);
		abort();
	}
	if (changed)
		vm_reboot();
	return 0;
}
