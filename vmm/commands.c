/* The control socket's commands. Queries never change state; each takes
 * the zone lock for a consistent view. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/base64.h"
#include "mm/clock.h"
#include "mm/fragindex.h"
#include "mm/minmove.h"
#include "mm/vmstat.h"
#include "vmm/control.h"
#include "vmm/qmp.h"

const char *policy_name(enum compact_policy p)
{
	return p == POLICY_MINMOVE ? "minmove" : "twoscanner";
}

int policy_parse(const char *name, enum compact_policy *p)
{
	if (!strcmp(name, "twoscanner"))
		*p = POLICY_TWOSCANNER;
	else if (!strcmp(name, "minmove") || !strcmp(name, "minmove-max"))
		*p = POLICY_MINMOVE;
	else
		return -EINVAL;
	return 0;
}

static struct zone *zone_of(struct control *ctl)
{
	return &ctl->pool->zone;
}

/* A view printed by fn into a string member "text" of a new object. */
static struct json_object *text_view(struct control *ctl, void (*fn)(FILE *, const struct zone *))
{
	struct json_object *ret = json_object_new_object();
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);

	if (out) {
		fn(out, zone_of(ctl));
		fclose(out);
	}
	json_object_object_add(ret, "text", json_object_new_string_len(text ? text : "", (int)len));
	free(text);
	return ret;
}

static struct json_object *u64_array(const uint64_t *v, unsigned int n)
{
	struct json_object *a = json_object_new_array();

	for (unsigned int i = 0; i < n; i++)
		json_object_array_add(a, json_object_new_int64((int64_t)v[i]));
	return a;
}

static void add_int(struct json_object *o, const char *key, uint64_t v)
{
	json_object_object_add(o, key, json_object_new_int64((int64_t)v));
}

/* ---- queries ---- */

static enum qmp_outcome cmd_query_status(struct control *ctl, struct qmp_call *call)
{
	bool running = ctl->ops->running(ctl);

	call->ret = json_object_new_object();
	json_object_object_add(call->ret, "running", json_object_new_boolean(running));
	json_object_object_add(call->ret, "singlestep", json_object_new_boolean(0));
	json_object_object_add(call->ret, "status",
			       json_object_new_string(running ? "running" : "paused"));
	return QMP_DONE;
}

static enum qmp_outcome cmd_query_memory(struct control *ctl, struct qmp_call *call)
{
	struct zone *z = zone_of(ctl);
	struct json_object *r = json_object_new_object();
	/* the kernel's page tables are read without the zone lock */
	int64_t host_huge = ctl->gm ? guest_mem_host_huge_ranges(ctl->gm) : -1;

	struct zone_counts n;

	zone_lock(z);
	zone_get_counts(z, &n);
	json_object_object_add(r, "backing", json_object_new_string(pool_backing_name(ctl->pool->backing)));
	json_object_object_add(r, "allocator", json_object_new_string(zone_allocator_names[z->allocator]));
	add_int(r, "frame-size", FRAME_SIZE);
	add_int(r, "pool-frames", n.frames);
	add_int(r, "used-frames", n.frames - n.free);
	add_int(r, "free-frames", n.free);
	add_int(r, "pinned-frames", n.pinned);
	add_int(r, "huge-frames", n.huge);
	add_int(r, "huge-ranges", n.huge / PAGEBLOCK_FRAMES);
	add_int(r, "free-2m-blocks", count_free_pageblocks(z));
	add_int(r, "fragmentation-score", pool_fragmentation_score(z));
	add_int(r, "resident-bytes", (uint64_t)pool_resident_bytes(ctl->pool));
	if (ctl->gm) {
		add_int(r, "guest-frames", ctl->gm->nr_gfns);
		add_int(r, "guest-populated-frames", ctl->p2m->nr_mapped);
		add_int(r, "guest-mappings", guest_mem_mappings(ctl->gm));
		add_int(r, "max-mappings", (uint64_t)ctl->gm->map_limit);
		/* what the kernel says, not our bookkeeping */
		json_object_object_add(r, "host-huge-ranges", json_object_new_int64(host_huge));
	}
	zone_unlock(z);
	if (ctl->reserve) {
		struct huge_reserve *hr = ctl->reserve;
		struct json_object *o = json_object_new_object();

		pthread_mutex_lock(&hr->lock);
		add_int(o, "target", hr->target);
		add_int(o, "ready", hr->nr_ready);
		add_int(o, "built", hr->built);
		add_int(o, "taken", hr->taken);
		add_int(o, "missed", hr->missed);
		add_int(o, "build-failed", hr->build_failed);
		add_int(o, "queued-frees", hr->nr_punch);
		add_int(o, "deferred-frees", hr->punched);
		pthread_mutex_unlock(&hr->lock);
		json_object_object_add(r, "huge-reserve", o);
	}
	call->ret = r;
	return QMP_DONE;
}

