/* What the control socket's commands act on: the pool and its compaction
 * machinery, and a few operations on the VM. The socket server (server.c)
 * and the fuzz target each provide their own ops. */
#ifndef VMM_CONTROL_H
#define VMM_CONTROL_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>

#include "mm/huge_reserve.h"
#include "mm/kcompactd.h"
#include "mm/pool.h"
#include "vmm/guest_mem.h"
#include "vmm/qmp.h"

enum compact_policy {
	POLICY_TWOSCANNER,
	POLICY_MINMOVE,
};

/* One compaction asked for through the socket (or by the daemon). */
struct compact_job {
	uint64_t session_id;		/* who asked: 0 for nobody */
	struct qmp_id id;		/* the request's, to echo */
	int order;			/* -1: whole pool */
	enum compact_policy policy;
	struct compact_stats stats;
	uint64_t run_id;		/* the compactor's number for its run */
	uint64_t blocks_before, blocks_after;
	uint64_t duration_ns;
	struct compact_job *next;	/* queue link */
};

struct control;

struct control_ops {
	bool (*running)(struct control *ctl);
	void (*stop)(struct control *ctl);
	void (*cont)(struct control *ctl);
	void (*quit)(struct control *ctl);
	/* runs the job now or later; its reply goes out with control_job_reply() */
	void (*submit)(struct control *ctl, struct compact_job *job);
	/* sends an event to every negotiated session */
	void (*event)(struct control *ctl, struct json_object *event);
};

struct control {
	struct pool *pool;
	struct p2m *p2m;
	struct compactor *compactor;
	struct kcompactd *kcompactd;
	struct guest_mem *gm;		/* NULL without a guest */
	struct huge_reserve *reserve;	/* NULL without one */
	enum compact_policy policy;	/* default for compact */
	struct compact_job *running_job;	/* the command's run going on (zone lock) */
	const struct control_ops *ops;
	void *priv;
};

const char *policy_name(enum compact_policy p);
int policy_parse(const char *name, enum compact_policy *p);

/* Runs a job (taking the zone lock itself); control_watch() sends its
 * events and fills in what the reply says of the run. */
void control_run_job(struct control *ctl, struct compact_job *job);
/* The job's result as a QMP return value. */
struct json_object *control_job_result(const struct compact_job *job);

/* The compactor's watcher (arg: the control): COMPACTION_BEGIN,
 * COMPACTION_PROGRESS and COMPACTION_END for every run, whoever started
 * it (zone lock held). */
void control_watch(void *arg, enum compact_phase phase, const struct compact_run *run);

#endif
