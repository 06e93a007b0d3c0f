/* badreq: every kind of bad request the interface refuses, each with its
 * own status; exits 0 when each got the right one and nothing changed.
 *   mode=plug (with --plug 4M or more): the plug area, refused until
 *   plugged;
 *   mode=noisy: instead, floods the VMM with requests it complains about
 *   on stderr, then fails an assertion whose text carries terminal escape
 *   sequences (the VMM must print them escaped, and not all of them). */
#include "vmd.h"

VMD_GUEST_PURPOSE("every kind of bad request, each refused with its own status");

static int failures;

#define expect(call, status) do { \
	int got_ = (call); \
	if (got_ != (status)) { \
		vmd_printf("badreq: %s gave %d, expected %d (%s)\n", #call, got_, (status), #status); \
		failures++; \
	} \
} while (0)

static int noisy(void)
{
	static const char expr[] = "\x1b[2J\x1b]0;pwned\x07 == \"quiet\"";

	/* request blocks the VMM cannot read: each one a complaint */
	for (int i = 0; i < 1000; i++)
		__asm__ volatile("outl %0, %1" : : "a"((uint32_t)0x1003), "Nd"((uint16_t)VMD_PORT));
	vmd_assert_fail(expr, "\x1b[31mred.c", 1);
}

/* The plug area is not guest memory until plugged; then it is. */
static void plug_area(uint64_t mem)
{
	uint64_t addr = 0;

	VMD_ASSERT(vmd_info.plug_bytes >= (2ULL << 20));
	expect(vmd_populate(mem, 4096), VMD_E_RANGE);
	/* a buffer that runs into the plug area runs out of guest memory */
	expect(vmd_request(VMD_OP_GET_ARGS, mem - 4, 64, 0, NULL), VMD_E_RANGE);
	expect(vmd_pin(mem + 8192, 4096), VMD_E_RANGE);
	expect(vmd_discard(mem, 4096), VMD_E_RANGE);
	expect(vmd_back_huge(mem, NULL, NULL), VMD_E_RANGE);
	expect(vmd_populate(mem - 4096, 8192), VMD_E_RANGE);
	/* a block to plug: 2 MiB of memory given back */
	expect(vmd_discard(vmd_heap_end() + (2ULL << 20), 2ULL << 20), VMD_OK);
	expect(vmd_plug_huge(9, &addr, NULL, NULL), VMD_OK);
	if (addr != mem) {
		vmd_printf("badreq: plugged at 0x%lx, expected 0x%lx\n", addr, mem);
		failures++;
	}
	*(volatile uint64_t *)(uintptr_t)mem = 7;
	expect(vmd_pin(mem, 4096), VMD_OK);
	expect(vmd_unpin(mem, 4096), VMD_OK);
	expect(vmd_populate(mem - 4096, 8192), VMD_OK);
	VMD_ASSERT(*(volatile uint64_t *)(uintptr_t)mem == 7);
	/* past the plugged slot: the next one, or past guest memory */
	expect(vmd_populate(mem + (2ULL << 20), 4096), VMD_E_RANGE);
}

