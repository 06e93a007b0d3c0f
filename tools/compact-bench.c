/* compact-bench: every scenario (or a trace) under every compaction
 * policy, each on its own copy of the same starting pool, with a mover
 * that does nothing: what it measures is the policies themselves - frames
 * moved against the lower bound, free 2 MiB blocks won, frames scanned,
 * and the engine's own time - on the buddy and on the lock-free allocator
 * (the same layout: every used frame at the same place, as the same type,
 * chunks of the pageblocks' kinds). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/cli.h"
#include "mm/lf_compact.h"
#include "mm/minmove.h"
#include "mm/scenario.h"

struct state {
	struct zone zone;
	struct p2m p2m;
};

struct row {
	const char *scenario, *allocator, *policy;
	uint64_t frames, used, before, after, moved, bound, mscan, fscan;
	double wall_ms;
};

static void null_mover(void *arg, struct migration *batch, unsigned int nr)
{
	(void)arg;
	for (unsigned int i = 0; i < nr; i++)
		batch[i].result = 0;
}

static double now_ms(void)
{
	return mono_ns() / 1e6;
}

static void die(const char *what, const char *why)
{
	fprintf(stderr, "compact-bench: %s: %s\n", what, why);
	exit(1);
}

static void build(struct state *st, uint32_t frames, const char *scenario, const char *trace,
		  uint64_t seed, const char *write_trace)
{
	struct scenario sc;
	char err[256];
	int rc;

	if (buddy_init(&st->zone, frames))
		die("--frames", "must be a multiple of 512, at least 512");
	if (p2m_init(&st->p2m, &st->zone, frames) || scenario_init(&sc, &st->zone, &st->p2m))
		die("setup", strerror(ENOMEM));
	if (write_trace) {
		sc.trace = fopen(write_trace, "w");
		if (!sc.trace)
			die(write_trace, strerror(errno));
	}
	if (trace) {
		FILE *in = fopen(trace, "r");

		if (!in)
			die(trace, strerror(errno));
		if (scenario_replay(&sc, in, trace, err, sizeof(err)))
			die("trace", err);
		fclose(in);
	} else {
		rc = scenario_generate(&sc, scenario, seed);
		if (rc)
			die(scenario, rc == -EINVAL ? "unknown scenario" : strerror(-rc));
	}
	if (sc.trace && fclose(sc.trace))
		die(write_trace, strerror(errno));
	if (sc.skipped)
		fprintf(stderr, "compact-bench: %s: %lu allocations could not be satisfied and were skipped\n",
			trace ? trace : scenario, (unsigned long)sc.skipped);
	scenario_destroy(&sc);
}

static void run_policy(const struct state *start, const char *scenario, const char *policy,
		       uint64_t target, struct row *row)
{
	struct state st;
	struct compactor c;
	struct compact_stats stats;
	double t0;

	if (buddy_clone(&st.zone, &start->zone) || p2m_clone(&st.p2m, &start->p2m, &st.zone))
		die("copy", strerror(ENOMEM));
	compactor_init(&c, &st.zone, &st.p2m, null_mover, NULL);
	row->scenario = scenario;
	row->allocator = "buddy";
	row->policy = policy;
	row->frames = zone_nr_frames(&st.zone);
	row->used = zone_nr_frames(&st.zone) - zone_free_frames(&st.zone);
	row->before = count_free_pageblocks(&st.zone);
	t0 = now_ms();
	if (!strcmp(policy, "twoscanner"))
		compact_zone(&c, COMPACT_FULL, -1, 0, &stats);
	else
		compact_minmove(&c, target, &stats);
	row->wall_ms = now_ms() - t0;
	row->after = count_free_pageblocks(&st.zone);
	row->moved = stats.moved;
	row->mscan = stats.migrate_scanned;
	row->fscan = stats.free_scanned;
	row->bound = compact_lower_bound(&start->zone, row->after);
	p2m_destroy(&st.p2m);
	buddy_destroy(&st.zone);
}

/* ---- the same layout on the lock-free allocator ---- */

struct lf_state {
	struct lf_pool pool;
	uint8_t *movable;	/* per frame: what the buddy's compaction could move */
};

/* Every used frame of the buddy's pool at the same place in a lock-free
 * pool; in each chunk the frames of its pageblock's kind first, so the
 * chunk takes that kind, as the pageblock has it. */
