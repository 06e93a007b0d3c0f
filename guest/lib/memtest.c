/* Page patterns for data-integrity checks. */
#include "memtest.h"
#include "vmd.h"

static inline uint64_t pattern(uint64_t addr, uint64_t round)
{
	uint64_t x = addr * 0x9E3779B97F4A7C15ULL ^ (round + 1) * 0xD1B54A32D192ED03ULL;

	return x ^ (x >> 29);
}

static int skipped(const uint8_t *skip, uint64_t page)
{
	return skip && (skip[page >> 3] >> (page & 7)) & 1;
}

void memtest_write(uint64_t start, uint64_t end, const uint8_t *skip, uint64_t round)
{
	for (uint64_t a = start; a < end; a += VMD_PAGE_SIZE) {
		volatile uint64_t *w = (volatile uint64_t *)(uintptr_t)a;

		if (skipped(skip, (a - start) / VMD_PAGE_SIZE))
			continue;
		for (unsigned int i = 0; i < VMD_PAGE_SIZE / 8; i++)
			w[i] = pattern(a + i * 8, round);
	}
}

uint64_t memtest_verify(uint64_t start, uint64_t end, const uint8_t *skip, uint64_t round)
{
	uint64_t bad = 0;

	for (uint64_t a = start; a < end; a += VMD_PAGE_SIZE) {
		volatile uint64_t *w = (volatile uint64_t *)(uintptr_t)a;

		if (skipped(skip, (a - start) / VMD_PAGE_SIZE))
			continue;
		for (unsigned int i = 0; i < VMD_PAGE_SIZE / 8; i++) {
			if (w[i] != pattern(a + i * 8, round)) {
				if (bad < 5)
					vmd_printf("memtest: page 0x%lx word %u: expected 0x%lx, found 0x%lx\n",
						   a, i, pattern(a + i * 8, round), w[i]);
				bad++;
				break;
			}
		}
	}
	return bad;
}
