/* hugelat: latency of huge-region requests on a fragmented pool. After
 * fragmenting its memory like `fragment`, it makes requests=N (default 96)
 * requests, one every gap_ms (default 50) - back-huge of successive 2 MiB
 * ranges, and every fourth a plug-huge of order 9 when there is a plug
 * area - timing each with rdtsc, and reports the latency p50/p99/max in
 * microseconds and how many requests stalled (had to compact). Before
 * them, unless warmup=0, one untimed back-huge of the last 2 MiB range;
 * with settle_ms=N it then waits N ms before the first timed request.
 * With noop=1 each request is one that does no work (populate of a page
 * the guest has), reported as hugelat_noop_*: this host's floor. */
#include "fragment.h"
#include "vmd.h"

VMD_GUEST_PURPOSE("latency of back-huge and plug-huge requests on a fragmented pool");

#define MAX_REQ 1024

/* all requests, and each kind alone */
static uint64_t lat[MAX_REQ], back[MAX_REQ], plug[MAX_REQ], noop[MAX_REQ];

/* Reports p50/p99/max of the n sorted latencies v as PREFIX_p50_us etc. */
static void report_latency(const char *prefix, uint64_t *v, uint64_t n)
{
	char key[64];

	if (!n)
		return;
	vmd_sort_u64(v, n);
	vmd_snprintf(key, sizeof(key), "%s_p50_us", prefix);
	vmd_report(key, v[n / 2]);
	vmd_snprintf(key, sizeof(key), "%s_p99_us", prefix);
	vmd_report(key, v[n * 99 / 100]);
	vmd_snprintf(key, sizeof(key), "%s_max_us", prefix);
	vmd_report(key, v[n - 1]);
}

int main(void)
{
	uint64_t khz = vmd_info.tsc_khz ? vmd_info.tsc_khz : 2000000;
	uint64_t n = vmd_arg_u64("requests", 96), gap = vmd_arg_u64("gap_ms", 50) * khz;
	uint64_t stalls = 0, failed = 0, next, range, h, ns, nback = 0, nplug = 0, nnoop = 0;
	int noop_only = vmd_arg_u64("noop", 0) != 0;
	struct fragment_state st;

	if (n > MAX_REQ)
		n = MAX_REQ;
	fragment_memory(&st, vmd_arg_u64("seed", 1), 4, 40);
	vmd_report("fragmented", 1);
	range = (st.start + VMD_HUGE_SIZE - 1) / VMD_HUGE_SIZE * VMD_HUGE_SIZE;
	/* warm-up: one untimed back-huge of the last range, as a guest that
	 * has asked before would have done (it wakes the huge reserve) */
	if (vmd_arg_u64("warmup", 1) && st.end / VMD_HUGE_SIZE * VMD_HUGE_SIZE - VMD_HUGE_SIZE >= range)
		vmd_back_huge(st.end / VMD_HUGE_SIZE * VMD_HUGE_SIZE - VMD_HUGE_SIZE, &h, &ns);
	/* settle: give background compaction time to reach its steady state */
	next = vmd_rdtsc() + vmd_arg_u64("settle_ms", 0) * khz;
	for (uint64_t i = 0; i < n; i++) {
		uint64_t t0, addr;
		int status;

		while (vmd_rdtsc() < next)
			;
		next += gap;
		t0 = vmd_rdtsc();
		ns = 0;
		if (noop_only) {
			status = vmd_populate(vmd_heap_end() - VMD_PAGE_SIZE, VMD_PAGE_SIZE);
		} else if (vmd_info.plug_bytes && i % 4 == 3) {
			status = vmd_plug_huge(9, &addr, &h, &ns);
		} else {
			if (range + VMD_HUGE_SIZE > st.end)
				range = (st.start + VMD_HUGE_SIZE - 1) / VMD_HUGE_SIZE * VMD_HUGE_SIZE;
			status = vmd_back_huge(range, &h, &ns);
			range += VMD_HUGE_SIZE;
		}
		lat[i] = (vmd_rdtsc() - t0) * 1000 / khz;
		if (noop_only)
			noop[nnoop++] = lat[i];
		else if (vmd_info.plug_bytes && i % 4 == 3)
			plug[nplug++] = lat[i];
		else
			back[nback++] = lat[i];
		stalls += ns != 0;
		failed += status != VMD_OK;
	}
	vmd_report("hugelat_requests", n);
	vmd_report("hugelat_failed", failed);
	vmd_report("hugelat_stalls", stalls);
	report_latency("hugelat", lat, n);
	report_latency("hugelat_back", back, nback);
	report_latency("hugelat_plug", plug, nplug);
	report_latency("hugelat_noop", noop, nnoop);
	return failed ? 1 : 0;
}
