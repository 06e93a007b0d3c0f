/* popbench: every vCPU gives back runs of pages of its own part of memory
 * and takes them again (DISCARD, then POPULATE, then a write to each page,
 * which must read zero first), as fast as it can for seconds=N (default
 * 3), run=P pages at a time (default 16); touch=0 leaves the pages
 * untouched (the requests alone, without the guest's page faults). What
 * the host's allocator costs
 * a guest that churns memory on several vCPUs at once:
 *   popbench_cpus, popbench_pages (populated, all vCPUs),
 *   popbench_pages_per_sec, popbench_nonzero (pages that did not read
 *   zero after populate: must be 0) */
#include "vmd.h"

VMD_GUEST_PURPOSE("populated pages per second while every vCPU discards and repopulates");

struct part {
	uint64_t base, runs, seed;
	uint64_t pages, nonzero, cycles;
};

static struct part parts[VMD_GUEST_MAX_VCPUS];
static uint64_t run_pages, limit_cycles, touch;
static volatile unsigned int started, finished;

static void churn(unsigned int cpu)
{
	struct part *p = &parts[cpu];
	uint64_t t0 = vmd_rdtsc(), bytes = run_pages * VMD_PAGE_SIZE;

	while (vmd_rdtsc() - t0 < limit_cycles) {
		uint64_t a = p->base + vmd_rand(&p->seed) % p->runs * bytes;

		VMD_ASSERT(vmd_discard(a, bytes) == VMD_OK);
		VMD_ASSERT(vmd_populate(a, bytes) == VMD_OK);
		for (uint64_t off = 0; touch && off < bytes; off += VMD_PAGE_SIZE) {
			volatile uint64_t *w = (volatile uint64_t *)(uintptr_t)(a + off);

			p->nonzero += *w != 0;
			*w = a + off;
		}
		p->pages += run_pages;
	}
	p->cycles = vmd_rdtsc() - t0;
	__atomic_fetch_add(&finished, 1, __ATOMIC_SEQ_CST);
}

void vmd_secondary(unsigned int cpu)
{
	while (!started)
		__asm__ volatile("pause");
	churn(cpu);
}

int main(void)
{
	unsigned int n = (unsigned int)vmd_info.nr_cpus;
	uint64_t khz = vmd_info.tsc_khz ? vmd_info.tsc_khz : 2000000;
	uint64_t heap = vmd_heap_end(), part_bytes, pages = 0, nonzero = 0, cycles = 0;

	VMD_ASSERT(n >= 1 && n <= VMD_GUEST_MAX_VCPUS);
	run_pages = vmd_arg_u64("run", 16);
	touch = vmd_arg_u64("touch", 1);
	limit_cycles = vmd_arg_u64("seconds", 3) * khz * 1000;
	VMD_ASSERT(run_pages >= 1);
	part_bytes = (vmd_info.mem_bytes - heap) / n / (run_pages * VMD_PAGE_SIZE) * (run_pages * VMD_PAGE_SIZE);
	VMD_ASSERT(part_bytes >= run_pages * VMD_PAGE_SIZE);
	for (unsigned int i = 0; i < n; i++) {
		parts[i].base = heap + i * part_bytes;
		parts[i].runs = part_bytes / (run_pages * VMD_PAGE_SIZE);
		parts[i].seed = vmd_arg_u64("seed", 1) * 0x9E3779B97F4A7C15ULL + i + 1;
	}
	started = 1;
	churn(0);
	while (finished < n)
		__asm__ volatile("pause");
	for (unsigned int i = 0; i < n; i++) {
		pages += parts[i].pages;
		nonzero += parts[i].nonzero;
		if (parts[i].cycles > cycles)
			cycles = parts[i].cycles;
	}
	vmd_report("popbench_cpus", n);
	vmd_report("popbench_pages", pages);
	vmd_report("popbench_pages_per_sec", cycles ? pages * khz * 1000 / cycles : 0);
	vmd_report("popbench_nonzero", nonzero);
	return nonzero ? 1 : 0;
}
