/* hugetest: huge regions on a fragmented pool.
 *   mode=ok (default): fragments its memory, writes patterns, asks for
 *     back-huge of several 2 MiB ranges, then of the first one again
 *     after discards in it (the range moves between the two sides of its
 *     memslot, and back), and plug-huge of order 9 and 10, checks every
 *     byte afterwards and reports what the host did;
 *   mode=pinned: pins a page in every 8 it keeps, so every pool block
 *     holds a pinned frame, then expects back-huge and plug-huge to fail
 *     with VMD_E_FRAGMENTED (and VMD_E_PINNED for a range it pinned);
 *   mode=args: bad arguments, each with its own status.
 * With hold=1 it then spins until the VMM stops it. Exits 0 when everything was as expected. */
#include "fragment.h"
#include "memtest.h"
#include "vmd.h"

VMD_GUEST_PURPOSE("huge regions (back-huge, plug-huge) on a fragmented pool");


static int failures;

#define expect(call, status) do { \
	int got_ = (call); \
	if (got_ != (status)) { \
		vmd_printf("hugetest: %s gave %d, expected %d\n", #call, got_, (status)); \
		failures++; \
	} \
} while (0)

static int mode_ok(struct fragment_state *st)
{
	uint64_t backed = 0, rebacked = 0, huge, stall, addr, bad;
	uint64_t first = (st->start + VMD_HUGE_SIZE - 1) / VMD_HUGE_SIZE * VMD_HUGE_SIZE;
	unsigned int ranges = (unsigned int)vmd_arg_u64("ranges", 8), rebacks = 3;

	memtest_write(st->start, st->end, st->discarded, 7);
	for (unsigned int i = 0; i < ranges; i++) {
		uint64_t gpa = first + i * 16 * VMD_HUGE_SIZE;

		if (gpa + VMD_HUGE_SIZE > st->end)
			break;
		expect(vmd_back_huge(gpa, &huge, &stall), VMD_OK);
		vmd_printf("hugetest: back-huge 0x%lx: host huge %lu, stall %lu us\n", gpa, huge, stall / 1000);
		backed += huge;
		/* discarded pages in it are populated now: give them a pattern */
		for (uint64_t a = gpa; a < gpa + VMD_HUGE_SIZE; a += VMD_PAGE_SIZE) {
			uint64_t p = (a - st->start) / VMD_PAGE_SIZE;

			if (a >= st->start && fragment_is_discarded(st, p)) {
				st->discarded[p >> 3] &= (uint8_t)~(1 << (p & 7));
				memtest_write(a, a + VMD_PAGE_SIZE, 0, 7);
			}
		}
	}
	/* holes in a backed range take it out of order: each round moves it
	 * again, into a new block, and fills the holes with the pattern */
	for (unsigned int round = 0; round < rebacks && first + VMD_HUGE_SIZE <= st->end; round++) {
		uint64_t hole = first + (16 + 8 * round) * VMD_PAGE_SIZE;

		VMD_ASSERT(vmd_discard(hole, 4 * VMD_PAGE_SIZE) == VMD_OK);
		expect(vmd_back_huge(first, &huge, &stall), VMD_OK);
		rebacked += huge;
		memtest_write(hole, hole + 4 * VMD_PAGE_SIZE, 0, 7);
	}
	bad = memtest_verify(st->start, st->end, st->discarded, 7);
	vmd_report("hugetest_bad_pages", bad);
	vmd_report("hugetest_back_huge_host_huge", backed);
	vmd_report("hugetest_reback_host_huge", rebacked);
	if (vmd_info.plug_bytes >= 6 * VMD_HUGE_SIZE) {
		expect(vmd_plug_huge(9, &addr, &huge, &stall), VMD_OK);
		vmd_printf("hugetest: plug-huge order 9 at 0x%lx: host huge %lu, stall %lu us\n", addr, huge, stall / 1000);
		memtest_write(addr, addr + VMD_HUGE_SIZE, 0, 9);
		bad += memtest_verify(addr, addr + VMD_HUGE_SIZE, 0, 9);
		expect(vmd_plug_huge(10, &addr, &huge, &stall), VMD_OK);
		vmd_printf("hugetest: plug-huge order 10 at 0x%lx: host huge %lu\n", addr, huge);
		VMD_ASSERT(addr % (4 * 1024 * 1024) == 0);
		memtest_write(addr, addr + 2 * VMD_HUGE_SIZE, 0, 10);
		bad += memtest_verify(addr, addr + 2 * VMD_HUGE_SIZE, 0, 10);
		vmd_report("hugetest_plug_bad_pages", bad);
	}
	return bad ? 1 : 0;
}

