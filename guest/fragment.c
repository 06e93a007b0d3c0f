/* fragment: what a long-running guest with free page reporting does to
 * host memory (see fragment.h), ending with keep=PERCENT (default 40) of
 * its memory discarded in scattered runs. Then, unless memtest=0, memtest
 * over the pages it kept: loops=N rounds (0: until the VMM stops it),
 * reporting each round; with churn=1 each round first fragments again, so
 * the host always has frames to move. Arguments: seed, rounds (default 4),
 * keep, memtest, loops, churn. */
#include "fragment.h"
#include "memtest.h"
#include "vmd.h"

VMD_GUEST_PURPOSE("fragments its memory like a long-running guest, then memtests what it kept");

int main(void)
{
	uint64_t seed = vmd_arg_u64("seed", 1), rounds = vmd_arg_u64("rounds", 4);
	uint64_t keep = vmd_arg_u64("keep", 40), loops = vmd_arg_u64("loops", 1), bad = 0;
	struct fragment_state st;

	vmd_printf("fragment: %lu MiB at 0x%lx, seed %lu, %lu rounds, ending %lu%% discarded\n",
		   (vmd_info.mem_bytes - vmd_heap_end()) >> 20, vmd_heap_end(), seed, rounds, keep);
	fragment_memory(&st, seed, rounds, keep);
	vmd_report("fragment_discarded_pages", st.ndiscarded);
	vmd_printf("fragment: %lu of %lu pages discarded\n", st.ndiscarded, st.pages);
	if (!vmd_arg_u64("memtest", 1))
		return 0;
	for (uint64_t round = 1; !loops || round <= loops; round++) {
		if (round > 1 && vmd_arg_u64("churn", 0))
			fragment_churn(&st, keep);
		memtest_write(st.start, st.end, st.discarded, round);
		bad += memtest_verify(st.start, st.end, st.discarded, round);
		if (!loops)
			vmd_report("memtest_round_bad_pages", bad);
		if (bad)
			break;
	}
	vmd_report("memtest_bad_pages", bad);
	vmd_printf("memtest: %s over the %lu kept pages\n", bad ? "FAILED" : "passed",
		   st.pages - st.ndiscarded);
	return bad ? 1 : 0;
}
