/* A control backend without KVM, for the QMP unit tests and the fuzz
 * target: a fragmented 32 MiB pool, a compactor with a mover that copies
 * bytes, compaction jobs run at once (or when the test says), events and
 * output captured. */
#ifndef TESTS_CONTROL_FAKE_H
#define TESTS_CONTROL_FAKE_H

#include <stddef.h>
#include <stdint.h>

#include "vmm/control.h"
#include "vmm/qmp.h"

struct fake {
	struct pool pool;
	struct p2m p2m;
	struct compactor compactor;
	struct kcompactd kcompactd;
	struct control ctl;
	struct qmp_session session;
	char *out;			/* everything sent to the client */
	size_t out_len, out_cap;
	int running, quit;
	int defer_jobs;			/* queue compactions until fake_run_jobs() */
	struct compact_job *jobs;
};

void fake_init(struct fake *f);
/* The same over a pool prepared by a scenario (mm/scenario.c), or left
 * all free when scenario is NULL. */
void fake_init_scenario(struct fake *f, const char *scenario);
/* The same with a pool of nr_frames (8192 above). */
void fake_init_pool(struct fake *f, const char *scenario, uint32_t nr_frames);
/* Runs the deferred compactions, in order, replying to each. */
void fake_run_jobs(struct fake *f);
void fake_destroy(struct fake *f);
/* A new session on the same backend (greeting sent), output cleared. */
void fake_new_session(struct fake *f);
/* Feeds text; returns what the session sent back (owned by f). */
const char *fake_talk(struct fake *f, const char *text);

#endif