static enum qmp_outcome cmd_query_buddyinfo(struct control *ctl, struct qmp_call *call)
{
	struct zone *z = zone_of(ctl);
	uint64_t nr_free[NR_ORDERS];

	zone_lock(z);
	call->ret = text_view(ctl, vmstat_buddyinfo);
	zone_nr_free(z, nr_free);
	zone_unlock(z);
	json_object_object_add(call->ret, "free-blocks", u64_array(nr_free, NR_ORDERS));
	return QMP_DONE;
}

static enum qmp_outcome cmd_query_pagetypeinfo(struct control *ctl, struct qmp_call *call)
{
	struct zone *z = zone_of(ctl);
	struct json_object *free = json_object_new_object(), *blocks = json_object_new_object();
	uint64_t count[MIGRATE_TYPES];

	zone_lock(z);
	call->ret = text_view(ctl, vmstat_pagetypeinfo);
	for (unsigned int t = 0; t < MIGRATE_TYPES; t++) {
		uint64_t per_order[NR_ORDERS];

		zone_nr_free_type(z, t, per_order);
		json_object_object_add(free, migratetype_names[t], u64_array(per_order, NR_ORDERS));
	}
	vmstat_pageblock_counts(z, count);
	for (unsigned int t = 0; t < MIGRATE_TYPES; t++)
		add_int(blocks, migratetype_names[t], count[t]);
	add_int(call->ret, "pageblock-order", zone_pageblock_order(z));
	zone_unlock(z);
	json_object_object_add(call->ret, "free", free);
	json_object_object_add(call->ret, "blocks", blocks);
	return QMP_DONE;
}

static enum qmp_outcome index_view(struct control *ctl, struct qmp_call *call, bool unusable)
{
	struct zone *z = zone_of(ctl);
	struct json_object *idx = json_object_new_array();
	uint64_t nr_free[NR_ORDERS];

	zone_lock(z);
	call->ret = text_view(ctl, unusable ? vmstat_unusable_index : vmstat_extfrag_index);
	zone_nr_free(z, nr_free);
	zone_unlock(z);
	for (unsigned int o = 0; o < NR_ORDERS; o++) {
		struct contig_page_info info;
		int v;

		fill_contig_page_info(nr_free, NR_ORDERS, o, &info);
		v = unusable ? unusable_free_index(o, &info) : fragmentation_index(o, &info);
		json_object_array_add(idx, json_object_new_double(v / 1000.0));
	}
	json_object_object_add(call->ret, "index", idx);
	return QMP_DONE;
}

static enum qmp_outcome cmd_query_extfrag(struct control *ctl, struct qmp_call *call)
{
	return index_view(ctl, call, false);
}

static enum qmp_outcome cmd_query_unusable(struct control *ctl, struct qmp_call *call)
{
	return index_view(ctl, call, true);
}

static enum qmp_outcome cmd_query_vmstat(struct control *ctl, struct qmp_call *call)
{
	struct zone *z = zone_of(ctl);

	zone_lock(z);
	call->ret = text_view(ctl, vmstat_events);
	for (unsigned int i = 0; i < NR_VM_EVENTS; i++)
		add_int(call->ret, vm_event_names[i], zone_event(z, i));
	zone_unlock(z);
	return QMP_DONE;
}

static enum qmp_outcome cmd_query_frame_map(struct control *ctl, struct qmp_call *call)
{
	struct zone *z = zone_of(ctl);
	struct json_object *names = json_object_new_array();
	size_t bytes = (zone_nr_frames(z) + 1) / 2;
	uint8_t *map = calloc(bytes, 1);
	char *text;

