/* The two-scanner engine: exact results on hand-built pools, data intact
 * and pinned frames in place on random ones, targeted runs that stop
 * early, a mover that refuses frames, and the kernel's counters. */
#include <check.h>
#include <pthread.h>
#include <unistd.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "mm/vmstat.h"
#include "tests/check_run.h"
#include "tests/compact_fixture.h"

/* The 16-frame picture with 4-frame pageblocks, full compaction, traced by
 * hand through the kernel's algorithm:
 *  - migrate scanner, block 0: isolates frames 0 and 2 (4 scanned);
 *  - the first destination request runs the free scanner from block 3
 *    down: 12 used, 13 free (isolated), 14 used, 15 free (isolated: now
 *    as many free as to move); 4 scanned; block 3 fully scanned, so it is
 *    marked skip and the free scanner resumes at block 2 (pfn 8);
 *  - 0 -> 13, 2 -> 15; block 0 is now free;
 *  - migrate scanner, block 1: isolates 4, 5, 7 (4 scanned);
 *  - the free scanner may not enter the block above the migrate scanner's
 *    (block 2 starts where block 1 ends): no destination, so frame 4
 *    fails (pgmigrate_fail 1) and 5 and 7 go back untouched;
 *  - the scanners have met: complete. */
START_TEST(test_picture_twoscanner)
{
	struct fixture fx;
	struct compact_stats st;
	char *text = NULL;
	size_t len;
	FILE *out;

	fixture_picture(&fx, "U F U F | U U F U | F F U F | U F U F", 2);
	ck_assert_int_eq(compact_zone(&fx.c, COMPACT_FULL, -1, 0, &st), COMPACT_COMPLETE);
	ck_layout(&fx, "FFFFUUFUFFUFUUUU");
	ck_verify(&fx);
	ck_assert_uint_eq(p2m_lookup(&fx.p2m, 0), 13);
	ck_assert_uint_eq(p2m_lookup(&fx.p2m, 2), 15);
	ck_assert_uint_eq(st.moved, 2);
	ck_assert_uint_eq(st.failed, 1);
	ck_assert_uint_eq(st.migrate_scanned, 8);
	ck_assert_uint_eq(st.free_scanned, 4);
	ck_assert_uint_eq(st.isolated, 7);
	ck_assert_uint_eq(fx.mover_calls, 1);
	/* block 0 is one free order-2 block */
	ck_assert_uint_eq(fx.zone.free_area[2].nr_free, 1);
	ck_assert_uint_eq(fx.zone.free_area[2].head[MIGRATE_MOVABLE], 0);
	/* skip hint on the block the free scanner used up; flushed next run */
	ck_assert(fx.zone.pageblock[3] & PB_SKIP);
	ck_assert(!(fx.zone.pageblock[1] & PB_SKIP));
	ck_assert(fx.c.blockskip_flush);

	out = open_memstream(&text, &len);
	vmstat_events(out, &fx.zone);
	fclose(out);
	ck_assert_str_eq(text,
		"pgmigrate_success 2\n"
		"pgmigrate_fail 1\n"
		"compact_migrate_scanned 8\n"
		"compact_free_scanned 4\n"
		"compact_isolated 7\n"
		"compact_stall 0\n"
		"compact_fail 0\n"
		"compact_success 0\n"
		"compact_daemon_wake 0\n"
		"compact_daemon_migrate_scanned 0\n"
		"compact_daemon_free_scanned 0\n");
	free(text);

	/* a second run starts by clearing the hints */
	compact_zone(&fx.c, COMPACT_FULL, -1, 0, &st);
	ck_assert(!(fx.zone.pageblock[3] & PB_SKIP) || fx.c.blockskip_flush);
	ck_verify(&fx);
	fixture_destroy(&fx);
}
END_TEST

/* A turn is looked at again once the lock is back: another run that
 * paused during it leaves one owed, and this run's batch waits for that
 * too (two runs alternating otherwise leave the guest no time). */
