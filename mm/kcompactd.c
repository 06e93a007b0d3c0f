/* The background compaction thread, after kcompactd() in mm/compaction.c. */
#include <errno.h>
#include <time.h>

#include "lib/thread.h"
#include "mm/clock.h"
#include "mm/fragindex.h"
#include "mm/kcompactd.h"

unsigned int pool_fragmentation_score(const struct zone *z)
{
	uint64_t nr_free[NR_ORDERS];

	zone_nr_free(z, nr_free);
	return fragmentation_score(nr_free, NR_ORDERS, z->nr_frames);
}

void kcompactd_init(struct kcompactd *kd, struct compactor *c)
{
	pthread_condattr_t attr;

	kd->c = c;
	kd->running = kd->stop = false;
	kd->wake_order = -1;
	kd->kick = false;
	kd->proactiveness = PROACTIVENESS_DEFAULT;
	kd->interval_ms = HPAGE_FRAG_CHECK_INTERVAL_MSEC;
	kd->proactive_runs = kd->deferred = 0;
	pthread_mutex_init(&kd->lock, NULL);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&kd->wait, &attr);
	pthread_condattr_destroy(&attr);
}

static void run(struct kcompactd *kd, enum compact_mode mode, int order, unsigned int wmark_low)
{
	struct compact_stats st;

	compact_zone(kd->c, mode, order, wmark_low, &st);
}

/* kcompactd_do_work(): compact for the order a failed allocation wanted. */
static void do_work(struct kcompactd *kd, unsigned int order)
{
	struct zone *z = kd->c->zone;
	enum compact_result suitable;

	zone_lock(z);
	z->events[KCOMPACTD_WAKE]++;
	suitable = compaction_suitable(kd->c, order);
	zone_unlock(z);
	if (suitable == COMPACT_CONTINUE)
		run(kd, COMPACT_DAEMON, (int)order, 0);
}

/* One proactive round; returns false when it made no progress. */
static bool proactive_round(struct kcompactd *kd, unsigned int proactiveness)
{
	struct zone *z = kd->c->zone;
	unsigned int prev, score;

	zone_lock(z);
	prev = pool_fragmentation_score(z);
	zone_unlock(z);
	if (!proactiveness || prev <= fragmentation_score_wmark(proactiveness, 0))
		return true;
	run(kd, COMPACT_PROACTIVE, -1, fragmentation_score_wmark(proactiveness, 1));
	zone_lock(z);
	score = pool_fragmentation_score(z);
	zone_unlock(z);
	pthread_mutex_lock(&kd->lock);
	kd->proactive_runs++;
	pthread_mutex_unlock(&kd->lock);
	return score < prev;
}

static void *kcompactd_thread(void *arg)
{
	struct kcompactd *kd = arg;
	unsigned int timeout_ms = kd->interval_ms;

	pthread_mutex_lock(&kd->lock);
	while (!kd->stop) {
		struct timespec deadline;
		unsigned int proactiveness;
		int err = 0;

		clock_gettime(CLOCK_MONOTONIC, &deadline);
		deadline.tv_sec += timeout_ms / 1000;
		deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
		if (deadline.tv_nsec >= 1000000000L) {
			deadline.tv_sec++;
			deadline.tv_nsec -= 1000000000L;
		}
		while (!kd->stop && !kd->kick && kd->wake_order < 0 && err != ETIMEDOUT)
			err = pthread_cond_timedwait(&kd->wait, &kd->lock, &deadline);
		if (kd->stop)
			break;
		kd->kick = false;
		timeout_ms = kd->interval_ms;
		if (kd->wake_order >= 0) {
			unsigned int order = (unsigned int)kd->wake_order;

			kd->wake_order = -1;
			pthread_mutex_unlock(&kd->lock);
			do_work(kd, order);
			pthread_mutex_lock(&kd->lock);
			continue;
		}
		proactiveness = kd->proactiveness;
		pthread_mutex_unlock(&kd->lock);
		if (!proactive_round(kd, proactiveness)) {
			/* no progress: back off, as kcompactd defers */
			timeout_ms = kd->interval_ms << COMPACT_MAX_DEFER_SHIFT;
			pthread_mutex_lock(&kd->lock);
			kd->deferred++;
			continue;
		}
		pthread_mutex_lock(&kd->lock);
	}
	pthread_mutex_unlock(&kd->lock);
	return NULL;
}

int kcompactd_start(struct kcompactd *kd)
{
	int err;

	if (kd->running)
		return -EALREADY;
	kd->stop = false;
	kd->c->aborting = false;
	err = pthread_create(&kd->thread, NULL, kcompactd_thread, kd);
	if (err)
		return -err;
	kd->running = true;
	return 0;
}

void kcompactd_stop(struct kcompactd *kd)
{
	if (!kd->running)
		return;
	kd->c->aborting = true;	/* a run in progress ends at its next batch */
	thread_stop(kd->thread, &kd->lock, &kd->wait, &kd->stop);
	kd->running = false;
}

void kcompactd_wakeup(struct kcompactd *kd, unsigned int order)
{
	pthread_mutex_lock(&kd->lock);
	if (kd->wake_order < (int)order)
		kd->wake_order = (int)order;
	pthread_cond_signal(&kd->wait);
	pthread_mutex_unlock(&kd->lock);
}

void kcompactd_set_proactiveness(struct kcompactd *kd, unsigned int proactiveness)
{
	pthread_mutex_lock(&kd->lock);
	kd->proactiveness = proactiveness > 100 ? 100 : proactiveness;
	/* a change is looked at now, not at the end of a back-off */
	kd->kick = true;
	pthread_cond_signal(&kd->wait);
	pthread_mutex_unlock(&kd->lock);
}