	if (!map) {
		json_object_put(names);
		qmp_set_error(call, "GenericError", "Out of memory");
		return QMP_ERROR;
	}
	zone_lock(z);
	for (uint32_t pfn = 0; pfn < zone_nr_frames(z); pfn++)
		map[pfn / 2] |= (uint8_t)(vmstat_frame_kind(z, pfn) << (pfn & 1 ? 4 : 0));
	zone_unlock(z);
	text = malloc(base64_encoded_len(bytes) + 1);
	if (text)
		base64_encode(map, bytes, text);
	free(map);
	for (unsigned int i = 0; i < NR_FRAME_KINDS; i++)
		json_object_array_add(names, json_object_new_string(frame_kind_names[i]));
	call->ret = json_object_new_object();
	add_int(call->ret, "frames", zone_nr_frames(z));
	add_int(call->ret, "pageblock-order", zone_pageblock_order(z));
	json_object_object_add(call->ret, "encoding", json_object_new_string("nibbles-base64"));
	json_object_object_add(call->ret, "states", names);
	json_object_object_add(call->ret, "map", json_object_new_string(text ? text : ""));
	free(text);
	return QMP_DONE;
}

/* ---- compaction ---- */

static void emit(struct control *ctl, const char *name, struct json_object *data)
{
	ctl->ops->event(ctl, qmp_make_event(name, data));
}

static const char *const trigger_names[] = {
	[COMPACT_BY_COMMAND] = "command",
	[COMPACT_BY_DIRECT] = "direct",
	[COMPACT_BY_DAEMON] = "daemon",
	[COMPACT_BY_PROACTIVE] = "proactive",
};

/* What every event of a run and compact's reply begin with. */
static struct json_object *run_data(uint64_t id, bool minmove, int order, enum compact_trigger trigger)
{
	struct json_object *d = json_object_new_object();

	add_int(d, "run", id);
	json_object_object_add(d, "policy", json_object_new_string(minmove ? "minmove" : "twoscanner"));
	json_object_object_add(d, "order", order < 0 ? NULL : json_object_new_int(order));
	json_object_object_add(d, "trigger", json_object_new_string(trigger_names[trigger]));
	return d;
}

static void add_counts(struct json_object *d, const struct compact_stats *st)
{
	add_int(d, "frames-moved", st->moved);
	add_int(d, "frames-failed", st->failed);
	add_int(d, "migrate-scanned", st->migrate_scanned);
	add_int(d, "free-scanned", st->free_scanned);
}

struct json_object *control_job_result(const struct compact_job *job)
{
	struct json_object *r = run_data(job->run_id, job->policy == POLICY_MINMOVE, job->order,
					 COMPACT_BY_COMMAND);

	json_object_object_add(r, "result", json_object_new_string(compact_result_name(job->stats.result)));
	add_counts(r, &job->stats);
	add_int(r, "free-2m-blocks-before", job->blocks_before);
	add_int(r, "free-2m-blocks-after", job->blocks_after);
	add_int(r, "duration-us", job->duration_ns / 1000);
	return r;
}

void control_watch(void *arg, enum compact_phase phase, const struct compact_run *run)
{
	struct control *ctl = arg;
	struct compact_job *job = run->trigger == COMPACT_BY_COMMAND ? ctl->running_job : NULL;
	/* a command's order, which min-move knows only as a target */
	struct json_object *d = run_data(run->id, run->minmove, job ? job->order : run->order,
					 run->trigger);
	uint64_t elapsed = mono_ns() - run->start_ns;

	switch (phase) {
	case COMPACT_RUN_BEGIN:
		add_int(d, "free-2m-blocks-before", run->free_blocks_before);
		emit(ctl, "COMPACTION_BEGIN", d);
		break;
	case COMPACT_RUN_PROGRESS:
		add_int(d, "percent", run->work_total ?
			(run->work_done >= run->work_total ? 99 : run->work_done * 100 / run->work_total) : 0);
		add_counts(d, run->stats);
		add_int(d, "free-2m-blocks-before", run->free_blocks_before);
		add_int(d, "free-2m-blocks", run->free_blocks);
		add_int(d, "duration-us", elapsed / 1000);
		emit(ctl, "COMPACTION_PROGRESS", d);
		break;
	case COMPACT_RUN_END:
		json_object_object_add(d, "result",
				       json_object_new_string(compact_result_name(run->stats->result)));
		add_counts(d, run->stats);
		add_int(d, "free-2m-blocks-before", run->free_blocks_before);
		add_int(d, "free-2m-blocks-after", run->free_blocks);
		add_int(d, "duration-us", elapsed / 1000);
		emit(ctl, "COMPACTION_END", d);
		if (job) {
			job->run_id = run->id;
			job->blocks_before = run->free_blocks_before;
			job->blocks_after = run->free_blocks;
			job->duration_ns = elapsed;
		}
		break;
	}
}

