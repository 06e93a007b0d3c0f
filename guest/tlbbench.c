/* tlbbench: random 8-byte reads over mb=SIZE (default 768 MiB) after the
 * image; reports cycles per access (x1000, also as score_x1000) - what
 * the host's page size behind guest memory costs. prep= says what comes
 * first (guest/include/workload.h: none, frag, frag-huge).
 * Arguments: mb, accesses (default 20M), prep, seed. */
#include "vmd.h"
#include "workload.h"

VMD_GUEST_PURPOSE("random 8-byte reads over mb=SIZE: cycles per access");

int main(void)
{
	uint64_t n = vmd_arg_u64("accesses", 20000000), sum = 0, t0, t1;
	uint64_t rng = (88172645463325252ULL ^ vmd_arg_u64("seed", 0) * 0x9E3779B97F4A7C15ULL) | 1;
	uint64_t bytes, start = workload_span(768, &bytes), words = bytes / 8;

	VMD_ASSERT(n > 0);
	t0 = vmd_rdtsc();
	/* the word by a multiply's high half, not a division: a 64-bit div
	 * per read would be a good part of what is measured */
	for (uint64_t i = 0; i < n; i++)
		sum += ((volatile uint64_t *)(uintptr_t)start)[(uint64_t)(((unsigned __int128)vmd_rand(&rng) * words) >> 64)];
	t1 = vmd_rdtsc();
	vmd_report("tlbbench_mib", bytes >> 20);
	vmd_report("tlbbench_cycles_per_access_x1000", (t1 - t0) * 1000 / n);
	workload_score("tlbbench", "cycles per read", (t1 - t0) * 1000 / n);
	vmd_printf("tlbbench: %lu MiB, %lu reads, %lu.%03lu cycles per read (checksum %lx)\n",
		   bytes >> 20, n, (t1 - t0) / n, (t1 - t0) * 1000 / n % 1000, sum);
	return 0;
}
