/* A reference model of the buddy allocator (and of the lock-free one's
 * views) for tests: it records what
 * was handed out and, from that alone, derives what the free lists must
 * hold (with full coalescing the free blocks are unique: the largest
 * aligned all-free blocks), then compares with the real zone. */
#ifndef TESTS_BUDDY_MODEL_H
#define TESTS_BUDDY_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "mm/buddy.h"

struct buddy_model {
	uint32_t nr_frames;
	uint8_t *used;		/* per frame: 1 when handed out */
	uint32_t *prefix;	/* prefix sums of used, rebuilt on check */
};

void model_init(struct buddy_model *m, uint32_t nr_frames);
void model_destroy(struct buddy_model *m);

/* Records an allocation; returns a message if it is impossible (out of
 * range, misaligned, overlapping a frame already handed out), else NULL. */
const char *model_alloc(struct buddy_model *m, uint32_t pfn, unsigned int order);
void model_free(struct buddy_model *m, uint32_t pfn, unsigned int order);

/* What any allocator's views must show for the model's frames: the free
 * blocks per order with every buddy merged, and the free frames. */
void model_nr_free(struct buddy_model *m, uint64_t nr_free[NR_ORDERS]);
uint64_t model_free_frames(const struct buddy_model *m);

/* Compares the zone with the model; returns 0, or -1 with a message that
 * says what was expected and what was seen. */
int model_check(struct buddy_model *m, const struct zone *z, char *msg, size_t len);

#endif
