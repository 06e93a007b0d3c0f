/* pmemtest: versioned records over memory that outlives the VMM (a
 * persistent pool: --backing file:PATH,persistent). Every page after the
 * guest's table holds a record: its version in the first word, the rest a
 * pattern of its page number and version; the table (in guest memory too,
 * at the same place at every boot) holds the version each page had when
 * last written. A vCPU writes pages at random, each page before its table
 * entry, and now and then discards a run of pages and populates it again
 * (marked DISCARDING in the table across the two), one change in
 * discard=N (default 2048). Records fill use=P percent (default 50) of
 * the memory after the table; the rest is given back at the first boot.
 * One change in huge=N (default 4096; 0: none) asks for a huge region
 * instead: back-huge of a 2 MiB range of the records (the VMM moves them
 * into one block under the guest), or, while the plug area has room, a
 * plug-huge whose block is written and checked at once (the plug area is
 * not persistent: a restart finds it empty, as after a reboot).
 *
 * With recover=1 it first checks every page against the table, as the VMM
 * being killed at any instant may leave it: every word of a page is its
 * table version's or the next version's (a write the kill cut off: memory
 * is written a word at a time, so a page may hold some of each; version 0
 * is all zeros); a DISCARDING page reads zeros, or the whole record it had
 * (the discard may not have happened). Then it finishes the writes and
 * discards the kill cut off, and goes on. Runs for seconds=N (0: until the VMM ends); reports
 *   pmemtest_checked, pmemtest_bad (must be 0), pmemtest_newer (writes the
 *   kill cut off), pmemtest_versions (the sum of every page's version
 *   after recovery: the writes memory kept), pmemtest_writes,
 *   pmemtest_discards, pmemtest_backed (back-huge requests that moved or
 *   kept a range whole), pmemtest_plugged (blocks plugged, each checked) */
#include "vmd.h"

VMD_GUEST_PURPOSE("versioned records in memory that survives the VMM: recover=1 checks them");

#define DISCARDING	0xffffffffU
#define RUN_PAGES	16

static volatile uint32_t *table;
static uint64_t base, pages;

/* Word i of page's record of version (version 0: zeros). */
static uint64_t word(uint64_t page, uint32_t version, unsigned int i)
{
	return version ? (page * 0x9E3779B97F4A7C15ULL) ^ ((uint64_t)version << 32) ^ i : 0;
}

static volatile uint64_t *page_at(uint64_t page)
{
	return (volatile uint64_t *)(uintptr_t)(base + page * VMD_PAGE_SIZE);
}

static void write_page(uint64_t page, uint32_t version)
{
	volatile uint64_t *w = page_at(page);

	for (unsigned int i = 0; i < VMD_PAGE_SIZE / 8; i++)
		w[i] = word(page, version, i);
}

/* Is every word of the page version a's, or b's? */
static int page_is(uint64_t page, uint32_t a, uint32_t b, int *has_b)
{
	volatile uint64_t *w = page_at(page);

	*has_b = 0;
	for (unsigned int i = 0; i < VMD_PAGE_SIZE / 8; i++) {
		if (w[i] == word(page, a, i))
			continue;
		if (w[i] != word(page, b, i))
			return 0;
		*has_b = 1;
	}
	return 1;
}

static void discard_run(uint64_t first)
{
	uint64_t bytes = RUN_PAGES * VMD_PAGE_SIZE;

	for (uint64_t p = first; p < first + RUN_PAGES; p++)
		table[p] = DISCARDING;
	VMD_ASSERT(vmd_discard(base + first * VMD_PAGE_SIZE, bytes) == VMD_OK);
	VMD_ASSERT(vmd_populate(base + first * VMD_PAGE_SIZE, bytes) == VMD_OK);
	for (uint64_t p = first; p < first + RUN_PAGES; p++)
		table[p] = 0;
}

/* back-huge of a random 2 MiB range wholly inside the records; true if
 * the range is one block now. Short of blocks (NOMEM, FRAGMENTED) is an
 * answer too; any other status fails the run. */
static int back_huge_records(uint64_t *seed)
{
	uint64_t first = (base + VMD_HUGE_SIZE - 1) / VMD_HUGE_SIZE;
	uint64_t end = (base + pages * VMD_PAGE_SIZE) / VMD_HUGE_SIZE;
	int st;

	if (end <= first)
		return 0;
	st = vmd_back_huge((first + vmd_rand(seed) % (end - first)) * VMD_HUGE_SIZE, NULL, NULL);
	VMD_ASSERT(st == VMD_OK || st == VMD_E_NOMEM || st == VMD_E_FRAGMENTED);
	return st == VMD_OK;
}

/* plug-huge of one 2 MiB block, written with a pattern and read back;
 * false once the plug area is full. */
static int plug_and_check(void)
{
	uint64_t addr, n = VMD_HUGE_SIZE / 8;
	volatile uint64_t *w;
	int st = vmd_plug_huge(9, &addr, NULL, NULL);

	if (st == VMD_E_NOMEM || st == VMD_E_FRAGMENTED)
		return st == VMD_E_FRAGMENTED;	/* full: no more tries */
	VMD_ASSERT(st == VMD_OK && addr >= vmd_info.mem_bytes && addr % VMD_HUGE_SIZE == 0);
	w = (volatile uint64_t *)(uintptr_t)addr;
	for (uint64_t i = 0; i < n; i++)
		VMD_ASSERT(w[i] == 0);	/* a new block reads zeros */
	for (uint64_t i = 0; i < n; i++)
		w[i] = addr ^ i;
	for (uint64_t i = 0; i < n; i++)
		VMD_ASSERT(w[i] == (addr ^ i));
	return 1;
}

