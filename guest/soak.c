/* soak: every vCPU writes versioned pages at random in its own part of
 * memory, verifying each page before it rewrites it, and keeps discarding
 * runs of pages and populating them again (each must read zeros), for as
 * long as the host lets it run: tools/soak-bench compacts underneath and
 * ends the run. After every round (rounds=... page writes per vCPU, the
 * last vCPU to finish reports) it reports the totals so far:
 *   soak_round, soak_writes_verified, soak_mismatches,
 *   soak_nonzero_after_populate, soak_churns
 * A round also verifies every page the vCPU holds, so the report after
 * the host's last move covers all data. About half of memory is given
 * back at any time. */
#include <stdbool.h>

#include "memtest.h"
#include "vmd.h"

VMD_GUEST_PURPOSE("writes versioned pages, discards and repopulates, verifying each");

#define MAX_CPUS	VMD_GUEST_MAX_VCPUS

struct part {
	uint64_t base, pages, seed;
	uint32_t *version;		/* 0: discarded; 1: zeros since populate */
	uint64_t verified, mismatches, nonzero, runs;
};

static struct part parts[MAX_CPUS];
static uint64_t round_writes;
static volatile uint64_t rounds_done[MAX_CPUS];
static volatile unsigned int started;

static uint64_t addr_of(const struct part *p, uint64_t page)
{
	return p->base + page * VMD_PAGE_SIZE;
}

static void check(struct part *p, uint64_t page)
{
	uint64_t a = addr_of(p, page);
	const volatile uint64_t *w = (const volatile uint64_t *)(uintptr_t)a;

	if (!p->version[page])
		return;
	if (p->version[page] == 1) {
		for (unsigned int i = 0; i < VMD_PAGE_SIZE / 8; i++) {
			if (w[i]) {
				if (p->nonzero++ < 5)
					vmd_printf("soak: page 0x%lx word %u is 0x%lx after populate\n", a, i,
						   w[i]);
				break;
			}
		}
	} else if (memtest_verify(a, a + VMD_PAGE_SIZE, 0, p->version[page])) {
		p->mismatches++;
	}
	p->verified++;
}

static void rewrite(struct part *p, uint64_t page)
{
	uint64_t a = addr_of(p, page);

	check(p, page);
	p->version[page] = p->version[page] % 0x7fffffff + 2;
	memtest_write(a, a + VMD_PAGE_SIZE, 0, p->version[page]);
}

/* A run given back, or one given back before taken again (what its first
 * page is decides): about half the memory is free at any time, and new
 * frames come from wherever the allocator has them, which is what
 * fragments the pool. */
static void churn(struct part *p)
{
	uint64_t first = vmd_rand(&p->seed) % p->pages, n = 1 + vmd_rand(&p->seed) % 256;
	bool give = p->version[first] != 0;

	if (first + n > p->pages)
		n = p->pages - first;
	for (uint64_t i = first; i < first + n; i++)
		check(p, i);
	if (give) {
		VMD_ASSERT(vmd_discard(addr_of(p, first), n * VMD_PAGE_SIZE) == VMD_OK);
		for (uint64_t i = first; i < first + n; i++)
			p->version[i] = 0;
	} else {
		if (vmd_populate(addr_of(p, first), n * VMD_PAGE_SIZE) != VMD_OK)
			return;	/* short of memory for now */
		/* populated ones stay as they were; the others are new */
		for (uint64_t i = first; i < first + n; i++)
			if (!p->version[i])
				p->version[i] = 1;
	}
	p->runs++;
}

static void report(unsigned int n, uint64_t round)
{
	uint64_t verified = 0, mismatches = 0, nonzero = 0, runs = 0;

	for (unsigned int i = 0; i < n; i++) {
		verified += parts[i].verified;
		mismatches += parts[i].mismatches;
		nonzero += parts[i].nonzero;
		runs += parts[i].runs;
	}
	vmd_report("soak_writes_verified", verified);
	vmd_report("soak_mismatches", mismatches);
	vmd_report("soak_nonzero_after_populate", nonzero);
	vmd_report("soak_churns", runs);
	vmd_report("soak_round", round);
}

static void run(unsigned int cpu)
{
	struct part *p = &parts[cpu];
	unsigned int n = (unsigned int)vmd_info.nr_cpus;

	for (uint64_t page = 0; page < p->pages; page++)
		rewrite(p, page);
	for (uint64_t round = 1;; round++) {
		for (uint64_t i = 0; i < round_writes; i++) {
			uint64_t page = vmd_rand(&p->seed) % p->pages;

			if (p->version[page])
				rewrite(p, page);
			if (vmd_rand(&p->seed) % 8 == 0)
				churn(p);
		}
		for (uint64_t page = 0; page < p->pages; page++)
			check(p, page);
		rounds_done[cpu] = round;
		/* vCPU 0 reports once every vCPU has finished the round */
		if (cpu == 0) {
			for (unsigned int i = 1; i < n; i++)
				while (rounds_done[i] < round)
					__asm__ volatile("pause");
			report(n, round);
		}
	}
}

void vmd_secondary(unsigned int cpu)
{
	while (!started)
		__asm__ volatile("pause");
	run(cpu);
}

int main(void)
{
	unsigned int n = (unsigned int)vmd_info.nr_cpus;
	uint64_t heap = vmd_heap_end(), bytes, pages;

	VMD_ASSERT(n <= MAX_CPUS);
	round_writes = vmd_arg_u64("rounds", 100000);
	/* bookkeeping first (4 bytes a page), then the parts */
	pages = (vmd_info.mem_bytes - heap) / VMD_PAGE_SIZE;
	for (unsigned int i = 0; i < n; i++)
		parts[i].version = vmd_alloc(pages / n * sizeof(uint32_t));
	heap = vmd_heap_end();
	bytes = (vmd_info.mem_bytes - heap) / n / VMD_PAGE_SIZE * VMD_PAGE_SIZE;
	for (unsigned int i = 0; i < n; i++) {
		parts[i].base = heap + i * bytes;
		parts[i].pages = bytes / VMD_PAGE_SIZE;
		parts[i].seed = vmd_arg_u64("seed", 1) * 0x9E3779B97F4A7C15ULL + i + 1;
	}
	started = 1;
	run(0);
	return 0;
}
