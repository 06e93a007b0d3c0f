/* badreq: every kind of bad request the interface refuses, each with its
 * own status; exits 0 when each got the right one and nothing changed. */
#include "vmd.h"

static int failures;

#define expect(call, status) do { \
	int got_ = (call); \
	if (got_ != (status)) { \
		vmd_printf("badreq: %s gave %d, expected %d (%s)\n", #call, got_, (status), #status); \
		failures++; \
	} \
} while (0)

int main(void)
{
	uint64_t mem = vmd_info.mem_bytes, page = vmd_heap_end(), out[6];
	static struct vmd_range ranges[3];
	static const char long_key[100] = "a-key-longer-than-sixty-four-bytes-is-refused-by-the-vmm-as-bad-argument-xx";
	uint64_t bad = 99;

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
