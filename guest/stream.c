/* stream: STREAM's triad, a[i] = b[i] + q * c[i], over three arrays of
 * doubles that share mb=SIZE (default 768 MiB), passes=N times (default
 * 10, q = 1, 2, ... N). Meant as the control among the workloads: it
 * streams through memory in order, bound by bandwidth (on a nested host
 * its TLB misses still cost: see the README). The figure of merit is
 * megabytes per second, 24 bytes an element as STREAM counts them
 * (score_x1000 = MB/s x 1000). Verified: every a[i] must be b[i] + N *
 * c[i] at the end (exact in doubles for these values); exits 1 if not
 * (corrupt=1 changes one first, to show it does). Reports
 * stream_elements, stream_errors. Arguments: mb, passes, prep, seed. */
#include "vmd.h"
#include "workload.h"

VMD_GUEST_PURPOSE("STREAM triad over mb=SIZE: megabytes per second, the bandwidth-bound control");

int main(void)
{
	uint64_t bytes, start = workload_span(768, &bytes), passes = vmd_arg_u64("passes", 10);
	/* the arrays a page and a cache line apart beyond their length, as
	 * STREAM's OFFSET does: else, with mb a multiple of 3 MiB, their
	 * elements i would share every address bit below 2 MiB behind huge
	 * pages (the same cache sets and banks), and not behind 4 KiB ones */
	uint64_t pad = (4096 + 64) / sizeof(double), n = (bytes / sizeof(double) - 2 * pad) / 3 / 8 * 8;
	uint64_t errors = 0, t0, us;
	double *a = (double *)(uintptr_t)start, *b = a + n + pad, *c = b + n + pad;

	VMD_ASSERT(passes >= 1 && n >= 8);
	for (uint64_t i = 0; i < n; i++) {
		a[i] = 0.0;
		b[i] = (double)(i % 1000);
		c[i] = 0.5;
	}
	t0 = vmd_rdtsc();
	for (uint64_t p = 1; p <= passes; p++) {
		double q = (double)p;

		for (uint64_t i = 0; i < n; i++)
			a[i] = b[i] + q * c[i];
		/* keeps the passes from being merged into one */
		__asm__ volatile("" : : "r"(a) : "memory");
	}
	us = workload_us(vmd_rdtsc() - t0);
	if (vmd_arg_u64("corrupt", 0))		/* a test of the check */
		a[n / 2] += 1.0;
	for (uint64_t i = 0; i < n; i++)
		errors += a[i] != (double)(i % 1000) + (double)passes * 0.5;
	vmd_report("stream_elements", n);
	vmd_report("stream_errors", errors);
	if (errors) {
		vmd_printf("stream: verification failed: %lu of %lu elements wrong\n", errors, n);
		return 1;
	}
	/* bytes per microsecond is MB/s */
	workload_score("stream", "MB/s (triad)", 24 * n * passes * 1000 / (us ? us : 1));
	return 0;
}