START_TEST(test_turn_rechecked)
{
	struct fixture fx;
	struct compact_stats st;

	fixture_picture(&fx, "U F U F | U U F U | F F U F | U F U F", 2);
	fx.c.batch = 1;
	fx.paused_during_turn = 2;
	compact_zone(&fx.c, COMPACT_FULL, -1, 0, &st);
	ck_verify(&fx);
	ck_assert_uint_eq(st.moved, 4);
	ck_assert_uint_eq(fx.mover_calls, 4);
	/* a turn before each batch after the first, and before the second
	 * the two it was owed again */
	ck_assert_uint_eq(fx.pace_calls, 3 + 2);
	fixture_destroy(&fx);
}
END_TEST

/* The batch's source discarded while the guest has its turn (the zone
 * lock let go): the recheck after it drops that frame, its destination
 * goes back, and the rest moves as before. */
START_TEST(test_source_discarded_during_turn)
{
	struct fixture fx;
	struct compact_stats st;
	uint32_t free_before;

	fixture_picture(&fx, "U F U F | U U F U | F F U F | U F U F", 2);
	fx.c.batch = 1;
	fx.discard_in_turn = 2;		/* block 0's second frame: batch 2 */
	free_before = fx.zone.free_frames;
	compact_zone(&fx.c, COMPACT_FULL, -1, 0, &st);
	ck_verify(&fx);
	ck_assert_uint_eq(p2m_owner(&fx.p2m, 2), PFN_NONE);
	/* 0, then 2 dropped after its turn; 4, 5 and, with a frame fewer
	 * in the way, 7 before the scanners meet; the mover never saw 2 */
	ck_assert_uint_eq(st.moved, 4);
	ck_assert_uint_eq(st.failed, 0);
	ck_assert_uint_eq(fx.mover_calls, 4);
	ck_assert_uint_eq(fx.mover_frames, 4);
	ck_assert_uint_eq(fx.pace_calls, 3);
	/* the discarded frame is free, and the destination 2 had went back */
	ck_assert_uint_eq(fx.zone.free_frames, free_before + 1);
	fixture_destroy(&fx);
}
END_TEST

/* Pinned and unmovable frames stay, with 2-frame pageblocks:
 *  - block 0: 0 isolated, 1 pinned; the free scanner takes 11 from block 5
 *    (used up: skip) and resumes at block 4;
 *  - block 1: 2 isolated; block 4 is one free pageblock-sized block, which
 *    the free scanner never breaks up, so it takes 6 from block 3;
 *  - block 2 holds only the unmovable frame: nothing isolated (skip);
 *  - the scanners meet at block 3. */
START_TEST(test_picture_pinned_stays)
{
	struct fixture fx;
	struct compact_stats st;

	fixture_picture(&fx, "U P | U F | N F | F U | F F | U F", 1);
	ck_assert_int_eq(compact_zone(&fx.c, COMPACT_FULL, -1, 0, &st), COMPACT_COMPLETE);
	ck_layout(&fx, "FPFFNFUUFFUU");
	ck_verify(&fx);
	ck_assert_uint_eq(p2m_lookup(&fx.p2m, 0), 11);
	ck_assert_uint_eq(p2m_lookup(&fx.p2m, 1), 1);
	ck_assert_uint_eq(p2m_lookup(&fx.p2m, 2), 6);
	ck_assert_uint_eq(st.moved, 2);
	ck_assert_uint_eq(st.failed, 0);
	ck_assert_uint_eq(st.migrate_scanned, 6);
	ck_assert_uint_eq(st.free_scanned, 3);
	ck_assert_uint_eq(st.isolated, 4);
	ck_assert(fx.zone.pageblock[5] & PB_SKIP);
	ck_assert(fx.zone.pageblock[2] & PB_SKIP);
	ck_assert(!(fx.zone.pageblock[3] & PB_SKIP));
	fixture_destroy(&fx);
}
END_TEST

static const struct {
	uint32_t frames;
	unsigned int pbo;
} random_pools[] = { { 8192, 9 }, { 1024, 4 }, { 4096, 6 }, { 16384, 9 } };

