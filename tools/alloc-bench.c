/* alloc-bench: the cost of a frame allocator - the buddy (mm/buddy.c) or
 * the lock-free one (mm/lockfree.c) - on a 4 GiB (1,048,576-frame) pool,
 * in the patterns that matter to a VMM: alloc+free pairs of order 0 and 9,
 * allocating every frame and freeing them shuffled, random order-0
 * operations at half use; ns per operation and throughput, at each thread
 * count asked for (each thread on its own share of the pool; the buddy
 * behind its zone mutex when there is more than one), and the allocation
 * state's bytes per frame. Prints numbers; judges nothing.
 *
 *   usage: alloc-bench [--allocator buddy|lockfree] [--threads N[,N...]] [--frames N]
 *                      [--rounds N]
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/cli.h"
#include "mm/buddy.h"
#include "mm/clock.h"
#include "mm/lockfree.h"

#define DEFAULT_FRAMES	(1U << 20)
#define MAX_THREADS	16
#define MAX_ROUNDS	64
#define PAIRS0		4000000L
#define PAIRS9		4000000L
#define RANDOM_OPS	4000000L
#define BULK_OPS	4000000L	/* timed operations of the bulk patterns, all
					 * threads: the pool is allocated and freed
					 * as many times as that takes */
#define DEFAULT_ROUNDS	3

enum allocator { BUDDY, LOCKFREE };

struct bench {
	enum allocator kind;
	struct zone zone;
	struct lf_pool lf;
	bool locked;		/* the buddy shared by threads: behind its mutex */
	uint32_t frames;
	unsigned int threads;
	pthread_barrier_t start;
	pthread_barrier_t phase;	/* bulk: every thread's timed phase at once */
};

struct worker {
	struct bench *b;
	struct lf_local local;
	unsigned int id;
	uint32_t *pfns;		/* frames / threads */
	uint64_t ns;		/* the timed part */
	long ops;
};

static void die(const char *what, int err)
{
	fprintf(stderr, "alloc-bench: %s: %s\n", what, strerror(-err));
	exit(1);
}

static int do_alloc(struct worker *w, unsigned int order, uint32_t *pfn)
{
	struct bench *b = w->b;
	int err;

	if (b->kind == LOCKFREE)
		return lf_alloc(&b->lf, &w->local, order, MIGRATE_MOVABLE, pfn);
	if (b->locked)
		pthread_mutex_lock(&b->zone.lock);
	err = buddy_alloc(&b->zone, order, MIGRATE_MOVABLE, pfn);
	if (b->locked)
		pthread_mutex_unlock(&b->zone.lock);
	return err;
}

static int do_free(struct worker *w, uint32_t pfn, unsigned int order)
{
	struct bench *b = w->b;
	int err;

	if (b->kind == LOCKFREE)
		return lf_free(&b->lf, pfn, order);
	if (b->locked)
		pthread_mutex_lock(&b->zone.lock);
	err = buddy_free(&b->zone, pfn, order);
	if (b->locked)
		pthread_mutex_unlock(&b->zone.lock);
	return err;
}

static void alloc_or_die(struct worker *w, unsigned int order, uint32_t *pfn)
{
	int err = do_alloc(w, order, pfn);

	if (err)
		die("alloc", err);
}

static void free_or_die(struct worker *w, uint32_t pfn, unsigned int order)
{
	int err = do_free(w, pfn, order);

	if (err)
		die("free", err);
}

static void shuffle(uint32_t *a, uint32_t n, unsigned int *seed)
{
	for (uint32_t i = n - 1; i > 0; i--) {
		uint32_t j = (uint32_t)rand_r(seed) % (i + 1), t = a[i];

		a[i] = a[j];
		a[j] = t;
	}
}

/* ---- the patterns: each times its own part into w->ns, w->ops ---- */

