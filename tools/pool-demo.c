/* pool-demo: fragments a frame pool the way a long-running guest does
 * (seeded random frees among mixed allocations) and prints the kernel's
 * views of it before and after. With --allocator lockfree the frames come
 * from the lock-free allocator, whose views are computed from its
 * bitfields, and the pool is then compacted on them (min-move, each frame's
 * bytes copied for real) and checked byte for byte. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/cli.h"
#include "mm/fragindex.h"
#include "mm/lf_compact.h"
#include "mm/pool.h"
#include "mm/vmstat.h"

#define FRAMES	65536U	/* 256 MiB */
#define NONE	UINT32_MAX

static void show(const char *title, struct pool *p)
{
	uint64_t nr_free[NR_ORDERS];

	zone_nr_free(&p->zone, nr_free);
	printf("== %s: %lu of %u frames free, fragmentation score %u\n", title,
	       (unsigned long)zone_free_frames(&p->zone), zone_nr_frames(&p->zone),
	       fragmentation_score(nr_free, NR_ORDERS, zone_nr_frames(&p->zone)));
	printf("-- buddyinfo\n");
	vmstat_buddyinfo(stdout, &p->zone);
	printf("-- extfrag_index\n");
	vmstat_extfrag_index(stdout, &p->zone);
	printf("-- unusable_index\n");
	vmstat_unusable_index(stdout, &p->zone);
	printf("-- pagetypeinfo\n");
	vmstat_pagetypeinfo(stdout, &p->zone);
	printf("\n");
}

static int demo_buddy(struct pool *pool, uint32_t *pfns)
{
	uint32_t n = 0;

	show("fresh pool", pool);
	/* fill the pool with 4 KiB movable frames and a few unmovable ones,
	 * writing each so the memfd really holds it */
	for (;;) {
		enum migratetype mt = rand() % 100 == 0 ? MIGRATE_UNMOVABLE : MIGRATE_MOVABLE;

		if (zone_alloc(&pool->zone, 0, mt, &pfns[n]))
			break;
		memset(pool_frame(pool, pfns[n]), (int)(n & 0xff), FRAME_SIZE);
		n++;
	}
	/* then free 40% at random, giving the memory back to the host */
	for (uint32_t i = 0; i < n; i++) {
		if (rand() % 100 >= 40)
			continue;
		zone_free(&pool->zone, pfns[i], 0);
		pool_punch(pool, pfns[i], 1);
	}
	show("after filling with 4 KiB frames and freeing 40% at random", pool);
	printf("Free memory is plentiful but scattered: no free order-9 (2 MiB) block,\n"
	       "so the extfrag index at order 9 is near 1 (fragmentation, not lack of\n"
	       "memory) and compaction, not reclaim, would help.\n");
	return 0;
}

/* ---- the lock-free allocator over the same storage ---- */

struct lf_demo {
	struct pool *pool;		/* the frames' bytes */
	struct lf_pool lf;		/* who has which frame */
	uint32_t *owner;		/* per frame: the index of the allocation, or NONE */
	uint32_t *pfns;			/* per allocation: its frame, or NONE once freed */
	uint8_t *unmovable;		/* per frame */
};

static void lf_show(const char *title, struct lf_demo *d)
{
	uint64_t nr_free[NR_ORDERS], kinds[LF_NR_KINDS] = { 0 };

	lf_nr_free(&d->lf, nr_free);
	printf("== %s: %lu of %u frames free, %lu free 2 MiB chunks, fragmentation score %u\n",
	       title, (unsigned long)lf_free_frames(&d->lf), d->lf.nr_frames,
	       (unsigned long)lf_free_chunks(&d->lf), fragmentation_score(nr_free, NR_ORDERS, d->lf.nr_frames));
	printf("-- buddyinfo (from the bitfields: the blocks a buddy would hold, merged)\n");
	print_buddyinfo_line(stdout, 0, VMSTAT_ZONE_NAME, nr_free, NR_ORDERS);
	printf("-- extfrag_index\n");
	print_extfrag_line(stdout, 0, VMSTAT_ZONE_NAME, nr_free, NR_ORDERS);
	printf("-- unusable_index\n");
	print_unusable_line(stdout, 0, VMSTAT_ZONE_NAME, nr_free, NR_ORDERS);
	for (uint32_t c = 0; c < d->lf.nr_chunks; c++)
		kinds[lf_chunk_kind(&d->lf, c)]++;
	printf("-- chunks by kind: none %lu, movable %lu, unmovable %lu\n\n", (unsigned long)kinds[0],
	       (unsigned long)kinds[1], (unsigned long)kinds[2]);
}