START_TEST(test_random_full_compaction)
{
	struct fixture fx;
	struct compact_stats st;
	uint32_t n = random_pools[_i % 4].frames, *pinned_pfn;
	uint64_t before, used_before;

	fixture_random(&fx, n, random_pools[_i % 4].pbo, 45, 5, 100 + _i);
	pinned_pfn = malloc(n * sizeof(*pinned_pfn));
	for (uint32_t i = 0; i < n; i++)
		pinned_pfn[i] = (fx.zone.frames[i].flags & FRAME_PINNED) ? fx.zone.frames[i].use.gfn : PFN_NONE;
	before = count_free_pageblocks(&fx.zone);
	used_before = n - fx.zone.free_frames;
	compact_zone(&fx.c, COMPACT_FULL, -1, 0, &st);
	ck_verify(&fx);
	for (uint32_t i = 0; i < n; i++)
		if (pinned_pfn[i] != PFN_NONE)
			ck_assert_msg(p2m_lookup(&fx.p2m, pinned_pfn[i]) == i,
				      "pinned gfn %u moved from pfn %u", pinned_pfn[i], i);
	ck_assert_uint_eq(n - fx.zone.free_frames, used_before);
	ck_assert_uint_gt(count_free_pageblocks(&fx.zone), before);
	ck_assert_uint_eq(fx.zone.events[PGMIGRATE_SUCCESS], st.moved);
	ck_assert_uint_eq(fx.zone.events[PGMIGRATE_FAIL], st.failed);
	ck_assert_uint_le(st.failed, 1);		/* at most one: no room, at the end */
	ck_assert_uint_eq(fx.zone.events[COMPACTMIGRATE_SCANNED], st.migrate_scanned);
	ck_assert_uint_eq(fx.zone.events[COMPACTFREE_SCANNED], st.free_scanned);
	ck_assert_uint_eq(fx.zone.events[COMPACTISOLATED], st.isolated);
	ck_assert_uint_eq(fx.mover_frames, st.moved + fx.refused);
	/* a turn before every batch but the first, none after the last */
	ck_assert_uint_gt(fx.mover_calls, 1);
	ck_assert_uint_eq(fx.pace_calls, fx.mover_calls - 1);
	free(pinned_pfn);
	fixture_destroy(&fx);
}
END_TEST

/* The engine on the lock-free allocator: on the same layout as on the
 * buddy, the free scanner finds the same free blocks (counted from the
 * bits, every buddy merged, as the buddy's free lists hold them), so the
 * two runs make the very same moves, scan the same frames and leave the
 * same layout; data intact, the descriptors agreeing with the bits. */
START_TEST(test_random_full_compaction_lockfree)
{
	struct fixture bd, lf;
	struct compact_stats sb, sl;
	uint32_t n = _i % 2 ? 16384 : 8192;
	char msg[256];
	char *lb, *ll;

	fixture_random_on(&bd, ZONE_BUDDY, n, 9, 30 + 10 * (unsigned int)_i, 5, 700 + _i);
	fixture_random_on(&lf, ZONE_LOCKFREE, n, 9, 30 + 10 * (unsigned int)_i, 5, 700 + _i);
	lb = fixture_layout(&bd);
	ll = fixture_layout(&lf);
	ck_assert_str_eq(lb, ll);
	free(lb);
	free(ll);
	compact_zone(&bd.c, COMPACT_FULL, -1, 0, &sb);
	compact_zone(&lf.c, COMPACT_FULL, -1, 0, &sl);
	ck_verify(&lf);
	ck_assert_msg(zone_check(&lf.zone, msg, sizeof(msg)) == 0, "%s", msg);
	ck_assert_uint_gt(sl.moved, 0);
	ck_assert_uint_eq(sl.moved, sb.moved);
	ck_assert_uint_eq(sl.failed, sb.failed);
	ck_assert_uint_eq(sl.migrate_scanned, sb.migrate_scanned);
	ck_assert_uint_eq(sl.free_scanned, sb.free_scanned);
	ck_assert_uint_eq(count_free_pageblocks(&lf.zone), count_free_pageblocks(&bd.zone));
	lb = fixture_layout(&bd);
	ll = fixture_layout(&lf);
	ck_assert_str_eq(lb, ll);
	free(lb);
	free(ll);
	fixture_destroy(&bd);
	fixture_destroy(&lf);
}
END_TEST

