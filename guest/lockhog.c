/* lockhog: the requests that give the VMM the most work, to measure how
 * long any of them can keep the VMM's zone lock (tools/lockhold-bench).
 * One phase per run (phase=NAME), over all memory after the image:
 *   overlap  MEM_BATCH of 4096 ranges, each all of memory (refused)
 *   batch    MEM_BATCH of 4096 ranges covering memory: discard, populate,
 *            pin, unpin, discard
 *   whole    one range of all memory: discard, populate, pin, unpin
 *   scatter  every other page discarded (batches of 4096 pages), then all
 *            populated (each new frame its own mapping), then discarded
 *   huge     half the memory discarded page by page, then back-huge of
 *            every 2 MiB range of the other half, then plug-huge until the
 *            plug area is full
 * Reports each request kind's time in the guest (us). */
#include "vmd.h"

VMD_GUEST_PURPOSE("the requests that keep the VMM busiest (tools/lockhold-bench)");


static struct vmd_range ranges[VMD_BATCH_MAX];
static uint64_t start, end;

static uint64_t us_since(uint64_t t0)
{
	return (vmd_rdtsc() - t0) / (vmd_info.tsc_khz ? vmd_info.tsc_khz / 1000 : 2000);
}

static void timed(const char *key, int status, uint64_t t0)
{
	vmd_report(key, us_since(t0));
	if (status)
		vmd_printf("lockhog: %s gave %d\n", key, status);
}

/* The memory in n nearly equal disjoint ranges (4 KiB multiples). */
static uint64_t split(uint64_t n)
{
	uint64_t pages = (end - start) / VMD_PAGE_SIZE, at = start;

	if (n > pages)
		n = pages;
	for (uint64_t i = 0; i < n; i++) {
		uint64_t len = pages / n + (i < pages % n);

		ranges[i] = (struct vmd_range){ at, len * VMD_PAGE_SIZE };
		at += len * VMD_PAGE_SIZE;
	}
	return n;
}

/* Every other page of [from, to), discarded in batches of single pages. */
static void discard_every_other(uint64_t from, uint64_t to)
{
	uint64_t n = 0;

	for (uint64_t a = from; a < to; a += 2 * VMD_PAGE_SIZE) {
		ranges[n++] = (struct vmd_range){ a, VMD_PAGE_SIZE };
		if (n == VMD_BATCH_MAX || a + 2 * VMD_PAGE_SIZE >= to) {
			VMD_ASSERT(vmd_mem_batch(VMD_OP_DISCARD, ranges, n, NULL) == VMD_OK);
			n = 0;
		}
	}
}

static void phase_overlap(void)
{
	uint64_t t0 = vmd_rdtsc(), bad;
	int st = VMD_OK;

	for (unsigned int i = 0; i < VMD_BATCH_MAX; i++)
		ranges[i] = (struct vmd_range){ start, end - start };
	for (int k = 0; k < 10; k++)
		st = vmd_mem_batch(VMD_OP_PIN, ranges, VMD_BATCH_MAX, &bad);
	timed("lockhog_overlap_us", st == VMD_E_INVAL ? 0 : st, t0);
}

static void phase_batch(void)
{
	static const uint32_t ops[] = { VMD_OP_DISCARD, VMD_OP_POPULATE, VMD_OP_PIN, VMD_OP_UNPIN,
					VMD_OP_DISCARD };
	static const char *const keys[] = { "lockhog_batch_discard_us", "lockhog_batch_populate_us",
					    "lockhog_batch_pin_us", "lockhog_batch_unpin_us",
					    "lockhog_batch_discard_again_us" };
	uint64_t n = split(VMD_BATCH_MAX);

	for (unsigned int i = 0; i < 5; i++) {
		uint64_t t0 = vmd_rdtsc();

		timed(keys[i], vmd_mem_batch(ops[i], ranges, n, NULL), t0);
	}
}

static void phase_whole(void)
{
	static const uint32_t ops[] = { VMD_OP_DISCARD, VMD_OP_POPULATE, VMD_OP_PIN, VMD_OP_UNPIN };
	static const char *const keys[] = { "lockhog_whole_discard_us", "lockhog_whole_populate_us",
					    "lockhog_whole_pin_us", "lockhog_whole_unpin_us" };

	for (unsigned int i = 0; i < 4; i++) {
		uint64_t t0 = vmd_rdtsc();

		timed(keys[i], vmd_request(ops[i], start, end - start, 0, NULL), t0);
	}
}

static void phase_scatter(void)
{
	uint64_t t0 = vmd_rdtsc();

	discard_every_other(start, end);
	timed("lockhog_scatter_discards_us", 0, t0);
	/* the discarded half first: its frames come back one by one from
	 * wherever the allocator has them, each its own mapping */
	t0 = vmd_rdtsc();
	timed("lockhog_scatter_populate_us", vmd_populate(start, end - start), t0);
	t0 = vmd_rdtsc();
	timed("lockhog_scatter_discard_us", vmd_discard(start, end - start), t0);
}

static void phase_huge(void)
{
	uint64_t mid = start + (end - start) / 2 / VMD_HUGE_SIZE * VMD_HUGE_SIZE, t0 = vmd_rdtsc(), ok = 0, addr;

	discard_every_other(start, mid);
	timed("lockhog_huge_fragment_us", 0, t0);
	t0 = vmd_rdtsc();
	for (uint64_t a = mid; a + VMD_HUGE_SIZE <= end; a += VMD_HUGE_SIZE)
		ok += vmd_back_huge(a, NULL, NULL) == VMD_OK;
	timed("lockhog_back_huge_all_us", 0, t0);
	vmd_report("lockhog_back_huge_ok", ok);
	t0 = vmd_rdtsc();
	for (ok = 0; vmd_plug_huge(9, &addr, NULL, NULL) == VMD_OK; ok++)
		;
	timed("lockhog_plug_huge_all_us", 0, t0);
	vmd_report("lockhog_plug_huge_ok", ok);
}

int main(void)
{
	const char *phase = vmd_arg("phase");

	start = vmd_heap_end();
	end = vmd_info.mem_bytes;
	VMD_ASSERT(phase && start + 4 * VMD_HUGE_SIZE <= end);
	if (!strncmp(phase, "overlap", 7))
		phase_overlap();
	else if (!strncmp(phase, "batch", 5))
		phase_batch();
	else if (!strncmp(phase, "whole", 5))
		phase_whole();
	else if (!strncmp(phase, "scatter", 7))
		phase_scatter();
	else if (!strncmp(phase, "huge", 4))
		phase_huge();
	else
		return 2;
	return 0;
}
