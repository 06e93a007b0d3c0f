/* The background thread: starts and stops cleanly, compacts a fragmented
 * pool below its low watermark, answers wake-ups, and runs beside another
 * thread allocating and freeing. */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "mm/fragindex.h"
#include "mm/kcompactd.h"
#include "tests/check_run.h"
#include "tests/compact_fixture.h"

static unsigned int score(struct fixture *fx)
{
	unsigned int s;

	zone_lock(&fx->zone);
	s = pool_fragmentation_score(&fx->zone);
	zone_unlock(&fx->zone);
	return s;
}

static uint64_t free_blocks(struct fixture *fx)
{
	uint64_t n;

	zone_lock(&fx->zone);
	n = count_free_pageblocks(&fx->zone);
	zone_unlock(&fx->zone);
	return n;
}

static uint64_t proactive_runs(struct kcompactd *kd)
{
	uint64_t n;

	pthread_mutex_lock(&kd->lock);
	n = kd->proactive_runs;
	pthread_mutex_unlock(&kd->lock);
	return n;
}

/* Waits up to ms for cond, polling. */
#define wait_for(cond, ms) do { \
	for (int t_ = 0; t_ < (ms) / 10 && !(cond); t_++) \
		usleep(10000); \
} while (0)

START_TEST(test_start_stop_idle)
{
	struct fixture fx;
	struct kcompactd kd;

	fixture_picture(&fx, "UUUU FFFF", 2);
	kcompactd_init(&kd, &fx.c);
	kd.interval_ms = 10;
	ck_assert_int_eq(kcompactd_start(&kd), 0);
	ck_assert_int_eq(kcompactd_start(&kd), -EALREADY);
	usleep(50000);
	kcompactd_stop(&kd);
	kcompactd_stop(&kd);		/* twice is harmless */
	ck_assert_uint_eq(kd.proactive_runs, 0);
	ck_assert_uint_eq(fx.zone.events[PGMIGRATE_SUCCESS], 0);
	fixture_destroy(&fx);
}
END_TEST

START_TEST(test_proactive_compacts_below_low_watermark)
{
	struct fixture fx;
	struct kcompactd kd;
	uint64_t nr_free[NR_ORDERS];
	unsigned int before;

	fixture_random(&fx, 16384, 9, 50, 0, 3);
	before = score(&fx);
	ck_assert_uint_gt(before, fragmentation_score_wmark(20, 0));
	kcompactd_init(&kd, &fx.c);
	kd.interval_ms = 10;
	ck_assert_int_eq(kcompactd_start(&kd), 0);
	wait_for(proactive_runs(&kd) > 0 && score(&fx) <= fragmentation_score_wmark(20, 1), 5000);
	kcompactd_stop(&kd);
	ck_assert_uint_ge(kd.proactive_runs, 1);
	/* the run stops once the zone's score is at the low watermark */
	buddy_nr_free(&fx.zone, nr_free);
	ck_assert_uint_le(extfrag_for_order(nr_free, NR_ORDERS, 9), fragmentation_score_wmark(20, 1));
	ck_assert_uint_gt(fx.zone.events[KCOMPACTD_MIGRATE_SCANNED], 0);
	ck_assert_uint_eq(fx.zone.events[KCOMPACTD_MIGRATE_SCANNED],
			  fx.zone.events[COMPACTMIGRATE_SCANNED]);
	ck_assert_uint_eq(fx.zone.events[KCOMPACTD_WAKE], 0);
	ck_verify(&fx);
	fixture_destroy(&fx);
}
END_TEST

START_TEST(test_proactiveness_zero_is_off)
{
	struct fixture fx;
	struct kcompactd kd;

	fixture_random(&fx, 8192, 9, 50, 0, 4);
	kcompactd_init(&kd, &fx.c);
	kd.interval_ms = 10;
	kcompactd_set_proactiveness(&kd, 0);
	ck_assert_int_eq(kcompactd_start(&kd), 0);
	usleep(100000);
	kcompactd_stop(&kd);
	ck_assert_uint_eq(kd.proactive_runs, 0);
	ck_assert_uint_eq(fx.zone.events[PGMIGRATE_SUCCESS], 0);
	fixture_destroy(&fx);
}
END_TEST

START_TEST(test_wakeup)
{
	struct fixture fx;
	struct kcompactd kd;

	fixture_random(&fx, 8192, 9, 50, 0, 5);
	ck_assert_uint_eq(count_free_pageblocks(&fx.zone), 0);
	kcompactd_init(&kd, &fx.c);
	kcompactd_set_proactiveness(&kd, 0);
	ck_assert_int_eq(kcompactd_start(&kd), 0);
	kcompactd_wakeup(&kd, 9);
	wait_for(free_blocks(&fx) > 0, 5000);
	kcompactd_stop(&kd);
	ck_assert_uint_eq(fx.zone.events[KCOMPACTD_WAKE], 1);
	ck_assert_uint_ge(count_free_pageblocks(&fx.zone), 1);
	ck_verify(&fx);
	fixture_destroy(&fx);
}
END_TEST

struct churn {
	struct fixture *fx;
	_Atomic int stop;
	unsigned long ops;
};

/* Allocates and frees unmovable frames under the zone lock. */
static void *churn_thread(void *arg)
{
	struct churn *ch = arg;
	uint32_t held[64];
	unsigned int n = 0;

	while (!ch->stop) {
		zone_lock(&ch->fx->zone);
		if (n < 64 && rand() % 2) {
			if (!buddy_alloc(&ch->fx->zone, 0, MIGRATE_UNMOVABLE, &held[n]))
				n++;
		} else if (n) {
			ck_assert_int_eq(buddy_free(&ch->fx->zone, held[--n], 0), 0);
		}
		zone_unlock(&ch->fx->zone);
		ch->ops++;
	}
	zone_lock(&ch->fx->zone);
	while (n)
		buddy_free(&ch->fx->zone, held[--n], 0);
	zone_unlock(&ch->fx->zone);
	return NULL;
}

START_TEST(test_beside_allocations)
{
	struct fixture fx;
	struct kcompactd kd;
	struct churn ch = { &fx, 0, 0 };
	pthread_t t;
	uint32_t used;

	fixture_random(&fx, 16384, 9, 50, 10, 6);
	used = fx.zone.nr_frames - (uint32_t)fx.zone.free_frames;
	kcompactd_init(&kd, &fx.c);
	kd.interval_ms = 5;
	kcompactd_set_proactiveness(&kd, 100);
	ck_assert_int_eq(pthread_create(&t, NULL, churn_thread, &ch), 0);
	ck_assert_int_eq(kcompactd_start(&kd), 0);
	for (int i = 0; i < 20; i++) {
		kcompactd_wakeup(&kd, 9);
		usleep(10000);
	}
	kcompactd_stop(&kd);
	ch.stop = 1;
	pthread_join(t, NULL);
	ck_assert_uint_gt(ch.ops, 0);
	ck_assert_uint_eq(fx.zone.nr_frames - fx.zone.free_frames, used);
	ck_verify(&fx);
	fixture_destroy(&fx);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("kcompactd");
	TCase *tc = tcase_create("kcompactd");

	tcase_add_test(tc, test_start_stop_idle);
	tcase_add_test(tc, test_proactive_compacts_below_low_watermark);
	tcase_add_test(tc, test_proactiveness_zero_is_off);
	tcase_add_test(tc, test_wakeup);
	tcase_add_test(tc, test_beside_allocations);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	return check_run(s);
}