static void pairs(struct worker *w, unsigned int order, long n)
{
	uint64_t t0 = mono_ns();

	for (long i = 0; i < n; i++) {
		uint32_t pfn;

		alloc_or_die(w, order, &pfn);
		free_or_die(w, pfn, order);
	}
	w->ns = mono_ns() - t0;
	w->ops = n;
}

static void pairs0(struct worker *w)
{
	pairs(w, 0, PAIRS0 / w->b->threads);
}

static void pairs9(struct worker *w)
{
	pairs(w, 9, PAIRS9 / w->b->threads);
}

/* Allocates this thread's share of the pool in blocks of order, then frees
 * them shuffled, as many times as BULK_OPS takes (an order-9 pass over 4
 * GiB is 2,048 frees: microseconds, too short to time alone); times the
 * allocations if timed_alloc, else the frees. */
static void bulk(struct worker *w, unsigned int order, bool timed_alloc)
{
	uint32_t n = (w->b->frames / w->b->threads) >> order;
	long passes = BULK_OPS / ((long)n * w->b->threads);
	unsigned int seed = 1 + w->id;

	if (passes < 1)
		passes = 1;
	w->ns = 0;
	for (long pass = 0; pass < passes; pass++) {
		uint64_t t0;

		/* the threads' allocations side by side, then their frees: the
		 * timed phase of one never overlaps the untimed of another */
		pthread_barrier_wait(&w->b->phase);
		t0 = mono_ns();
		for (uint32_t i = 0; i < n; i++)
			alloc_or_die(w, order, &w->pfns[i]);
		if (timed_alloc)
			w->ns += mono_ns() - t0;
		shuffle(w->pfns, n, &seed);
		pthread_barrier_wait(&w->b->phase);
		t0 = mono_ns();
		for (uint32_t i = 0; i < n; i++)
			free_or_die(w, w->pfns[i], order);
		if (!timed_alloc)
			w->ns += mono_ns() - t0;
	}
	w->ops = (long)n * passes;
}

static void alloc0_all(struct worker *w)
{
	bulk(w, 0, true);
}

static void free0_shuffled(struct worker *w)
{
	bulk(w, 0, false);
}

static void free9_shuffled(struct worker *w)
{
	bulk(w, 9, false);
}

/* Half of this thread's share held, then random order-0 operations: an
 * alloc or a free of a random held frame, as likely as each other. */
static void random50(struct worker *w)
{
	uint32_t share = w->b->frames / w->b->threads, held = 0;
	long n = RANDOM_OPS / w->b->threads;
	unsigned int seed = 7 + w->id;
	uint64_t t0;

	while (held < share / 2)
		alloc_or_die(w, 0, &w->pfns[held++]);
	t0 = mono_ns();
	for (long i = 0; i < n; i++) {
		if ((rand_r(&seed) & 1) && held < share) {
			alloc_or_die(w, 0, &w->pfns[held++]);
		} else if (held) {
			uint32_t j = (uint32_t)rand_r(&seed) % held;

			free_or_die(w, w->pfns[j], 0);
			w->pfns[j] = w->pfns[--held];
		}
	}
	w->ns = mono_ns() - t0;
	w->ops = n;
	while (held)
		free_or_die(w, w->pfns[--held], 0);
}

static const struct pattern {
	const char *name;
	void (*run)(struct worker *w);
	const char *what;
} patterns[] = {
	{ "order0_pair", pairs0, "order-0 alloc+free pair" },
	{ "order0_free_shuffled", free0_shuffled, "order-0 free, all frames, shuffled" },
	{ "order9_pair", pairs9, "order-9 alloc+free pair" },
	{ "order9_free_shuffled", free9_shuffled, "order-9 free, all blocks, shuffled" },
	{ "order0_alloc_all", alloc0_all, "order-0 alloc, all frames" },
	{ "order0_random_50", random50, "random order-0 ops at 50% use" },
};

struct job {
	struct worker *w;
	const struct pattern *p;
};

