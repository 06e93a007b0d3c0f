/* The memory workloads' common part (guest/include/workload.h). */
#include "fragment.h"
#include "vmd.h"
#include "workload.h"

/* Is the argument value v (ended by a space or the end) the word w? */
static int value_is(const char *v, const char *w)
{
	size_t n = strlen(w);

	return !strncmp(v, w, n) && (v[n] == '\0' || v[n] == ' ');
}

static uint64_t prepare(const char *prep, uint64_t *bytes)
{
	struct fragment_state st;
	uint64_t huge = 0, stalls = 0, hmax = 0, stall_ns = 0, start, t0;

	if (prep && !value_is(prep, "none") && !value_is(prep, "frag") && !value_is(prep, "frag-huge")) {
		vmd_printf("workload: prep= must be none, frag or frag-huge\n");
		vmd_exit(2);
	}
	if (!prep || value_is(prep, "none")) {
		start = (vmd_heap_end() + VMD_HUGE_SIZE - 1) & ~(VMD_HUGE_SIZE - 1);
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
	if (!value_is(prep, "frag-huge"))
		return start;
	t0 = vmd_rdtsc();
	for (uint64_t a = start; a < start + *bytes; a += VMD_HUGE_SIZE) {
		uint64_t h = 0, ns = 0;
		int status = vmd_back_huge(a, &h, &ns);

		if (status != VMD_OK)
			vmd_printf("workload: back-huge 0x%lx: status %d\n", a, status);
		huge += h;
		stalls += ns != 0;
		stall_ns += ns;
		if (ns > hmax)
			hmax = ns;
	}
	vmd_report("prep_back_huge_ranges", *bytes / VMD_HUGE_SIZE);
	vmd_report("prep_back_huge_host_huge", huge);
	vmd_report("prep_back_huge_stalls", stalls);
	vmd_report("prep_back_huge_stall_max_us", hmax / 1000);
	/* the whole loop, and the part of it spent compacting for blocks */
	vmd_report("prep_back_huge_us", workload_us(vmd_rdtsc() - t0));
	vmd_report("prep_back_huge_stall_us", stall_ns / 1000);
	return start;
}

uint64_t workload_span(uint64_t def_mb, uint64_t *bytes)
{
	uint64_t start;

	*bytes = (vmd_arg_mib("mb", def_mb) << 20) & ~(VMD_HUGE_SIZE - 1);
	start = prepare(vmd_arg("prep"), bytes);
	VMD_ASSERT(*bytes >= VMD_HUGE_SIZE);
	/* every page present before anything is timed */
	for (uint64_t a = start; a < start + *bytes; a += VMD_PAGE_SIZE)
		*(volatile uint64_t *)(uintptr_t)a = 0;
	return start;
}

/* vCPUs other than 0 wait here for the next job, run it, and say so. */
static void (*volatile job)(unsigned int cpu, void *arg);
static void *volatile job_arg;
static unsigned int job_gen, job_done;

void vmd_secondary(unsigned int cpu)
{
	unsigned int seen = 0;

	for (;;) {
		while (__atomic_load_n(&job_gen, __ATOMIC_ACQUIRE) == seen)
			__asm__ volatile("pause");
		seen = __atomic_load_n(&job_gen, __ATOMIC_ACQUIRE);
		job(cpu, job_arg);
		__atomic_fetch_add(&job_done, 1, __ATOMIC_RELEASE);
	}
}

void workload_on_all(void (*fn)(unsigned int cpu, void *arg), void *arg)
{
	unsigned int others = (unsigned int)vmd_info.nr_cpus - 1;

	job = fn;
	job_arg = arg;
	__atomic_store_n(&job_done, 0, __ATOMIC_RELAXED);
	__atomic_fetch_add(&job_gen, 1, __ATOMIC_RELEASE);
	fn(0, arg);
	while (__atomic_load_n(&job_done, __ATOMIC_ACQUIRE) < others)
		__asm__ volatile("pause");
}

uint64_t workload_us(uint64_t cycles)
{
	uint64_t khz = vmd_info.tsc_khz ? vmd_info.tsc_khz : 2000000;

	return cycles * 1000 / khz;
}

void workload_score(const char *name, const char *unit, uint64_t score_x1000)
{
	vmd_report("score_x1000", score_x1000);
	vmd_printf("%s: %lu.%03lu %s\n", name, score_x1000 / 1000, score_x1000 % 1000, unit);
}
