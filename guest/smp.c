/* smp: proves the vCPUs run at the same time - each one counts, and
 * vCPU 0 watches every other counter move while it is itself running.
 * With count=1 it only counts the vCPUs that reach vmd_secondary() and
 * reports them with vmd_info.nr_cpus (the library runs at most
 * VMD_GUEST_MAX_VCPUS). */
#include "vmd.h"

VMD_GUEST_PURPOSE("proves the vCPUs run at the same time");

static volatile uint64_t counters[VMD_GUEST_MAX_VCPUS];
static volatile int stop, counting;
static volatile uint32_t arrived;

void vmd_secondary(unsigned int cpu)
{
	/* main() sets counting before it waits: vCPU 0 reads its args first */
	while (!counting && !stop)
		counters[cpu]++;
	if (counting)
		__atomic_fetch_add(&arrived, 1, __ATOMIC_SEQ_CST);
	while (!stop)
		counters[cpu]++;
}

/* How many other vCPUs reach vmd_secondary() within ~5 s. */
static int count_secondaries(uint64_t cpus)
{
	uint64_t t0 = vmd_rdtsc(), limit = (vmd_info.tsc_khz ? vmd_info.tsc_khz : 2000000) * 5000;

	counting = 1;
	while (arrived < cpus - 1 && vmd_rdtsc() - t0 < limit)
		;
	stop = 1;
	vmd_report("nr_cpus", cpus);
	vmd_report("secondaries", arrived);
	return arrived == cpus - 1 ? 0 : 1;
}

int main(void)
{
	uint64_t cpus = vmd_info.nr_cpus, limit, t0;
	unsigned int seen = 0;

	if (vmd_arg_u64("count", 0))
		return count_secondaries(cpus);
	VMD_ASSERT(cpus >= 2 && cpus <= VMD_GUEST_MAX_VCPUS);
	limit = (vmd_info.tsc_khz ? vmd_info.tsc_khz : 2000000) * 10000;	/* ~10 s */
	for (unsigned int c = 1; c < cpus; c++) {
		uint64_t last = counters[c], changes = 0;

		t0 = vmd_rdtsc();
		/* while vCPU 0 runs this loop, vCPU c's counter must keep moving */
		while (changes < 1000 && vmd_rdtsc() - t0 < limit) {
			uint64_t now = counters[c];

			if (now != last) {
				changes++;
				last = now;
			}
		}
		if (changes >= 1000)
			seen++;
		vmd_printf("smp: vCPU %u counted to %lu while vCPU 0 watched\n", c, last);
	}
	stop = 1;
	vmd_printf("smp: %u of %lu other vCPUs ran alongside vCPU 0\n", seen, cpus - 1);
	return seen == cpus - 1 ? 0 : 1;
}