static void lf_build(struct lf_state *lf, const struct zone *z)
{
	uint32_t frames = zone_nr_frames(z);

	if (lf_init(&lf->pool, frames) || !(lf->movable = calloc(frames, 1)))
		die("lock-free pool", strerror(ENOMEM));
	for (uint32_t c = 0; c < frames / LF_CHUNK_FRAMES; c++) {
		bool pb_movable = pageblock_migratetype(z, c * LF_CHUNK_FRAMES) == MIGRATE_MOVABLE;

		for (int pass = 0; pass < 2; pass++) {
			for (uint32_t pfn = c * LF_CHUNK_FRAMES; pfn < (c + 1) * LF_CHUNK_FRAMES; pfn++) {
				const struct frame *f = &z->frames[pfn];

				if (f->state != FRAME_USED || ((f->mt == MIGRATE_MOVABLE) == pb_movable) == pass)
					continue;
				if (lf_alloc_at(&lf->pool, pfn, (enum migratetype)f->mt))
					die("lock-free pool", "cannot take a frame the buddy has used");
				lf->movable[pfn] = frame_is_movable(f);
			}
		}
	}
}

static void lf_free_state(struct lf_state *lf)
{
	lf_destroy(&lf->pool);
	free(lf->movable);
}

/* The mover that does nothing, but refuses what the buddy would not move. */
static int lf_null_migrate(void *arg, uint32_t src, uint32_t dst)
{
	uint8_t *movable = arg;

	if (!movable[src])
		return -EBUSY;
	movable[src] = 0;
	movable[dst] = 1;
	return 0;
}

static void run_lf_policy(const struct zone *start, const char *scenario, const char *policy,
			  uint64_t target, struct row *row)
{
	struct lf_compact_stats st;
	struct lf_state lf;
	uint64_t bound_k;

	lf_build(&lf, start);
	row->scenario = scenario;
	row->allocator = "lockfree";
	row->policy = policy;
	row->frames = lf.pool.nr_frames;
	row->used = lf.pool.nr_frames - lf_free_frames(&lf.pool);
	if (!strcmp(policy, "twoscanner"))
		lf_compact_scanners(&lf.pool, lf_null_migrate, lf.movable, &st);
	else
		lf_compact_minmove(&lf.pool, target, lf_null_migrate, lf.movable, &st);
	row->before = st.free_chunks_before;
	row->after = st.free_chunks_after;
	row->moved = st.moved;
	row->mscan = st.scanned;
	row->fscan = 0;		/* the free side takes frames by their counters */
	row->wall_ms = st.ns / 1e6;
	bound_k = row->after;
	lf_free_state(&lf);
	lf_build(&lf, start);
	row->bound = lf_compact_lower_bound(&lf.pool, bound_k);
	lf_free_state(&lf);
}

static void print_row(const struct row *r, int csv)
{
	if (csv) {
		printf("%s,%s,%s,%lu,%lu,%lu,%lu,%lu,%lu,%lu,%lu,%.1f\n", r->scenario, r->allocator, r->policy,
		       (unsigned long)r->frames, (unsigned long)r->used, (unsigned long)r->before,
		       (unsigned long)r->after, (unsigned long)r->moved, (unsigned long)r->bound,
		       (unsigned long)r->mscan, (unsigned long)r->fscan, r->wall_ms);
		return;
	}
	printf("%-12s %-9s %-12s %8lu %8lu %7lu %7lu %9lu %9lu %6.3f %10lu %10lu %9.1f\n",
	       r->scenario, r->allocator, r->policy, (unsigned long)r->frames, (unsigned long)r->used,
	       (unsigned long)r->before, (unsigned long)r->after, (unsigned long)r->moved,
	       (unsigned long)r->bound, r->bound ? (double)r->moved / r->bound : 0.0,
	       (unsigned long)r->mscan, (unsigned long)r->fscan, r->wall_ms);
}

static void bench(const char *name, const struct state *start, int csv, bool buddy, bool lockfree)
{
	struct row two, mm, mmax;

	if (buddy) {
		run_policy(start, name, "twoscanner", 0, &two);
		print_row(&two, csv);
		run_policy(start, name, "minmove", two.after, &mm);
		print_row(&mm, csv);
		run_policy(start, name, "minmove-max", MINMOVE_MAX, &mmax);
		print_row(&mmax, csv);
		if (!csv)
			printf("%-12s twoscanner engine cost: %.1f ns per frame scanned\n", name,
			       two.mscan + two.fscan ? two.wall_ms * 1e6 / (double)(two.mscan + two.fscan) : 0.0);
	}
	if (lockfree) {
		run_lf_policy(&start->zone, name, "twoscanner", 0, &two);
		print_row(&two, csv);
		run_lf_policy(&start->zone, name, "minmove", two.after, &mm);
		print_row(&mm, csv);
		run_lf_policy(&start->zone, name, "minmove-max", UINT64_MAX, &mmax);
		print_row(&mmax, csv);
	}
	fflush(stdout);
}