static int mode_pinned(struct fragment_state *st)
{
	uint64_t target = (st->start + VMD_HUGE_SIZE - 1) / VMD_HUGE_SIZE * VMD_HUGE_SIZE + 32 * VMD_HUGE_SIZE;
	uint64_t addr, pinned = 0;

	/* a page in every 8 of all memory (the image too) but the target
	 * range and what was discarded */
	for (uint64_t a = 0; a < st->end; a += 8 * VMD_PAGE_SIZE) {
		if ((a >= st->start && fragment_is_discarded(st, (a - st->start) / VMD_PAGE_SIZE)) ||
		    (a >= target && a < target + VMD_HUGE_SIZE))
			continue;
		VMD_ASSERT(vmd_pin(a, VMD_PAGE_SIZE) == VMD_OK);
		pinned++;
	}
	vmd_report("hugetest_pinned_pages", pinned);
	expect(vmd_back_huge(target, 0, 0), VMD_E_FRAGMENTED);
	if (vmd_info.plug_bytes)
		expect(vmd_plug_huge(9, &addr, 0, 0), VMD_E_FRAGMENTED);
	/* a range holding a pinned page cannot move at all */
	expect(vmd_back_huge(target + VMD_HUGE_SIZE, 0, 0), VMD_E_PINNED);
	return failures ? 1 : 0;
}

static int mode_args(void)
{
	uint64_t addr;

	expect(vmd_back_huge(vmd_heap_end() + 4096, 0, 0), VMD_E_ALIGN);
	expect(vmd_back_huge(vmd_info.mem_bytes + vmd_info.plug_bytes, 0, 0), VMD_E_RANGE);
	expect(vmd_back_huge(1ULL << 50, 0, 0), VMD_E_RANGE);
	/* the plug area is the VMM's to hand out: nothing is plugged yet */
	if (vmd_info.plug_bytes)
		expect(vmd_back_huge(vmd_info.mem_bytes, 0, 0), VMD_E_RANGE);
	expect(vmd_plug_huge(8, &addr, 0, 0), VMD_E_INVAL);
	expect(vmd_plug_huge(11, &addr, 0, 0), VMD_E_INVAL);
	expect(vmd_plug_huge(99, &addr, 0, 0), VMD_E_INVAL);
	if (!vmd_info.plug_bytes)
		expect(vmd_plug_huge(9, &addr, 0, 0), VMD_E_NOMEM);
	return failures ? 1 : 0;
}

int main(void)
{
	const char *mode = vmd_arg("mode");
	struct fragment_state st;
	int rc;

	if (mode && !strncmp(mode, "args", 4))
		rc = mode_args();
	else {
		fragment_memory(&st, vmd_arg_u64("seed", 1), 4, vmd_arg_u64("keep", 40));
		rc = mode && !strncmp(mode, "pinned", 6) ? mode_pinned(&st) : mode_ok(&st);
	}
	vmd_printf("hugetest: %d unexpected statuses\n", failures);
	vmd_report("hugetest_done", 1);
	/* hold=1: stay up, so the host can look at what it built */
	while (vmd_arg_u64("hold", 0))
		;
	return rc || failures ? 1 : 0;
}