/* Moves frame src's bytes and owner to dst, as a VMM moves a guest page. */
static int lf_demo_migrate(void *arg, uint32_t src, uint32_t dst)
{
	struct lf_demo *d = arg;
	uint32_t who = d->owner[src];

	if (who == NONE || d->unmovable[src])
		return -1;
	memcpy(pool_frame(d->pool, dst), pool_frame(d->pool, src), FRAME_SIZE);
	pool_punch(d->pool, src, 1);
	d->owner[dst] = who;
	d->owner[src] = NONE;
	d->unmovable[dst] = 0;
	d->pfns[who] = dst;
	return 0;
}

static int demo_lockfree(struct pool *pool, uint32_t *pfns)
{
	struct lf_demo d = { .pool = pool, .pfns = pfns };
	static uint64_t bound[FRAMES / LF_CHUNK_FRAMES + 1];
	static uint8_t want[FRAME_SIZE];
	struct lf_compact_stats st;
	struct lf_local l;
	uint32_t n = 0, bad = 0, kept = 0;

	d.owner = malloc(FRAMES * sizeof(*d.owner));
	d.unmovable = calloc(FRAMES, 1);
	if (!d.owner || !d.unmovable || lf_init(&d.lf, FRAMES)) {
		fprintf(stderr, "pool-demo: no memory\n");
		return 1;
	}
	lf_local_init(&l);
	for (uint32_t i = 0; i < FRAMES; i++)
		d.owner[i] = NONE;
	lf_show("fresh pool (lock-free allocator)", &d);
	for (;;) {
		enum migratetype mt = rand() % 100 == 0 ? MIGRATE_UNMOVABLE : MIGRATE_MOVABLE;

		if (lf_alloc(&d.lf, &l, 0, mt, &pfns[n]))
			break;
		memset(pool_frame(pool, pfns[n]), (int)(n & 0xff), FRAME_SIZE);
		d.owner[pfns[n]] = n;
		d.unmovable[pfns[n]] = mt == MIGRATE_UNMOVABLE;
		n++;
	}
	for (uint32_t i = 0; i < n; i++) {
		if (rand() % 100 >= 40)
			continue;
		lf_free(&d.lf, pfns[i], 0);
		pool_punch(pool, pfns[i], 1);
		d.owner[pfns[i]] = NONE;
		pfns[i] = NONE;
	}
	lf_show("after filling with 4 KiB frames and freeing 40% at random", &d);
	for (uint32_t k = 0; k <= d.lf.nr_chunks; k++)
		bound[k] = lf_compact_lower_bound(&d.lf, k);
	lf_compact_minmove(&d.lf, UINT64_MAX, lf_demo_migrate, &d, &st);
	printf("min-move on the bitfields: %lu frames moved (the lower bound for %lu free chunks: "
	       "%lu), %lu refused, %.1f ms\n", (unsigned long)st.moved,
	       (unsigned long)st.free_chunks_after, (unsigned long)bound[st.free_chunks_after],
	       (unsigned long)st.failed, st.ns / 1e6);
	lf_show("after min-move compaction", &d);
	/* every frame kept holds what was written into it */
	for (uint32_t i = 0; i < n; i++) {
		if (pfns[i] == NONE)
			continue;
		memset(want, (int)(i & 0xff), sizeof(want));
		bad += memcmp(pool_frame(pool, pfns[i]), want, sizeof(want)) != 0;
		kept++;
	}
	printf("%u kept frames checked byte for byte: %u differ\n", kept, bad);
	lf_local_release(&d.lf, &l);
	lf_destroy(&d.lf);
	free(d.owner);
	free(d.unmovable);
	return bad ? 1 : 0;
}

static void usage(FILE *out)
{
	fprintf(out, "usage: pool-demo [--allocator buddy|lockfree] [SEED]\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "allocator", required_argument, NULL, 'a' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	uint32_t *pfns = malloc(FRAMES * sizeof(*pfns));
	bool lockfree = false;
	struct pool pool;
	int err, c;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'a':
			if (strcmp(optarg, "buddy") && strcmp(optarg, "lockfree")) {
				fprintf(stderr, "pool-demo: --allocator %s: want buddy or lockfree\n", optarg);
				return 2;
			}
			lockfree = !strcmp(optarg, "lockfree");
			break;
		case 'h':
			return cli_usage_exit(usage, true);
		default:
			return cli_usage_exit(usage, false);
		}
	}
	if (optind + 1 < argc)
		return cli_usage_exit(usage, false);
	srand(optind < argc ? (unsigned int)atoi(argv[optind]) : 1);
	err = pool_create(&pool, POOL_MEMFD, FRAMES, NULL);
	if (err || !pfns) {
		fprintf(stderr, "pool-demo: cannot create pool: %s\n", strerror(-err));
		return 1;
	}
	/* the pool's own zone is not used by the lock-free demo: the pool is
	 * only the frames' storage there */
	err = lockfree ? demo_lockfree(&pool, pfns) : demo_buddy(&pool, pfns);
	pool_destroy(&pool);
	free(pfns);
	return err;
}
