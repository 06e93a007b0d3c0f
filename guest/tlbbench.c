/* tlbbench: random 8-byte reads over mb=SIZE (default 768 MiB) after the
 * image; reports cycles per access (x1000) - what the host's page size
 * behind guest memory costs. prep= says what comes first:
 *   none (default): nothing;
 *   frag: fragment all memory like `fragment`, then populate the whole span
 *     again (its frames now scattered in the pool) and discard what lies
 *     beyond it;
 *   frag-huge: frag, then back-huge every 2 MiB of the span.
 * Arguments: mb, accesses (default 20M), prep, seed. */
#include "fragment.h"
#include "vmd.h"

VMD_GUEST_PURPOSE("random 8-byte reads over mb=SIZE: cycles per access");


/* Returns where the span starts. */
static uint64_t prepare(const char *prep, uint64_t *bytes)
{
	struct fragment_state st;
	uint64_t huge = 0, stalls = 0, hmax = 0, start;

	if (!prep || !strncmp(prep, "none", 4)) {
		start = vmd_heap_end();
		if (start + *bytes > vmd_info.mem_bytes)
			*bytes = (vmd_info.mem_bytes - start) & ~(VMD_HUGE_SIZE - 1);
		return start;
	}
	fragment_memory(&st, vmd_arg_u64("seed", 1), 4, 40);
	start = st.start;
	if (start + *bytes > st.end)
		*bytes = (st.end - start) & ~(VMD_HUGE_SIZE - 1);
	VMD_ASSERT(vmd_populate(start, *bytes) == VMD_OK);
	if (st.end > start + *bytes)
		VMD_ASSERT(vmd_discard(start + *bytes, st.end - start - *bytes) == VMD_OK);
	if (strncmp(prep, "frag-huge", 9))
		return start;
	for (uint64_t a = start; a < start + *bytes; a += VMD_HUGE_SIZE) {
		uint64_t h = 0, ns = 0;
		int status = vmd_back_huge(a, &h, &ns);

		if (status != VMD_OK)
			vmd_printf("tlbbench: back-huge 0x%lx: status %d\n", a, status);
		huge += h;
		stalls += ns != 0;
		if (ns > hmax)
			hmax = ns;
	}
	vmd_report("tlbbench_back_huge_ranges", *bytes / VMD_HUGE_SIZE);
	vmd_report("tlbbench_back_huge_host_huge", huge);
	vmd_report("tlbbench_back_huge_stalls", stalls);
	vmd_report("tlbbench_back_huge_stall_max_us", hmax / 1000);
	return start;
}

int main(void)
{
	uint64_t bytes = vmd_arg_u64("mb", 768) << 20, start;
	uint64_t n = vmd_arg_u64("accesses", 20000000), rng = 88172645463325252ULL, sum = 0, t0, t1;
	uint64_t words;

	start = prepare(vmd_arg("prep"), &bytes);
	words = bytes / 8;
	/* make every page present first */
	for (uint64_t a = start; a < start + bytes; a += VMD_PAGE_SIZE)
		*(volatile uint64_t *)(uintptr_t)a = a;
	t0 = vmd_rdtsc();
	for (uint64_t i = 0; i < n; i++)
		sum += ((volatile uint64_t *)(uintptr_t)start)[vmd_rand(&rng) % words];
	t1 = vmd_rdtsc();
	vmd_report("tlbbench_mib", bytes >> 20);
	vmd_report("tlbbench_cycles_per_access_x1000", (t1 - t0) * 1000 / n);
	vmd_printf("tlbbench: %lu MiB, %lu reads, %lu.%03lu cycles per read (checksum %lx)\n",
		   bytes >> 20, n, (t1 - t0) / n, (t1 - t0) * 1000 / n % 1000, sum);
	return 0;
}
