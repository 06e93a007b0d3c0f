/* Fragmenting guest memory the way free page reporting does: seeded
 * rounds of discarding scattered runs of pages and populating most of them
 * again, so the host's frames end up scattered. */
#ifndef FRAGMENT_H
#define FRAGMENT_H

#include <stdint.h>

struct fragment_state {
	uint64_t start, end, pages;
	uint8_t *discarded;		/* one bit per page of [start, end) */
	uint64_t ndiscarded;
	uint64_t rng;
};

/* Fragments [vmd_heap_end(), memory end) after touching all of it; ends
 * with keep percent of the pages discarded. */
void fragment_memory(struct fragment_state *st, uint64_t seed, uint64_t rounds, uint64_t keep);

/* One more round: most discarded pages come back (their contents are
 * undefined until written), and new scattered runs go, back to keep
 * percent discarded. */
void fragment_churn(struct fragment_state *st, uint64_t keep);

static inline int fragment_is_discarded(const struct fragment_state *st, uint64_t page)
{
	return (st->discarded[page >> 3] >> (page & 7)) & 1;
}

#endif
