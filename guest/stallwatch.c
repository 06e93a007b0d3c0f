/* stallwatch: fragments its memory like `fragment`, says so
 * ("report: fragmented 1"), then for seconds=S (default 10) writes to
 * random kept pages in a tight loop, timing each iteration with rdtsc. An
 * iteration that took longer than threshold_us (default 20) was a stall -
 * the vCPU was held out of the guest, as when the host moves frames.
 * Reports the stalls' count, p50/p99/max in microseconds and how many
 * took over a millisecond. */
#include "fragment.h"
#include "vmd.h"

VMD_GUEST_PURPOSE("times a write loop on a fragmented guest to catch stalls");

/* Every stall counts, in 1 us buckets up to 65 ms (the last bucket holds
 * the longer ones; the max is kept exactly): a nested host interrupts
 * the loop for ~25 us thousands of times a second, so a list of the first
 * stalls would fill up before the compaction being watched began. */
#define HIST_US 65536

static uint32_t hist[HIST_US + 1];

/* The microseconds of the stall at rank (0-based, in ascending order). */
static uint64_t stall_at(uint64_t rank)
{
	uint64_t seen = 0;

	for (uint64_t us = 0; us <= HIST_US; us++) {
		seen += hist[us];
		if (seen > rank)
			return us;
	}
	return HIST_US;
}

int main(void)
{
	uint64_t khz = vmd_info.tsc_khz ? vmd_info.tsc_khz : 2000000;
	uint64_t seconds = vmd_arg_u64("seconds", 10), threshold = vmd_arg_u64("threshold_us", 20);
	uint64_t rng = 12345, n = 0, over_1ms = 0, max = 0, iterations = 0, limit, last, t0;
	struct fragment_state st;

	fragment_memory(&st, vmd_arg_u64("seed", 1), vmd_arg_u64("rounds", 4), vmd_arg_u64("keep", 40));
	vmd_report("fragmented", 1);
	threshold = threshold * khz / 1000;
	limit = seconds * khz * 1000;
	t0 = last = vmd_rdtsc();
	while (last - t0 < limit) {
		uint64_t p = vmd_rand(&rng) % st.pages, now;

		if (!fragment_is_discarded(&st, p))
			*(volatile uint64_t *)(uintptr_t)(st.start + p * VMD_PAGE_SIZE + (iterations & 511) * 8) =
				iterations;
		iterations++;
		now = vmd_rdtsc();
		if (now - last > threshold) {
			uint64_t us = (now - last) * 1000 / khz;

			hist[us < HIST_US ? us : HIST_US]++;
			n++;
			over_1ms += us > 1000;
			if (us > max)
				max = us;
		}
		last = now;
	}
	vmd_report("stall_count", n);
	vmd_report("stall_p50_us", n ? stall_at(n / 2) : 0);
	vmd_report("stall_p99_us", n ? stall_at(n * 99 / 100) : 0);
	vmd_report("stall_max_us", max);
	vmd_report("stall_over_1ms", over_1ms);
	vmd_report("loop_iterations", iterations);
	return 0;
}