int main(void)
{
	uint64_t mem = vmd_info.mem_bytes, page = vmd_heap_end(), out[6];
	static struct vmd_range ranges[3];
	static const char long_key[100] = "a-key-longer-than-sixty-four-bytes-is-refused-by-the-vmm-as-bad-argument-xx";
	uint64_t bad = 99;

	if (vmd_arg("mode") && !strcmp(vmd_arg("mode"), "noisy"))
		return noisy();
	if (vmd_arg("mode") && !strcmp(vmd_arg("mode"), "plug")) {
		plug_area(mem);
		vmd_printf("badreq: %d unexpected statuses\n", failures);
		return failures ? 1 : 0;
	}

	expect(vmd_request(77, 0, 0, 0, NULL), VMD_E_UNKNOWN);
	expect(vmd_request(0, 0, 0, 0, NULL), VMD_E_UNKNOWN);
	expect(vmd_discard(page + 1, 4096), VMD_E_ALIGN);
	expect(vmd_discard(page, 100), VMD_E_ALIGN);
	expect(vmd_populate(page + 2048, 4096), VMD_E_ALIGN);
	expect(vmd_discard(mem, 4096), VMD_E_RANGE);
	expect(vmd_pin(mem + (1ULL << 40), 4096), VMD_E_RANGE);
	expect(vmd_discard(mem - 4096, 8192), VMD_E_END);
	expect(vmd_populate(page, ~0ULL & ~4095ULL), VMD_E_END);
	expect(vmd_discard(page, 0), VMD_E_INVAL);
	/* pin what is not populated */
	expect(vmd_discard(page, 4096), VMD_OK);
	expect(vmd_pin(page, 8192), VMD_E_NOT_POPULATED);
	expect(vmd_unpin(page + 4096, 4096), VMD_E_NOT_PINNED);
	/* the failed pin pinned nothing: its second page can be discarded */
	expect(vmd_populate(page, 4096), VMD_OK);
	/* discard what is pinned */
	expect(vmd_pin(page + 4096, 4096), VMD_OK);
	expect(vmd_discard(page, 3 * 4096), VMD_E_PINNED);
	/* ... which changed nothing: the first page is still there */
	*(volatile uint64_t *)(uintptr_t)page = 42;
	expect(vmd_unpin(page + 4096, 4096), VMD_OK);
	expect(vmd_unpin(page + 4096, 4096), VMD_E_NOT_PINNED);
	/* batches: checked whole before anything is done */
	ranges[0].addr = page;
	ranges[0].bytes = 4096;
	ranges[1].addr = page + 8192;
	ranges[1].bytes = 4095;
	expect(vmd_mem_batch(VMD_OP_DISCARD, ranges, 2, &bad), VMD_E_ALIGN);
	if (bad != 1) {
		vmd_printf("badreq: batch blamed range %lu, expected 1\n", bad);
		failures++;
	}
	VMD_ASSERT(*(volatile uint64_t *)(uintptr_t)page == 42);
	/* overlapping ranges: each would pass its check, and the frame
	 * would be done twice */
	ranges[1].addr = page;
	ranges[1].bytes = 4096;
	expect(vmd_pin(page, 4096), VMD_OK);
	expect(vmd_mem_batch(VMD_OP_UNPIN, ranges, 2, &bad), VMD_E_INVAL);
	if (bad != 1) {
		vmd_printf("badreq: overlapping batch blamed range %lu, expected 1\n", bad);
		failures++;
	}
	expect(vmd_discard(page, 4096), VMD_E_PINNED);	/* still pinned once */
	expect(vmd_unpin(page, 4096), VMD_OK);
	expect(vmd_mem_batch(VMD_OP_PIN, ranges, 2, &bad), VMD_E_INVAL);
	expect(vmd_unpin(page, 4096), VMD_E_NOT_PINNED);	/* never pinned */
	expect(vmd_mem_batch(VMD_OP_EXIT, ranges, 1, NULL), VMD_E_INVAL);
	expect(vmd_mem_batch(VMD_OP_DISCARD, ranges, VMD_BATCH_MAX + 1, NULL), VMD_E_INVAL);
	expect(vmd_mem_batch(VMD_OP_DISCARD, (void *)(uintptr_t)(mem - 8), 1, NULL), VMD_E_END);
	expect(vmd_mem_batch(VMD_OP_DISCARD, (void *)(uintptr_t)(mem + 64), 1, NULL), VMD_E_RANGE);
	/* strings and buffers outside memory, too long, unterminated */
	expect(vmd_request(VMD_OP_CONSOLE, mem - 2, 16, 0, NULL), VMD_E_END);
	expect(vmd_request(VMD_OP_CONSOLE, page, VMD_CONSOLE_MAX + 1, 0, NULL), VMD_E_INVAL);
	expect(vmd_request(VMD_OP_REPORT, (uint64_t)(uintptr_t)long_key, 1, 0, NULL), VMD_E_INVAL);
	expect(vmd_request(VMD_OP_REPORT, mem + 64, 1, 0, NULL), VMD_E_RANGE);
	expect(vmd_request(VMD_OP_EXIT, 256, 0, 0, NULL), VMD_E_INVAL);
	expect(vmd_request(VMD_OP_GET_ARGS, mem - 4, 64, 0, NULL), VMD_E_END);
	expect(vmd_request(VMD_OP_INFO, 0, 0, 0, out), VMD_OK);
	if (out[0] != mem) {
		vmd_printf("badreq: INFO changed its answer\n");
		failures++;
	}
	vmd_printf("badreq: %d unexpected statuses\n", failures);
	return failures ? 1 : 0;
}
