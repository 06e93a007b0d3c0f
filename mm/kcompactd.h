/* kcompactd: the background compaction thread. Every 500 ms it checks the
 * pool's fragmentation score against the watermarks that proactiveness
 * sets and compacts until the score is back under the low one (proactive
 * compaction); when a run makes no progress it backs off 64 times longer.
 * kcompactd_wakeup() asks it to compact for an order now, as the kernel
 * does after a failed high-order allocation. */
#ifndef MM_KCOMPACTD_H
#define MM_KCOMPACTD_H

#include <pthread.h>
#include <stdbool.h>

#include "mm/compaction.h"

#define HPAGE_FRAG_CHECK_INTERVAL_MSEC	500
#define COMPACT_MAX_DEFER_SHIFT		6
#define PROACTIVENESS_DEFAULT		20

struct kcompactd {
	struct compactor *c;
	pthread_t thread;
	pthread_mutex_t lock;		/* protects the fields below */
	pthread_cond_t wait;
	bool running;
	bool stop;
	int wake_order;			/* -1: no wake-up pending */
	bool kick;			/* settings changed: check now */
	unsigned int proactiveness;	/* 0..100, 0 = no proactive compaction */
	unsigned int interval_ms;
	uint64_t proactive_runs;	/* proactive compactions done */
	uint64_t deferred;		/* rounds that backed off */
};

void kcompactd_init(struct kcompactd *kd, struct compactor *c);
int kcompactd_start(struct kcompactd *kd);
/* Stops the thread, ending a run in progress at its next batch: sets the
 * compactor's aborting flag, which ends other runs too (kcompactd_start clears it). */
void kcompactd_stop(struct kcompactd *kd);
void kcompactd_wakeup(struct kcompactd *kd, unsigned int order);
void kcompactd_set_proactiveness(struct kcompactd *kd, unsigned int proactiveness);

/* The pool's fragmentation score (fragmentation_score_node()). Caller
 * holds the zone lock. */
unsigned int pool_fragmentation_score(const struct zone *z);

#endif