/* Block 0 holds 10 movable frames, blocks 1-2 are full but for a few
 * holes, block 3 is mostly free. An order-9 request compacts block 0 only
 * and stops at its end; a full run goes on and moves more. */
static void build_targeted(struct fixture *fx)
{
	char picture[2049];

	for (uint32_t i = 0; i < 2048; i++) {
		if (i < 512)
			picture[i] = i < 10 ? 'U' : 'F';
		else if (i < 1536)
			picture[i] = i % 8 == 3 ? 'F' : 'U';
		else
			picture[i] = (i < 1936 && i % 4 == 0) ? 'U' : 'F';
	}
	picture[2048] = '\0';
	fixture_picture(fx, picture, 9);
}

START_TEST(test_targeted_stops_when_order_free)
{
	struct fixture fx;
	struct compact_stats st;
	char *before, *after;

	build_targeted(&fx);
	ck_assert_uint_eq(count_free_pageblocks(&fx.zone), 0);
	before = fixture_layout(&fx);
	ck_assert_int_eq(compact_zone(&fx.c, COMPACT_DIRECT, 9, 0, &st), COMPACT_SUCCESS);
	after = fixture_layout(&fx);
	ck_assert_uint_eq(st.moved, 10);
	ck_assert_uint_eq(st.migrate_scanned, 512);
	ck_assert_uint_eq(count_free_pageblocks(&fx.zone), 1);
	ck_assert_uint_eq(fx.zone.free_area[9].nr_free, 1);
	ck_assert_msg(!memcmp(before + 512, after + 512, 1024), "blocks 1-2 were touched");
	ck_verify(&fx);
	/* the migrate scanner stopped at block 1: the next targeted run resumes
	 * there only if block 0 yielded nothing; it did, so it restarts at 0 */
	free(before);
	free(after);
	fixture_destroy(&fx);

	build_targeted(&fx);
	compact_zone(&fx.c, COMPACT_FULL, -1, 0, &st);
	ck_assert_uint_gt(st.moved, 10);
	ck_verify(&fx);
	fixture_destroy(&fx);
}
END_TEST

START_TEST(test_failing_mover)
{
	struct fixture fx;
	struct compact_stats st;
	uint32_t n = 8192, *where;

	fixture_random(&fx, n, 9, 45, 0, 7);
	fx.fail_every = 7;
	where = malloc(n * sizeof(*where));
	for (uint32_t g = 0; g < n; g++)
		where[g] = p2m_lookup(&fx.p2m, g);
	compact_zone(&fx.c, COMPACT_FULL, -1, 0, &st);
	ck_verify(&fx);
	ck_assert_uint_gt(fx.refused, 0);
	ck_assert_uint_gt(st.moved, fx.refused);	/* the run went on */
	for (uint32_t g = 0; g < n; g += 7)
		ck_assert_msg(p2m_lookup(&fx.p2m, g) == where[g], "refused gfn %u moved", g);
	ck_assert_uint_eq(fx.zone.events[PGMIGRATE_FAIL], st.failed);
	ck_assert_uint_ge(st.failed, fx.refused);
	ck_assert_uint_le(st.failed, fx.refused + 1);
	ck_assert_uint_eq(fx.zone.events[PGMIGRATE_SUCCESS], st.moved);
	/* the destinations of refused moves went back: nothing leaked */
	ck_assert_uint_eq(n - fx.zone.free_frames, fx.nr_mapped);
	free(where);
	fixture_destroy(&fx);
}
END_TEST

/* A mover that takes its time, so a run can be watched while it goes. */
static migrate_fn inner_mover;
static void *inner_arg;

static void slow_mover(void *arg, struct migration *batch, unsigned int nr)
{
	(void)arg;
	inner_mover(inner_arg, batch, nr);
	usleep(2000);
}

static void *run_full(void *arg)
{
	struct fixture *fx = arg;

	compact_zone(&fx->c, COMPACT_FULL, -1, 0, NULL);
	return NULL;
}

/* While a run holds frames isolated, compaction_wait_idle() waits; it
 * returns once the run ended and gave back what it did not use. */
