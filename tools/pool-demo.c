/* pool-demo: fragments a frame pool the way a long-running guest does
 * (seeded random frees among mixed allocations) and prints the kernel's
 * views of it before and after. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mm/fragindex.h"
#include "mm/pool.h"
#include "mm/vmstat.h"

static void show(const char *title, struct pool *p)
{
	uint64_t nr_free[NR_ORDERS];

	buddy_nr_free(&p->zone, nr_free);
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

int main(int argc, char **argv)
{
	uint32_t frames = 65536;	/* 256 MiB */
	unsigned int seed = argc > 1 ? (unsigned int)atoi(argv[1]) : 1;
	uint32_t *pfns = malloc(frames * sizeof(*pfns)), n = 0;
	struct pool pool;
	int err;

	err = pool_create(&pool, POOL_MEMFD, frames, NULL);
	if (err || !pfns) {
		fprintf(stderr, "pool-demo: cannot create pool: %s\n", strerror(-err));
		return 1;
	}
	show("fresh pool", &pool);

	/* fill the pool with 4 KiB movable frames and a few unmovable ones,
	 * writing each so the memfd really holds it */
	srand(seed);
	for (;;) {
		enum migratetype mt = rand() % 100 == 0 ? MIGRATE_UNMOVABLE : MIGRATE_MOVABLE;

		if (buddy_alloc(&pool.zone, 0, mt, &pfns[n]))
			break;
		memset(pool_frame(&pool, pfns[n]), (int)(n & 0xff), FRAME_SIZE);
		n++;
	}
	/* then free 40% at random, giving the memory back to the host */
	for (uint32_t i = 0; i < n; i++) {
		if (rand() % 100 >= 40)
			continue;
		buddy_free(&pool.zone, pfns[i], 0);
		pool_punch(&pool, pfns[i], 1);
	}
	show("after filling with 4 KiB frames and freeing 40% at random", &pool);
	printf("Free memory is plentiful but scattered: no free order-9 (2 MiB) block,\n"
	       "so the extfrag index at order 9 is near 1 (fragmentation, not lack of\n"
	       "memory) and compaction, not reclaim, would help.\n");
	pool_destroy(&pool);
	free(pfns);
	return 0;
}