static void *worker_main(void *arg)
{
	struct job *j = arg;

	pthread_barrier_wait(&j->w->b->start);
	j->p->run(j->w);
	return NULL;
}

static void bench_init(struct bench *b, enum allocator kind, uint32_t frames, unsigned int threads)
{
	int err;

	memset(b, 0, sizeof(*b));
	b->kind = kind;
	b->frames = frames;
	b->threads = threads;
	b->locked = threads > 1;
	err = kind == LOCKFREE ? lf_init(&b->lf, frames) : buddy_init(&b->zone, frames);
	if (err)
		die("init", err);
}

static void bench_destroy(struct bench *b)
{
	if (b->kind == LOCKFREE)
		lf_destroy(&b->lf);
	else
		buddy_destroy(&b->zone);
}

/* One pattern at one thread count on a fresh allocator; returns the
 * throughput of all threads together, in Mops/s. */
static double run_pattern(enum allocator kind, uint32_t frames, unsigned int threads,
			  const struct pattern *p)
{
	struct worker w[MAX_THREADS];
	struct job jobs[MAX_THREADS];
	pthread_t tid[MAX_THREADS];
	struct bench b;
	uint64_t ns = 0;
	long ops = 0;

	bench_init(&b, kind, frames, threads);
	pthread_barrier_init(&b.start, NULL, threads);
	pthread_barrier_init(&b.phase, NULL, threads);
	for (unsigned int i = 0; i < threads; i++) {
		w[i] = (struct worker){ .b = &b, .id = i };
		w[i].pfns = malloc((frames / threads) * sizeof(uint32_t));
		if (!w[i].pfns)
			die("malloc", -ENOMEM);
		lf_local_init(&w[i].local);
		jobs[i] = (struct job){ &w[i], p };
		if (pthread_create(&tid[i], NULL, worker_main, &jobs[i]))
			die("pthread_create", -EAGAIN);
	}
	for (unsigned int i = 0; i < threads; i++) {
		pthread_join(tid[i], NULL);
		ns += w[i].ns;
		ops += w[i].ops;
		if (kind == LOCKFREE)
			lf_local_release(&b.lf, &w[i].local);
		free(w[i].pfns);
	}
	/* ns per operation as each thread saw it; throughput of all together */
	printf("%-9s threads %u %-21s ns_per_op %7.1f  Mops_per_s %7.2f  per_thread %6.2f\n",
	       kind == LOCKFREE ? "lockfree" : "buddy", threads, p->name, (double)ns / (double)ops,
	       (double)ops * threads / (double)ns * 1e3, (double)ops / (double)ns * 1e3);
	fflush(stdout);
	pthread_barrier_destroy(&b.start);
	pthread_barrier_destroy(&b.phase);
	bench_destroy(&b);
	return (double)ops * threads / (double)ns * 1e3;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double median(const double *v, unsigned int n)
{
	double s[64];

	memcpy(s, v, n * sizeof(*s));
	qsort(s, n, sizeof(*s), cmp_double);
	return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

/* Every thread count, round after round, so each count's runs are spread
 * over the same stretch of a noisy machine; then per count the median
 * throughput and, against the first count, the ratio of each round's
 * runs (measured minutes apart at most) and their median. */
static void run_rounds(enum allocator kind, uint32_t frames, const unsigned int *counts,
		       unsigned int nr_counts, unsigned int rounds, const struct pattern *p)
{
	double mops[MAX_THREADS][MAX_ROUNDS], ratio[MAX_ROUNDS];

	for (unsigned int r = 0; r < rounds; r++)
		for (unsigned int t = 0; t < nr_counts; t++)
			mops[t][r] = run_pattern(kind, frames, counts[t], p);
	for (unsigned int t = 0; t < nr_counts; t++) {
		printf("median    threads %u %-21s Mops_per_s %7.2f", counts[t], p->name,
		       median(mops[t], rounds));
		if (t) {
			printf("  vs %u thread%s: x%.2f (rounds:", counts[0], counts[0] > 1 ? "s" : "",
			       median(mops[t], rounds) / median(mops[0], rounds));
			for (unsigned int r = 0; r < rounds; r++) {
				ratio[r] = mops[t][r] / mops[0][r];
				printf(" %.2f", ratio[r]);
			}
			printf("; median %.2f)", median(ratio, rounds));
		}
		printf("\n");
	}
	fflush(stdout);
}

static void usage(FILE *out)
{
	fprintf(out, "usage: alloc-bench [--allocator buddy|lockfree] [--threads N[,N...]] [--frames N]\n"
		"                   [--rounds N]\n"
		"  --allocator  which allocator (default buddy)\n"
		"  --threads    thread counts to measure in turn (default 1; at most %d)\n"
		"  --frames     pool size in 4 KiB frames (default %u: 4 GiB)\n"
		"  --rounds     runs of each pattern at each thread count, in turn (default %d,\n"
		"               at most %d); medians and ratios printed after each pattern\n",
		MAX_THREADS, DEFAULT_FRAMES, DEFAULT_ROUNDS, MAX_ROUNDS);
}

static int bad_option(const char *option, const char *value, const char *want)
{
	fprintf(stderr, "alloc-bench: %s %s: want %s\n", option, value, want);
	return 2;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "allocator", required_argument, NULL, 'a' },
		{ "threads", required_argument, NULL, 't' },
		{ "frames", required_argument, NULL, 'f' },
		{ "rounds", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	unsigned int counts[MAX_THREADS], nr_counts = 0;
	enum allocator kind = BUDDY;
	uint32_t frames = DEFAULT_FRAMES;
	unsigned long rounds = DEFAULT_ROUNDS;
	char *list = "1", *end;
	int c;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'a':
			if (!strcmp(optarg, "buddy"))
				kind = BUDDY;
			else if (!strcmp(optarg, "lockfree"))
				kind = LOCKFREE;
			else
				return bad_option("--allocator", optarg, "buddy or lockfree");
			break;
		case 't':
			list = optarg;
			break;
		case 'f':
			frames = (uint32_t)strtoul(optarg, &end, 0);
			if (*end || !frames || frames % (2 * LF_CHUNK_FRAMES))
				return bad_option("--frames", optarg, "a multiple of 1024");
			break;
		case 'r':
			rounds = strtoul(optarg, &end, 10);
			if (*end || !rounds || rounds > MAX_ROUNDS)
				return bad_option("--rounds", optarg, "1 to 64");
			break;
		case 'h':
			return cli_usage_exit(usage, true);
		default:
			return cli_usage_exit(usage, false);
		}
	}
	if (optind != argc)
		return cli_usage_exit(usage, false);
	for (char *p = list; *p && nr_counts < MAX_THREADS; p = *end ? end + 1 : end) {
		unsigned long n = strtoul(p, &end, 10);

		if (end == p || (*end && *end != ',') || !n || n > MAX_THREADS ||
		    frames / n < 2 * LF_CHUNK_FRAMES)
			return bad_option("--threads", list, "counts from 1 to 16, comma-separated");
		counts[nr_counts++] = (unsigned int)n;
	}
	{
		struct bench b;

		bench_init(&b, kind, frames, 1);
		printf("pool: %u frames (%u MiB); %s allocator, allocation state %.3f bytes per frame\n",
		       frames, frames >> 8, kind == LOCKFREE ? "lock-free" : "buddy",
		       (double)(kind == LOCKFREE ? lf_metadata_bytes(&b.lf) : zone_metadata_bytes(&b.zone)) /
		       frames);
		bench_destroy(&b);
	}
	for (size_t i = 0; i < sizeof(patterns) / sizeof(patterns[0]); i++)
		run_rounds(kind, frames, counts, nr_counts, (unsigned int)rounds, &patterns[i]);
	return 0;
}