/* Every page against the table; then what the kill cut off finished. */
static void recover(void)
{
	uint64_t bad = 0, newer = 0, versions = 0;

	/* a discard the kill cut off may have left holes: they read zeros
	 * once populated (and populating what is backed changes nothing) */
	VMD_ASSERT(vmd_populate(base, pages * VMD_PAGE_SIZE) == VMD_OK);

	for (uint64_t p = 0; p < pages; p++) {
		/* the version word 0 would have, whole (word 0 is the page's
		 * number scrambled, xor the version in the top half) */
		uint32_t t = table[p], v = (uint32_t)((page_at(p)[0] ^ word(p, 1, 0) ^ (1ULL << 32)) >> 32);
		int has_next, ok;

		if (t == DISCARDING)
			ok = page_is(p, 0, 0, &has_next) || page_is(p, v, v, &has_next);
		else
			ok = page_is(p, t, t + 1, &has_next);
		if (!ok) {
			if (bad++ < 5)
				vmd_printf("pmemtest: page %lu: table says version %u, the page holds "
					   "neither it nor the next (word 0: 0x%lx)\n", p, t, page_at(p)[0]);
			continue;
		}
		if (t != DISCARDING && has_next) {
			write_page(p, t + 1);
			table[p] = t + 1;
			newer++;
		}
		if (table[p] != DISCARDING)
			versions += table[p];
	}
	/* a run's marks are set first to last and cleared likewise: any
	 * page of it still marked means its discard was cut off */
	for (uint64_t p = 0; p + RUN_PAGES <= pages; p += RUN_PAGES)
		for (uint64_t q = p; q < p + RUN_PAGES; q++)
			if (table[q] == DISCARDING) {
				discard_run(p);
				break;
			}
	vmd_report("pmemtest_checked", pages);
	vmd_report("pmemtest_bad", bad);
	vmd_report("pmemtest_newer", newer);
	/* the writes the pages hold: what the last runs wrote, less nothing */
	vmd_report("pmemtest_versions", versions);
}

int main(void)
{
	uint64_t khz = vmd_info.tsc_khz ? vmd_info.tsc_khz : 2000000;
	uint64_t seconds = vmd_arg_u64("seconds", 0), seed = vmd_arg_u64("seed", 1) * 2654435761ULL + vmd_rdtsc();
	uint64_t writes = 0, discards = 0, backed = 0, plugged = 0, t0, heap, table_bytes;
	/* one huge request in this many changes (0: none) */
	uint64_t huge_every = vmd_arg_u64("huge", 4096);
	int plug = vmd_info.plug_bytes != 0;
	/* one change in this many discards a run (each discard costs two
	 * requests, ~1000 page writes' time) */
	uint64_t discard_every = vmd_arg_u64("discard", 2048);
	/* percent of the memory after the table that holds records */
	uint64_t use = vmd_arg_u64("use", 50);

	/* the table first, then the pages: both at the same place at every
	 * boot of the same guest with the same memory */
	heap = vmd_heap_end();
	pages = (vmd_info.mem_bytes - heap) / (VMD_PAGE_SIZE + sizeof(uint32_t));
	pages -= pages % RUN_PAGES;
	table_bytes = (pages * sizeof(uint32_t) + VMD_PAGE_SIZE - 1) / VMD_PAGE_SIZE * VMD_PAGE_SIZE;
	VMD_ASSERT(use >= 1 && use <= 100);
	table = vmd_alloc(table_bytes);
	base = vmd_heap_end();
	pages = (vmd_info.mem_bytes - base) / VMD_PAGE_SIZE * use / 100;
	pages -= pages % RUN_PAGES;
	if (vmd_arg_u64("recover", 0)) {
		recover();
	} else {
		/* the rest given back: room for the host to compact into */
		uint64_t end = base + pages * VMD_PAGE_SIZE;

		VMD_ASSERT(vmd_discard(end, vmd_info.mem_bytes - end) == VMD_OK);
	}
	vmd_printf("pmemtest: %lu pages of records\n", pages);
	t0 = vmd_rdtsc();
	while (!seconds || vmd_rdtsc() - t0 < seconds * khz * 1000) {
		uint64_t p = vmd_rand(&seed) % pages;

		if (table[p] == DISCARDING)
			continue;
		if (huge_every && vmd_rand(&seed) % huge_every == 0) {
			/* plug and back-huge in turn while the plug area has room */
			if (plug && vmd_rand(&seed) % 2) {
				plug = plug_and_check();
				plugged += plug;
			} else {
				backed += back_huge_records(&seed);
			}
			continue;
		}
		if (discard_every && vmd_rand(&seed) % discard_every == 0) {
			discard_run(p - p % RUN_PAGES);
			discards++;
			continue;
		}
		write_page(p, table[p] + 1);
		table[p] = table[p] + 1;
		writes++;
	}
	vmd_report("pmemtest_writes", writes);
	vmd_report("pmemtest_discards", discards);
	vmd_report("pmemtest_backed", backed);
	vmd_report("pmemtest_plugged", plugged);
	return 0;
}