void control_run_job(struct control *ctl, struct compact_job *job)
{
	struct zone *z = zone_of(ctl);
	uint64_t target;

	/* the watcher tells this job's run from others by it (one at a time) */
	zone_lock(z);
	ctl->running_job = job;
	target = minmove_target_for_order(z, job->order);
	zone_unlock(z);
	if (job->policy == POLICY_MINMOVE)
		compact_minmove(ctl->compactor, target, &job->stats);
	else if (job->order < 0)
		compact_zone(ctl->compactor, COMPACT_FULL, -1, 0, &job->stats);
	else
		compact_zone(ctl->compactor, COMPACT_ORDER, job->order, 0, &job->stats);
	zone_lock(z);
	ctl->running_job = NULL;
	zone_unlock(z);
}

static enum qmp_outcome cmd_compact(struct control *ctl, struct qmp_call *call)
{
	struct compact_job *job;
	struct json_object *v;

	if (ctl->pool->backing == POOL_HUGETLB) {
		qmp_set_error(call, "GenericError",
			      "Compaction moves 4 KiB frames, which a hugetlb pool cannot map");
		return QMP_ERROR;
	}
	/* the worker runs one compaction at a time for every client */
	if (call->session->pending_replies >= QMP_MAX_PENDING) {
		qmp_set_error(call, "GenericError",
			      "Too many compactions pending for this session (at most %d): "
			      "wait for a reply before asking for more", QMP_MAX_PENDING);
		return QMP_ERROR;
	}
	job = calloc(1, sizeof(*job));
	if (!job) {
		qmp_set_error(call, "GenericError", "Out of memory");
		return QMP_ERROR;
	}
	job->order = -1;
	job->policy = ctl->policy;
	if (json_object_object_get_ex(call->args, "order", &v))
		job->order = json_object_get_int(v);
	if (json_object_object_get_ex(call->args, "policy", &v) &&
	    policy_parse(json_object_get_string(v), &job->policy)) {
		free(job);
		qmp_set_error(call, "GenericError",
			      "Parameter 'policy' expects 'twoscanner', 'minmove' or 'minmove-max'");
		return QMP_ERROR;
	}
	job->session_id = call->session->id;
	qmp_id_copy(&job->id, &call->id);
	call->session->pending_replies++;
	ctl->ops->submit(ctl, job);
	return QMP_LATER;
}

static enum qmp_outcome cmd_set_compaction(struct control *ctl, struct qmp_call *call)
{
	enum compact_policy policy = ctl->policy;
	struct json_object *v;

	/* check everything before changing anything */
	if (json_object_object_get_ex(call->args, "policy", &v) &&
	    policy_parse(json_object_get_string(v), &policy)) {
		qmp_set_error(call, "GenericError",
			      "Parameter 'policy' expects 'twoscanner', 'minmove' or 'minmove-max'");
		return QMP_ERROR;
	}
	ctl->policy = policy;
	if (json_object_object_get_ex(call->args, "proactiveness", &v))
		kcompactd_set_proactiveness(ctl->kcompactd, (unsigned int)json_object_get_int(v));
	if (json_object_object_get_ex(call->args, "extfrag_threshold", &v)) {
		zone_lock(zone_of(ctl));
		ctl->compactor->extfrag_threshold = (unsigned int)json_object_get_int(v);
		zone_unlock(zone_of(ctl));
	}
	return QMP_DONE;
}

static enum qmp_outcome cmd_query_compaction(struct control *ctl, struct qmp_call *call)
{
	struct kcompactd *kd = ctl->kcompactd;
	struct json_object *r = json_object_new_object();
	unsigned int proactiveness;

	pthread_mutex_lock(&kd->lock);
	proactiveness = kd->proactiveness;
	add_int(r, "proactiveness", proactiveness);
	add_int(r, "proactive-runs", kd->proactive_runs);
	add_int(r, "deferred", kd->deferred);
	pthread_mutex_unlock(&kd->lock);
	zone_lock(zone_of(ctl));
	add_int(r, "extfrag-threshold", ctl->compactor->extfrag_threshold);
	add_int(r, "fragmentation-score", pool_fragmentation_score(zone_of(ctl)));
	zone_unlock(zone_of(ctl));
	add_int(r, "wmark-low", fragmentation_score_wmark(proactiveness, 1));
	add_int(r, "wmark-high", fragmentation_score_wmark(proactiveness, 0));
	json_object_object_add(r, "policy", json_object_new_string(policy_name(ctl->policy)));
	call->ret = r;
	return QMP_DONE;
}

