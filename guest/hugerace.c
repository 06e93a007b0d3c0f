/* hugerace: two vCPUs race the requests that change what backs one range.
 *   vCPU 0 asks for back-huge of a 2 MiB range R again and again, and
 *     plugs huge regions into the plug area one slot after another;
 *   vCPU 1 meanwhile discards and populates runs in R's first half (each
 *     run must read zero after its populate, then gets a new version of a
 *     pattern), and keeps asking to populate, pin and discard the plug
 *     slot that is about to be plugged (refused until it is plugged).
 * R's second half is written once and must survive every move; after
 * each plug vCPU 0 writes a line into the new region and has the VMM
 * print it from there, so a p2m that disagrees with the guest's view
 * shows. Exits 0 when all data and statuses were as expected.
 *   iters=N (default 3000) back-huge requests. */
#include "memtest.h"
#include "vmd.h"

VMD_GUEST_PURPOSE("two vCPUs race the requests that change what backs one range");

#define HALF_PAGES	256

static uint64_t range, plug_next, iters;
static volatile int started, finished, vcpu1_done;
static volatile unsigned int vcpu1_failures, vcpu1_ops, plug_refused, plug_taken;
static uint32_t version[HALF_PAGES];

static int zero_page(uint64_t a)
{
	const volatile uint64_t *w = (const volatile uint64_t *)(uintptr_t)a;

	for (unsigned int i = 0; i < VMD_PAGE_SIZE / 8; i++)
		if (w[i])
			return 0;
	return 1;
}

/* vCPU 1: churn in R's first half, and poke at the next plug slot. */
void vmd_secondary(unsigned int cpu)
{
	uint64_t seed = 0x5eed + cpu;

	if (cpu != 1)
		return;
	while (!started)
		__asm__ volatile("pause");
	while (!finished) {
		uint64_t r = vmd_rand(&seed), first = r % HALF_PAGES, len = 1 + (r >> 16) % 16, a;
		uint64_t slot = __atomic_load_n(&plug_next, __ATOMIC_ACQUIRE);
		int st;

		/* half the runs start at R's first page, the one a request on
		 * R as a whole looks at first */
		if (r & (1ULL << 40))
			first = 0;
		if (first + len > HALF_PAGES)
			len = HALF_PAGES - first;
		a = range + first * VMD_PAGE_SIZE;
		if (vmd_discard(a, len * VMD_PAGE_SIZE) || vmd_populate(a, len * VMD_PAGE_SIZE)) {
			vcpu1_failures++;
			continue;
		}
		for (uint64_t p = first; p < first + len; p++) {
			uint64_t pa = range + p * VMD_PAGE_SIZE;

			if (!zero_page(pa)) {
				vmd_printf("hugerace: page 0x%lx not zero after populate\n", pa);
				vcpu1_failures++;
			}
			memtest_write(pa, pa + VMD_PAGE_SIZE, 0, ++version[p]);
		}
		for (uint64_t p = 0; p < HALF_PAGES; p++) {
			uint64_t pa = range + p * VMD_PAGE_SIZE;

			if (memtest_verify(pa, pa + VMD_PAGE_SIZE, 0, version[p]))
				vcpu1_failures++;
		}
		/* the slot vCPU 0 plugs next is not guest memory until then */
		if (slot) {
			st = vmd_populate(slot, VMD_PAGE_SIZE);
			if (st == VMD_E_RANGE)
				plug_refused++;
			else if (st == VMD_OK)
				plug_taken++;
			else
				vcpu1_failures++;
			st = vmd_pin(slot, VMD_PAGE_SIZE);
			if (st == VMD_OK)
				vmd_unpin(slot, VMD_PAGE_SIZE);
			st = vmd_discard(slot + VMD_PAGE_SIZE, VMD_PAGE_SIZE);
			if (st != VMD_OK && st != VMD_E_RANGE)
				vcpu1_failures++;
		}
		vcpu1_ops++;
	}
	vcpu1_done = 1;
}

/* Writes a line into the region at addr and asks the VMM to print it
 * from there: the VMM reads through its p2m what the guest wrote through
 * its own view. */
static void print_from(uint64_t addr, unsigned int n)
{
	char *line = (char *)(uintptr_t)addr;
	int len = vmd_snprintf(line, 64, "hugerace: plug %u reads back\n", n);

	vmd_request(VMD_OP_CONSOLE, addr, (uint64_t)len, 0, NULL);
}

int main(void)
{
	uint64_t heap = vmd_heap_end(), mem = vmd_info.mem_bytes, bad = 0, huge, stall, addr;
	unsigned int failures = 0, plugs = 0, backed = 0;
	unsigned int slots = (unsigned int)(vmd_info.plug_bytes / VMD_HUGE_SIZE);
	int st;

	iters = vmd_arg_u64("iters", 3000);
	VMD_ASSERT(vmd_info.nr_cpus >= 2 && heap + 4 * VMD_HUGE_SIZE <= mem);
	range = heap;
	/* free memory for the blocks back-huge and plug-huge take */
	VMD_ASSERT(vmd_discard(heap + 2 * VMD_HUGE_SIZE, mem - heap - 2 * VMD_HUGE_SIZE) == VMD_OK);
	for (uint64_t p = 0; p < HALF_PAGES; p++)
		memtest_write(range + p * VMD_PAGE_SIZE, range + (p + 1) * VMD_PAGE_SIZE, 0, 0);
	memtest_write(range + VMD_HUGE_SIZE / 2, range + VMD_HUGE_SIZE, 0, 7);
	if (slots)
		plug_next = mem;
	started = 1;
	for (uint64_t i = 0; i < iters; i++) {
		st = vmd_back_huge(range, &huge, &stall);
		if (st == VMD_OK) {
			backed++;
		} else if (st != VMD_E_NOMEM && st != VMD_E_FRAGMENTED) {
			vmd_printf("hugerace: back-huge gave %d\n", st);
			failures++;
		}
		bad += memtest_verify(range + VMD_HUGE_SIZE / 2, range + VMD_HUGE_SIZE, 0, 7);
		/* a plug every so often, while vCPU 1 pokes at its slot */
		if (plugs < slots && i % (iters / (slots + 1) + 1) == iters / (slots + 1)) {
			st = vmd_plug_huge(9, &addr, &huge, &stall);
			if (st != VMD_OK || addr != mem + plugs * VMD_HUGE_SIZE) {
				vmd_printf("hugerace: plug-huge gave %d at 0x%lx\n", st, addr);
				failures++;
				continue;
			}
			plugs++;
			__atomic_store_n(&plug_next, plugs < slots ? mem + plugs * VMD_HUGE_SIZE : 0, __ATOMIC_RELEASE);
			print_from(addr, plugs);
		}
	}
	finished = 1;
	while (!vcpu1_done)
		__asm__ volatile("pause");
	/* what vCPU 1 left, checked by vCPU 0 after its last move */
	for (uint64_t p = 0; p < HALF_PAGES; p++)
		bad += memtest_verify(range + p * VMD_PAGE_SIZE, range + (p + 1) * VMD_PAGE_SIZE, 0, version[p]);
	vmd_report("hugerace_back_huge_ok", backed);
	vmd_report("hugerace_plugs", plugs);
	vmd_report("hugerace_vcpu1_ops", vcpu1_ops);
	vmd_report("hugerace_plug_slot_refused", plug_refused);
	vmd_report("hugerace_plug_slot_taken", plug_taken);
	vmd_report("hugerace_bad_pages", bad);
	vmd_report("hugerace_failures", failures + vcpu1_failures);
	return failures || vcpu1_failures || bad ? 1 : 0;
}
