/* stallwatch: fragments its memory like `fragment`, says so
 * ("report: fragmented 1"), then for seconds=S (default 10) writes to
 * random kept pages in a tight loop, timing each iteration with rdtsc. An
 * iteration that took longer than threshold_us (default 20) was a stall -
 * the vCPU was held out of the guest, as when the host moves frames.
 * Reports the stalls' count and p50/p99/max in microseconds. */
#include "fragment.h"
#include "vmd.h"

VMD_GUEST_PURPOSE("times a write loop on a fragmented guest to catch stalls");

#define MAX_STALLS 65536

static uint64_t stalls[MAX_STALLS];


int main(void)
{
	uint64_t khz = vmd_info.tsc_khz ? vmd_info.tsc_khz : 2000000;
	uint64_t seconds = vmd_arg_u64("seconds", 10), threshold = vmd_arg_u64("threshold_us", 20);
	uint64_t rng = 12345, n = 0, iterations = 0, limit, last, t0;
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
		if (now - last > threshold && n < MAX_STALLS)
			stalls[n++] = now - last;
		last = now;
	}
	vmd_sort_u64(stalls, n);
	vmd_report("stall_count", n);
	vmd_report("stall_p50_us", n ? stalls[n / 2] * 1000 / khz : 0);
	vmd_report("stall_p99_us", n ? stalls[n * 99 / 100] * 1000 / khz : 0);
	vmd_report("stall_max_us", n ? stalls[n - 1] * 1000 / khz : 0);
	vmd_report("loop_iterations", iterations);
	return 0;
}
