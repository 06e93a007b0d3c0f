/* memtest: writes a distinct pattern into every page of a region and
 * verifies it; loops=N rounds (0: until the VMM stops it), mb=SIZE of the
 * region (default: all memory after the image). Exits 1 on a mismatch. */
#include "memtest.h"
#include "vmd.h"

VMD_GUEST_PURPOSE("writes a pattern into every page and verifies it, loops=N rounds");

int main(void)
{
	uint64_t start = vmd_heap_end(), end = vmd_info.mem_bytes;
	uint64_t mb = vmd_arg_mib("mb", 0), loops = vmd_arg_u64("loops", 1), bad = 0;

	if (mb && start + (mb << 20) < end)
		end = start + (mb << 20);
	vmd_printf("memtest: %lu MiB at 0x%lx, %lu round(s)\n", (end - start) >> 20, start, loops);
	for (uint64_t round = 0; !loops || round < loops; round++) {
		memtest_write(start, end, 0, round);
		bad += memtest_verify(start, end, 0, round);
		if (bad)
			break;
		if (!loops && round % 10 == 9)
			vmd_report("memtest_rounds", round + 1);
	}
	vmd_report("memtest_bad_pages", bad);
	vmd_printf("memtest: %s\n", bad ? "FAILED" : "passed");
	return bad ? 1 : 0;
}
