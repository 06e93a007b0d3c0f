/* Pool states to compact: seeded generators (alternating, random, aged)
 * and trace replay, all going through the buddy allocator. Every
 * operation can be written out as a trace line, so any state can be
 * rebuilt exactly:
 *
 *   a ID ORDER TYPE   allocate 2^ORDER frames as TYPE (M, U or R)
 *   f ID              free what ID got
 *   # ...             comment
 *
 * An allocation the pool cannot satisfy is skipped and counted, and its
 * later free ignored, as the kernel would fail it. Movable allocations are
 * split into order-0 frames, each mapped to a guest frame of its own, as
 * guest memory is; the others stay whole and unmapped. Not thread-safe:
 * build the state before sharing the zone. */
#ifndef MM_SCENARIO_H
#define MM_SCENARIO_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "mm/p2m.h"

struct scenario_alloc;

struct scenario {
	struct zone *zone;
	struct p2m *p2m;		/* nr_gfns must be >= zone frames */
	FILE *trace;			/* when set, every operation is written here */
	struct scenario_alloc *allocs;	/* records, indexed through the hash */
	size_t nr_allocs, cap_allocs;
	uint32_t *hash;			/* open addressing: record index + 1 */
	size_t hash_size;
	uint32_t *free_gfns;		/* stack of unused guest frames */
	uint32_t nr_free_gfns;
	uint64_t ops, skipped;
};

int scenario_init(struct scenario *s, struct zone *z, struct p2m *m);
void scenario_destroy(struct scenario *s);

/* 0 done, 1 skipped (no memory; counted), -EINVAL bad order or type,
 * -EEXIST id still holds an allocation. */
int scenario_alloc(struct scenario *s, uint64_t id, unsigned int order, enum migratetype mt);

/* 0 done, 1 ignored (its allocation was skipped), -ENOENT unknown id. */
int scenario_free(struct scenario *s, uint64_t id);

/* Replays a trace. Returns 0, or -1 with "NAME:LINE: why" in err. */
int scenario_replay(struct scenario *s, FILE *in, const char *name, char *err, size_t len);

/* Runs a named generator (alternating, random, aged) with a seed. Returns
 * 0, or -EINVAL for an unknown name. */
int scenario_generate(struct scenario *s, const char *name, uint64_t seed);

extern const char *const scenario_names[];	/* NULL-terminated */

#endif
