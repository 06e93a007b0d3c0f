/* gups: HPCC RandomAccess. A table of 2^k 64-bit words (the largest that
 * fits in mb=SIZE, default 512 MiB), word i = i; every vCPU xors its own
 * stream of pseudo-random values into the words they pick (the low bits
 * of each value name its word), updates=N in all (default 32M, split
 * among the vCPUs). The figure of merit is giga-updates per second,
 * reported x1000 as million updates per second (score_x1000 = MUPS x
 * 1000). Verified as HPCC does: the same streams applied again (xor
 * undoes xor) must give back word i = i everywhere; on one vCPU no word
 * may differ, on several at most 1% of the updates (two vCPUs updating
 * one word at once may lose one of the two xors, which HPCC allows).
 * Reports gups_words, gups_updates, gups_errors; exits 1 if verification
 * fails (corrupt=1 flips a bit of the table first, to show it does).
 * Arguments: mb, updates, prep, seed (guest/include/workload.h). */
#include "vmd.h"
#include "workload.h"

VMD_GUEST_PURPOSE("HPCC RandomAccess over mb=SIZE: giga-updates per second, verified");

#define POLY	0x7ULL		/* HPCC's generator: x^63 + x^2 + x + 1 */

struct gups {
	volatile uint64_t *table;
	uint64_t mask, per_cpu, seed;
	uint64_t cycles[VMD_GUEST_MAX_VCPUS];
};

static inline uint64_t next(uint64_t x)
{
	return (x << 1) ^ ((int64_t)x < 0 ? POLY : 0);
}

/* Each vCPU's stream starts from its own non-zero value. */
static uint64_t stream_start(const struct gups *g, unsigned int cpu)
{
	uint64_t s = g->seed * 0x9E3779B97F4A7C15ULL + (cpu + 1) * 0xD1B54A32D192ED03ULL;

	return s ? s : 1;
}

static void update(unsigned int cpu, void *arg)
{
	struct gups *g = arg;
	uint64_t x = stream_start(g, cpu), t0 = vmd_rdtsc();

	for (uint64_t i = 0; i < g->per_cpu; i++) {
		x = next(x);
		g->table[x & g->mask] ^= x;
	}
	g->cycles[cpu] = vmd_rdtsc() - t0;
}

int main(void)
{
	unsigned int cpus = (unsigned int)vmd_info.nr_cpus;
	struct gups g = { 0 };
	uint64_t bytes, start = workload_span(512, &bytes), words = 1, cycles = 0, errors = 0, updates;

	while (words * 2 * 8 <= bytes)
		words *= 2;
	g.table = (volatile uint64_t *)(uintptr_t)start;
	g.mask = words - 1;
	g.seed = vmd_arg_u64("seed", 1);
	g.per_cpu = vmd_arg_u64("updates", 32 << 20) / cpus;
	updates = g.per_cpu * cpus;
	VMD_ASSERT(updates > 0);
	for (uint64_t i = 0; i < words; i++)
		g.table[i] = i;
	workload_on_all(update, &g);
	for (unsigned int c = 0; c < cpus; c++)
		if (g.cycles[c] > cycles)
			cycles = g.cycles[c];
	if (vmd_arg_u64("corrupt", 0))		/* a test of the check: one word off */
		g.table[words / 2] ^= 1;
	/* verification: every stream again, on this vCPU alone */
	for (unsigned int c = 0; c < cpus; c++) {
		uint64_t x = stream_start(&g, c);

		for (uint64_t i = 0; i < g.per_cpu; i++) {
			x = next(x);
			g.table[x & g.mask] ^= x;
		}
	}
	for (uint64_t i = 0; i < words; i++)
		errors += g.table[i] != i;
	vmd_report("gups_words", words);
	vmd_report("gups_updates", updates);
	vmd_report("gups_errors", errors);
	if (cpus == 1 ? errors != 0 : errors * 100 > updates) {
		vmd_printf("gups: verification failed: %lu words wrong after %lu updates on %u vCPUs\n",
			   errors, updates, cpus);
		return 1;
	}
	workload_score("gups", "million updates per second",
		       updates * 1000 / (workload_us(cycles) ? workload_us(cycles) : 1));
	return 0;
}
