/* Seeded populate/discard cycles (see fragment.h). */
#include "fragment.h"
#include "memtest.h"
#include "vmd.h"

#define BATCH 1024

static struct vmd_range ranges[BATCH];
static unsigned int nranges;
static uint32_t batch_op;

static void set_bit(uint8_t *map, uint64_t p, int v)
{
	if (v)
		map[p >> 3] |= (uint8_t)(1 << (p & 7));
	else
		map[p >> 3] &= (uint8_t)~(1 << (p & 7));
}

static void flush(void)
{
	uint64_t bad;
	int status;

	if (!nranges)
		return;
	status = vmd_mem_batch(batch_op, ranges, nranges, &bad);
	if (status != VMD_OK)
		vmd_printf("fragment: batch op %u failed with %d at range %lu\n", batch_op, status, bad);
	VMD_ASSERT(status == VMD_OK);
	nranges = 0;
}

static void queue(uint32_t op, uint64_t addr, uint64_t bytes)
{
	if (op != batch_op || nranges == BATCH) {
		flush();
		batch_op = op;
	}
	ranges[nranges].addr = addr;
	ranges[nranges++].bytes = bytes;
}

/* Discards scattered runs of 1-16 pages until goal pages are out. */
static void discard_to(struct fragment_state *st, uint64_t goal)
{
	while (st->ndiscarded < goal) {
		uint64_t p = vmd_rand(&st->rng) % st->pages, len = 1 + vmd_rand(&st->rng) % 16, n = 0;

		while (n < len && p + n < st->pages && !fragment_is_discarded(st, p + n)) {
			set_bit(st->discarded, p + n, 1);
			n++;
		}
		if (n) {
			queue(VMD_OP_DISCARD, st->start + p * VMD_PAGE_SIZE, n * VMD_PAGE_SIZE);
			st->ndiscarded += n;
		}
	}
	flush();
}

/* Brings most discarded pages back: new frames, wherever they are. */
static void repopulate(struct fragment_state *st)
{
	for (uint64_t p = 0; p < st->pages; p++) {
		if (fragment_is_discarded(st, p) && vmd_rand(&st->rng) % 100 < 75) {
			set_bit(st->discarded, p, 0);
			st->ndiscarded--;
			queue(VMD_OP_POPULATE, st->start + p * VMD_PAGE_SIZE, VMD_PAGE_SIZE);
		}
	}
	flush();
}

void fragment_churn(struct fragment_state *st, uint64_t keep)
{
	repopulate(st);
	discard_to(st, st->pages * keep / 100);
}

void fragment_memory(struct fragment_state *st, uint64_t seed, uint64_t rounds, uint64_t keep)
{
	st->rng = seed * 2654435761ULL + 1;
	st->discarded = vmd_alloc(vmd_info.mem_bytes / VMD_PAGE_SIZE / 8 + 1);
	st->start = vmd_heap_end();
	st->end = vmd_info.mem_bytes;
	st->pages = (st->end - st->start) / VMD_PAGE_SIZE;
	st->ndiscarded = 0;
	/* touch everything first, as a guest that has been running a while */
	memtest_write(st->start, st->end, 0, 0);
	for (uint64_t r = 0; r < rounds; r++) {
		discard_to(st, st->pages * (r + 1 == rounds ? keep : 60) / 100);
		if (r + 1 < rounds)
			repopulate(st);
	}
}