static void usage(FILE *out)
{
	fprintf(out,
		"usage: compact-bench [--scenario NAME|all] [--trace FILE] [--frames N] [--seed S]\n"
		"                     [--allocator buddy|lockfree|all] [--csv] [--write-trace FILE]\n"
		"Scenarios: alternating, random, aged (default: all). Policies: twoscanner\n"
		"(Linux's two scanners, full compaction), minmove (fewest moves for the\n"
		"twoscanner's free-block count), minmove-max (as many free blocks as it can).\n"
		"--write-trace FILE writes the scenario's operations as a trace (one scenario).\n"
		"--allocator: the policies on the buddy, on the lock-free allocator (the same\n"
		"layout, its compaction on bitfields: mm/lf_compact.c), or both (default).\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "scenario", required_argument, NULL, 's' },
		{ "trace", required_argument, NULL, 't' },
		{ "frames", required_argument, NULL, 'n' },
		{ "seed", required_argument, NULL, 'S' },
		{ "csv", no_argument, NULL, 'c' },
		{ "write-trace", required_argument, NULL, 'w' },
		{ "allocator", required_argument, NULL, 'a' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *scenario = "all", *trace = NULL, *write_trace = NULL;
	unsigned long frames = 1048576;
	unsigned long long seed = 1;
	bool buddy = true, lockfree = true;
	int csv = 0, c;
	char *end;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 's': scenario = optarg; break;
		case 't': trace = optarg; break;
		case 'n':
			errno = 0;
			frames = strtoul(optarg, &end, 0);
			if (errno || *end || frames < 512 || frames % 512 || frames > (1UL << 31))
				die("--frames", "must be a multiple of 512 from 512 to 2^31");
			break;
		case 'S':
			errno = 0;
			seed = strtoull(optarg, &end, 0);
			if (errno || *end)
				die("--seed", "not a number");
			break;
		case 'c': csv = 1; break;
		case 'w': write_trace = optarg; break;
		case 'a':
			buddy = !strcmp(optarg, "buddy") || !strcmp(optarg, "all");
			lockfree = !strcmp(optarg, "lockfree") || !strcmp(optarg, "all");
			if (!buddy && !lockfree)
				die("--allocator", "buddy, lockfree or all");
			break;
		case 'h': return cli_usage_exit(usage, true);
		default: return cli_usage_exit(usage, false);
		}
	}
	if (optind != argc) {
		return cli_usage_exit(usage, false);
	}
	if (write_trace && !trace && !strcmp(scenario, "all"))
		die("--write-trace", "name one --scenario to write");
	if (csv)
		printf("scenario,allocator,policy,frames,used_frames,blocks_free_before,blocks_free_after,"
		       "frames_moved,lower_bound_moves,migrate_scanned,free_scanned,wall_ms\n");
	else
		printf("%-12s %-9s %-12s %8s %8s %7s %7s %9s %9s %6s %10s %10s %9s\n", "scenario",
		       "allocator", "policy",
		       "frames", "used", "free2M<", "free2M>", "moved", "bound", "ratio",
		       "mig_scan", "free_scan", "wall_ms");
	for (unsigned int i = 0; scenario_names[i] || trace; i++) {
		const char *name = trace ? trace : scenario_names[i];
		struct state st;

		if (!trace && strcmp(scenario, "all") && strcmp(scenario, name))
			continue;
		build(&st, (uint32_t)frames, name, trace, seed, write_trace);
		bench(trace ? (strrchr(trace, '/') ? strrchr(trace, '/') + 1 : trace) : name, &st, csv,
		      buddy, lockfree);
		p2m_destroy(&st.p2m);
		buddy_destroy(&st.zone);
		if (trace)
			break;
	}
	if (!trace && strcmp(scenario, "all")) {
		int known = 0;

		for (unsigned int i = 0; scenario_names[i]; i++)
			known |= !strcmp(scenario, scenario_names[i]);
		if (!known)
			die(scenario, "unknown scenario (alternating, random, aged, all)");
	}
	return 0;
}
