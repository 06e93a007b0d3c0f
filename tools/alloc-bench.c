/* alloc-bench: cost of the buddy allocator on a 4 GiB (1,048,576-frame)
 * pool - ns per order-0 and order-9 alloc+free pair - and its metadata
 * bytes per frame. Prints numbers; judges nothing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mm/pool.h"

#define DEFAULT_FRAMES	(1U << 20)

static double now_ns(void)
{
	return (double)mono_ns();
}

static void die(const char *what, int err)
{
	fprintf(stderr, "alloc-bench: %s: %s\n", what, strerror(-err));
	exit(1);
}

/* Pairs of alloc+free of one order; returns ns per pair. */
static double bench_pairs(struct zone *z, unsigned int order, long pairs)
{
	double t0 = now_ns();

	for (long i = 0; i < pairs; i++) {
		uint32_t pfn;
		int err = buddy_alloc(z, order, MIGRATE_MOVABLE, &pfn);

		if (err)
			die("alloc", err);
		err = buddy_free(z, pfn, order);
		if (err)
			die("free", err);
	}
	return (now_ns() - t0) / pairs;
}

/* Batches: allocate n order-0 frames, free them in shuffled order. The
 * frees land next to allocated neighbours, as in a busy pool. */
static double bench_batches(struct zone *z, uint32_t n, int rounds, uint32_t *pfns)
{
	double total = 0;

	srand(1);
	for (int r = 0; r < rounds; r++) {
		double t0 = now_ns();

		for (uint32_t i = 0; i < n; i++) {
			int err = buddy_alloc(z, 0, MIGRATE_MOVABLE, &pfns[i]);

			if (err)
				die("alloc", err);
		}
		total += now_ns() - t0;
		for (uint32_t i = n - 1; i > 0; i--) {
			uint32_t j = (uint32_t)rand() % (i + 1), t = pfns[i];

			pfns[i] = pfns[j];
			pfns[j] = t;
		}
		t0 = now_ns();
		for (uint32_t i = 0; i < n; i++) {
			int err = buddy_free(z, pfns[i], 0);

			if (err)
				die("free", err);
		}
		total += now_ns() - t0;
	}
	return total / ((double)n * rounds);
}

int main(int argc, char **argv)
{
	uint32_t frames = argc > 1 ? (uint32_t)strtoul(argv[1], NULL, 0) : DEFAULT_FRAMES;
	uint32_t batch = frames / 2;
	uint32_t *pfns = malloc(batch * sizeof(*pfns));
	struct pool pool;
	double meta;
	int err;

	if (!pfns)
		die("malloc", -12);
	err = pool_create(&pool, POOL_MEMFD, frames, NULL);
	if (err)
		die("pool_create", err);
	meta = (double)zone_metadata_bytes(&pool.zone) / frames;

	printf("pool: %u frames (%u MiB), memfd\n", frames, frames >> 8);
	printf("metadata_bytes_per_frame %.3f (descriptor %zu, pageblock byte %.4f, zone %.6f)\n",
	       meta, sizeof(struct frame), 1.0 / PAGEBLOCK_FRAMES,
	       (double)sizeof(struct zone) / frames);
	printf("order0_pair_ns %.1f (empty pool: split 10 levels, merge 10 levels)\n",
	       bench_pairs(&pool.zone, 0, 20000000));
	printf("order0_batch_ns %.1f (alloc %u, free shuffled; per alloc+free)\n",
	       bench_batches(&pool.zone, batch, 3, pfns), batch);
	printf("order9_pair_ns %.1f\n", bench_pairs(&pool.zone, 9, 200000));
	pool_destroy(&pool);
	free(pfns);
	return 0;
}