/* ---- the VM ---- */

/* stop, cont and quit: the VM's side does it; nothing to return */
static enum qmp_outcome vm_op(struct control *ctl, struct qmp_call *call,
			      void (*op)(struct control *ctl))
{
	(void)call;
	op(ctl);
	return QMP_DONE;
}

static enum qmp_outcome cmd_stop(struct control *ctl, struct qmp_call *call)
{
	return vm_op(ctl, call, ctl->ops->stop);
}

static enum qmp_outcome cmd_cont(struct control *ctl, struct qmp_call *call)
{
	return vm_op(ctl, call, ctl->ops->cont);
}

static enum qmp_outcome cmd_quit(struct control *ctl, struct qmp_call *call)
{
	return vm_op(ctl, call, ctl->ops->quit);
}

/* ---- introspection ---- */

static enum qmp_outcome cmd_query_commands(struct control *ctl, struct qmp_call *call)
{
	(void)ctl;
	call->ret = qmp_command_names();
	return QMP_DONE;
}

static enum qmp_outcome cmd_query_version(struct control *ctl, struct qmp_call *call)
{
	(void)ctl;
	call->ret = qmp_version();
	return QMP_DONE;
}

static enum qmp_outcome cmd_query_qmp_schema(struct control *ctl, struct qmp_call *call)
{
	(void)ctl;
	call->ret = qmp_schema();
	return QMP_DONE;
}

/* ---- the tables ---- */

static const char *const policies[] = { "twoscanner", "minmove", "minmove-max", NULL };
static const char *const policy_names[] = { "twoscanner", "minmove", NULL };
static const char *const triggers[] = { "command", "direct", "daemon", "proactive", NULL };
static const char *const run_states[] = { "running", "paused", NULL };
static const char *const shutdown_reasons[] = {
	"host-error", "host-qmp-quit", "host-signal", "guest-shutdown", "guest-panic", NULL,
};

#define INT(n)		{ n, QMP_INT, false, 0, 0, NULL }
#define INT_OPT(n)	{ n, QMP_INT, true, 0, 0, NULL }
#define STR(n)		{ n, QMP_STR, false, 0, 0, NULL }
#define MEMBER(n, t)	{ n, t, false, 0, 0, NULL }
#define END		{ NULL, QMP_INT, false, 0, 0, NULL }

static const struct qmp_member status_ret[] = {
	MEMBER("running", QMP_BOOL), MEMBER("singlestep", QMP_BOOL),
	{ "status", QMP_STR, false, 0, 0, run_states }, END,
};

static const struct qmp_member memory_ret[] = {
	STR("backing"), STR("allocator"), INT("frame-size"), INT("pool-frames"), INT("used-frames"),
	INT("free-frames"), INT("pinned-frames"), INT("huge-frames"), INT("huge-ranges"), INT("free-2m-blocks"),
	INT("fragmentation-score"), INT("resident-bytes"),
	/* with a guest */
	INT_OPT("guest-frames"), INT_OPT("guest-populated-frames"), INT_OPT("guest-mappings"),
	INT_OPT("max-mappings"), INT_OPT("host-huge-ranges"),
	/* with a huge reserve */
	{ "huge-reserve", QMP_ANY, true, 0, 0, NULL }, END,
};

static const struct qmp_member buddyinfo_ret[] = {
	STR("text"), MEMBER("free-blocks", QMP_INT_LIST), END,
};

static const struct qmp_member pagetypeinfo_ret[] = {
	STR("text"), INT("pageblock-order"), MEMBER("free", QMP_ANY), MEMBER("blocks", QMP_ANY), END,
};

static const struct qmp_member index_ret[] = {
	STR("text"), MEMBER("index", QMP_NUMBER_LIST), END,
};

/* text, then one integer per counter: filled from vm_event_names */
static struct qmp_member vmstat_ret[1 + NR_VM_EVENTS + 1];

__attribute__((constructor)) static void vmstat_ret_init(void)
{
	vmstat_ret[0] = (struct qmp_member)STR("text");
	for (unsigned int i = 0; i < NR_VM_EVENTS; i++)
		vmstat_ret[1 + i] = (struct qmp_member)INT(vm_event_names[i]);
}

static const struct qmp_member frame_map_ret[] = {
	INT("frames"), INT("pageblock-order"), STR("encoding"), MEMBER("states", QMP_STR_LIST),
	STR("map"), END,
};

