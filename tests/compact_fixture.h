/* Hand-built pools for compaction tests: a picture such as
 * "U F U F U U F U" gives each frame's state (U movable and mapped to a
 * guest frame, P the same but pinned, N unmovable, F free); every mapped
 * frame holds bytes derived from its guest frame, and the test mover
 * copies real bytes, so data can be checked after any compaction. */
#ifndef TESTS_COMPACT_FIXTURE_H
#define TESTS_COMPACT_FIXTURE_H

#include <stddef.h>
#include <stdint.h>

#include "mm/compaction.h"

/* Check assertions over a fixture (include <check.h> first). */
#define ck_verify(fx) do { \
	const char *why_ = fixture_verify(fx); \
	ck_assert_msg(!why_, "%s", why_); \
} while (0)

#define ck_layout(fx, expect) do { \
	char *got_ = fixture_layout(fx); \
	ck_assert_msg(!strcmp(got_, (expect)), "layout: expected %s, got %s", (expect), got_); \
	free(got_); \
} while (0)

struct fixture {
	struct zone zone;
	struct p2m p2m;
	struct compactor c;
	uint8_t *data;			/* nr_frames * FRAME_SIZE bytes */
	uint32_t nr_mapped;
	uint32_t fail_every;		/* mover refuses gfns divisible by this (0: none) */
	uint64_t mover_calls;
	uint64_t pace_calls;		/* turns given, the zone lock free */
	bool turn_owed;			/* the mover "paused": a turn is due */
	unsigned int paused_during_turn;	/* turns in which "another run"
					 * paused: still owed after them */
	uint32_t discard_in_turn;	/* a pfn whose gfn the guest discards
					 * during the next turn (0: none) */
	uint64_t mover_frames;
	uint64_t refused;
};

/* Builds from a picture (spaces and '|' ignored) with pageblocks of
 * 2^pageblock_order frames. */
void fixture_picture(struct fixture *fx, const char *picture, unsigned int pageblock_order);

/* A fragmented pool of nr_frames: every frame used and mapped, then a
 * seeded random share freed; as many pinned and as many unmovable frames,
 * pinned_per_10k in 10,000 each, sprinkled in. */
void fixture_random(struct fixture *fx, uint32_t nr_frames, unsigned int pageblock_order,
		    unsigned int free_percent, unsigned int pinned_per_10k, unsigned int seed);

/* The same on allocator a (ZONE_LOCKFREE: pageblock_order 9 only). */
void fixture_random_on(struct fixture *fx, enum zone_allocator a, uint32_t nr_frames,
		       unsigned int pageblock_order, unsigned int free_percent,
		       unsigned int pinned_per_10k, unsigned int seed);

void fixture_destroy(struct fixture *fx);

/* The pool as a picture (no spaces), for comparing layouts. Caller frees. */
char *fixture_layout(const struct fixture *fx);

/* Every guest frame still mapped, to a frame that says it is its owner,
 * holding its own bytes. Returns NULL or what is wrong. */
const char *fixture_verify(struct fixture *fx);

#endif