START_TEST(test_wait_idle)
{
	struct fixture fx;
	pthread_t t;
	unsigned int running = 0;

	fixture_random(&fx, 8192, 9, 45, 0, 3);
	ck_assert(compaction_wait_idle(&fx.zone, 0));
	inner_mover = fx.c.migrate;
	inner_arg = fx.c.migrate_arg;
	fx.c.migrate = slow_mover;
	ck_assert_int_eq(pthread_create(&t, NULL, run_full, &fx), 0);
	for (int i = 0; i < 5000 && !running; i++) {
		zone_lock(&fx.zone);
		running = fx.zone.compacting;
		zone_unlock(&fx.zone);
		usleep(100);
	}
	ck_assert_uint_eq(running, 1);
	ck_assert(!compaction_wait_idle(&fx.zone, 1));
	ck_assert(compaction_wait_idle(&fx.zone, 60000));
	pthread_join(t, NULL);
	ck_assert_uint_eq(fx.zone.compacting, 0);
	/* every frame is used by its guest frame or free: nothing isolated */
	ck_assert_uint_eq(8192 - fx.zone.free_frames, fx.nr_mapped);
	ck_verify(&fx);
	fixture_destroy(&fx);
}
END_TEST

START_TEST(test_suitable)
{
	struct fixture fx;

	/* a free block of the order exists: nothing to do */
	fixture_picture(&fx, "UUUU UUFU FFFF UUUU", 2);
	ck_assert_int_eq(compaction_suitable(&fx.c, 2), COMPACT_SUCCESS);
	/* order 3 needs 16 free frames (compact_gap) and there are 5 */
	ck_assert_int_eq(compaction_suitable(&fx.c, 3), COMPACT_SKIPPED);
	ck_assert_int_eq(compact_zone(&fx.c, COMPACT_DIRECT, 3, 0, NULL), COMPACT_SKIPPED);
	fixture_destroy(&fx);

	/* 512 free frames in 64 blocks of 8 (half of order-4 blocks free):
	 * fragindex at order 6 = 1000 - (1000 + 512000/64) / 64 = 860 */
	{
		char pic[1025];

		for (int i = 0; i < 1024; i++)
			pic[i] = (i / 8) % 2 ? 'U' : 'F';
		pic[1024] = '\0';
		fixture_picture(&fx, pic, 4);
	}
	ck_assert_int_eq(compaction_suitable(&fx.c, 6), COMPACT_CONTINUE);
	fx.c.extfrag_threshold = 860;
	ck_assert_int_eq(compaction_suitable(&fx.c, 6), COMPACT_NOT_SUITABLE_ZONE);
	fx.c.extfrag_threshold = 859;
	ck_assert_int_eq(compaction_suitable(&fx.c, 6), COMPACT_CONTINUE);
	/* costly orders only: order 3 ignores the threshold */
	fx.c.extfrag_threshold = 1000;
	ck_assert_int_eq(compaction_suitable(&fx.c, 3), COMPACT_SUCCESS);
	fixture_destroy(&fx);
}
END_TEST