/* what a compaction run is: its events and compact's return */
#define RUN_MEMBERS \
	INT("run"), \
	{ "policy", QMP_STR, false, 0, 0, policy_names }, \
	MEMBER("order", QMP_INT_OR_NULL), \
	{ "trigger", QMP_STR, false, 0, 0, triggers }
#define RUN_COUNTS \
	INT("frames-moved"), INT("frames-failed"), INT("migrate-scanned"), INT("free-scanned")

static const struct qmp_member compaction_begin[] = { RUN_MEMBERS, INT("free-2m-blocks-before"), END };
static const struct qmp_member compaction_progress[] = {
	RUN_MEMBERS, INT("percent"), RUN_COUNTS, INT("free-2m-blocks-before"), INT("free-2m-blocks"), INT("duration-us"), END,
};
static const struct qmp_member compaction_end[] = {
	RUN_MEMBERS, STR("result"), RUN_COUNTS, INT("free-2m-blocks-before"), INT("free-2m-blocks-after"),
	INT("duration-us"), END,
};

static const struct qmp_member compaction_ret[] = {
	INT("proactiveness"), INT("proactive-runs"), INT("deferred"), INT("extfrag-threshold"),
	INT("fragmentation-score"), INT("wmark-low"), INT("wmark-high"),
	{ "policy", QMP_STR, false, 0, 0, policy_names }, END,
};

static const struct qmp_member version_ret[] = { MEMBER("qemu", QMP_ANY), STR("package"), END };
static const struct qmp_member command_info[] = { STR("name"), END };
/* SchemaInfo: these two, then members that depend on the meta-type */
static const struct qmp_member schema_info[] = { STR("name"), STR("meta-type"), END };

static const struct qmp_member shutdown_data[] = {
	MEMBER("guest", QMP_BOOL), { "reason", QMP_STR, false, 0, 0, shutdown_reasons }, END,
};

const struct qmp_command qmp_commands[] = {
	/* answered by the session itself (vmm/qmp.c): here for the schema */
	{ "qmp_capabilities", NULL, { { "enable", QMP_STR_LIST, true, 0, 0, NULL }, END }, NULL, false },
	{ "query-commands", cmd_query_commands, { END }, command_info, true },
	{ "query-version", cmd_query_version, { END }, version_ret, false },
	{ "query-qmp-schema", cmd_query_qmp_schema, { END }, schema_info, true },
	{ "query-status", cmd_query_status, { END }, status_ret, false },
	{ "query-memory", cmd_query_memory, { END }, memory_ret, false },
	{ "query-buddyinfo", cmd_query_buddyinfo, { END }, buddyinfo_ret, false },
	{ "query-pagetypeinfo", cmd_query_pagetypeinfo, { END }, pagetypeinfo_ret, false },
	{ "query-extfrag", cmd_query_extfrag, { END }, index_ret, false },
	{ "query-unusable", cmd_query_unusable, { END }, index_ret, false },
	{ "query-vmstat", cmd_query_vmstat, { END }, vmstat_ret, false },
	{ "query-frame-map", cmd_query_frame_map, { END }, frame_map_ret, false },
	{ "query-compaction", cmd_query_compaction, { END }, compaction_ret, false },
	{ "compact", cmd_compact, {
		{ "order", QMP_INT, true, 0, MAX_ORDER, NULL },
		{ "policy", QMP_STR, true, 0, 0, policies },
		END }, compaction_end, false },
	{ "set-compaction", cmd_set_compaction, {
		{ "proactiveness", QMP_INT, true, 0, 100, NULL },
		{ "extfrag_threshold", QMP_INT, true, 0, 1000, NULL },
		{ "policy", QMP_STR, true, 0, 0, policies },
		END }, NULL, false },
	{ "stop", cmd_stop, { END }, NULL, false },
	{ "cont", cmd_cont, { END }, NULL, false },
	{ "quit", cmd_quit, { END }, NULL, false },
	{ NULL, NULL, { END }, NULL, false },
};

const struct qmp_event qmp_events[] = {
	{ "COMPACTION_BEGIN", compaction_begin },
	{ "COMPACTION_PROGRESS", compaction_progress },
	{ "COMPACTION_END", compaction_end },
	{ "STOP", NULL },
	{ "RESUME", NULL },
	{ "SHUTDOWN", shutdown_data },
	{ NULL, NULL },
};
