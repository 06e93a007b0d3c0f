/* A bounded double-ended queue of frame numbers: the free frames a
 * compaction run isolated and has not used as destinations yet (both
 * engines take from the front and put a split block's remainder back
 * there, so the lowest frames go first). */
#ifndef MM_PFN_RING_H
#define MM_PFN_RING_H

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

struct pfn_ring {
	uint32_t *slot;
	uint32_t size, head, len;
};

static inline int pfn_ring_init(struct pfn_ring *r, uint32_t size)
{
	r->slot = malloc(size * sizeof(*r->slot));
	r->size = size;
	r->head = r->len = 0;
	return r->slot ? 0 : -1;
}

static inline void pfn_ring_destroy(struct pfn_ring *r)
{
	free(r->slot);
	r->slot = NULL;
}

/* Callers size the ring for the most they can hold: full is a bug. */
static inline void pfn_ring_push(struct pfn_ring *r, uint32_t pfn, bool front)
{
	if (r->len == r->size)
		abort();
	if (front) {
		r->head = (r->head + r->size - 1) % r->size;
		r->slot[r->head] = pfn;
	} else {
		r->slot[(r->head + r->len) % r->size] = pfn;
	}
	r->len++;
}

/* The front frame; the ring must not be empty. */
static inline uint32_t pfn_ring_pop(struct pfn_ring *r)
{
	uint32_t pfn = r->slot[r->head];

	r->head = (r->head + 1) % r->size;
	r->len--;
	return pfn;
}

#endif