START_TEST(test_alloc_direct_counters)
{
	struct fixture fx;
	uint64_t stall_ns;
	uint32_t pfn;

	build_targeted(&fx);
	ck_assert_int_eq(compact_alloc_direct(&fx.c, 9, MIGRATE_MOVABLE, &pfn, NULL, &stall_ns), 0);
	ck_assert_uint_eq(pfn, 0);
	ck_assert_uint_gt(stall_ns, 0);
	ck_assert_uint_eq(fx.zone.events[COMPACTSTALL], 1);
	ck_assert_uint_eq(fx.zone.events[COMPACTSUCCESS], 1);
	ck_assert_uint_eq(fx.zone.events[COMPACTFAIL], 0);
	/* no stall when a block is free already */
	ck_assert_int_eq(buddy_free(&fx.zone, pfn, 9), 0);
	ck_assert_int_eq(compact_alloc_direct(&fx.c, 9, MIGRATE_MOVABLE, &pfn, NULL, &stall_ns), 0);
	ck_assert_uint_eq(stall_ns, 0);
	ck_assert_uint_eq(fx.zone.events[COMPACTSTALL], 1);
	fixture_destroy(&fx);

	/* every block holds a pinned frame: compaction runs, allocation fails */
	{
		char pic[2049];

		for (int i = 0; i < 2048; i++)
			pic[i] = i % 512 == 100 ? 'P' : i % 3 ? 'F' : 'U';
		pic[2048] = '\0';
		fixture_picture(&fx, pic, 9);
	}
	ck_assert_int_eq(compact_alloc_direct(&fx.c, 9, MIGRATE_MOVABLE, &pfn, NULL, NULL), -ENOMEM);
	ck_assert_uint_eq(fx.zone.events[COMPACTSTALL], 1);
	ck_assert_uint_eq(fx.zone.events[COMPACTFAIL], 1);
	ck_assert_uint_eq(fx.zone.events[COMPACTSUCCESS], 0);
	ck_verify(&fx);
	fixture_destroy(&fx);

	/* too little free memory: skipped, no stall counted */
	fixture_picture(&fx, "UUUU UUFU UUUU UUUU", 2);
	ck_assert_int_eq(compact_alloc_direct(&fx.c, 2, MIGRATE_MOVABLE, &pfn, NULL, NULL), -ENOMEM);
	ck_assert_uint_eq(fx.zone.events[COMPACTSTALL], 0);
	fixture_destroy(&fx);
}
END_TEST

/* Anyone who takes the zone lock as a run ends - the huge reserve's
 * builder, another vCPU - and takes any free pageblock. */
struct thief {
	struct zone *zone;
	unsigned int ends;	/* runs that ended */
	unsigned int stolen;	/* blocks it found free */
};

static void steal_free_block(void *arg, enum compact_phase phase, const struct compact_run *run)
{
	struct thief *t = arg;
	uint32_t pfn;

	(void)run;
	if (phase != COMPACT_RUN_END)
		return;
	t->ends++;
	if (!buddy_alloc(t->zone, 9, MIGRATE_MOVABLE, &pfn))
		t->stolen++;
}

START_TEST(test_alloc_direct_captures)
{
	struct fixture fx;
	struct thief t = { 0 };
	uint32_t pfn = PFN_NONE;

	/* the run frees block 0 and no other: the stall must yield it */
	build_targeted(&fx);
	t.zone = &fx.zone;
	fx.c.watch = steal_free_block;
	fx.c.watch_arg = &t;
	ck_assert_int_eq(compact_alloc_direct(&fx.c, 9, MIGRATE_MOVABLE, &pfn, NULL, NULL), 0);
	ck_assert_uint_eq(pfn, 0);
	ck_assert_uint_eq(t.ends, 1);
	ck_assert_uint_eq(t.stolen, 0);
	ck_assert_uint_eq(fx.zone.frames[0].state, FRAME_USED);
	ck_assert_uint_eq(fx.zone.frames[0].order, 9);
	ck_assert_uint_eq(fx.zone.events[COMPACTSTALL], 1);
	ck_assert_uint_eq(fx.zone.events[COMPACTSUCCESS], 1);
	ck_assert_uint_eq(fx.zone.events[COMPACTFAIL], 0);
	ck_assert_int_eq(buddy_free(&fx.zone, pfn, 9), 0);
	ck_verify(&fx);
	fixture_destroy(&fx);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("compaction");
	TCase *tc = tcase_create("exact");

	tcase_add_test(tc, test_picture_twoscanner);
	tcase_add_test(tc, test_turn_rechecked);
	tcase_add_test(tc, test_source_discarded_during_turn);
	tcase_add_test(tc, test_picture_pinned_stays);
	tcase_add_test(tc, test_targeted_stops_when_order_free);
	tcase_add_test(tc, test_suitable);
	tcase_add_test(tc, test_alloc_direct_counters);
	tcase_add_test(tc, test_alloc_direct_captures);
	suite_add_tcase(s, tc);
	tc = tcase_create("random");
	tcase_add_loop_test(tc, test_random_full_compaction, 0, 8);
	tcase_add_loop_test(tc, test_random_full_compaction_lockfree, 0, 4);
	tcase_add_test(tc, test_failing_mover);
	tcase_add_test(tc, test_wait_idle);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	return check_run(s);
}
