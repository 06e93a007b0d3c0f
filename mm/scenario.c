/* Scenario generators and trace replay. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mm/scenario.h"

const char *const scenario_names[] = { "alternating", "random", "aged", NULL };

struct scenario_alloc {
	uint64_t id;
	uint32_t pfn;		/* PFN_NONE: skipped or freed */
	uint8_t order;
	uint8_t mt;
	uint8_t live;		/* id holds an allocation (or a skipped one) */
};

static const char type_letter[NR_ALLOC_TYPES] = { 'U', 'M', 'R' };

int scenario_init(struct scenario *s, struct zone *z, struct p2m *m)
{
	memset(s, 0, sizeof(*s));
	s->zone = z;
	s->p2m = m;
	s->hash_size = 1024;
	s->hash = calloc(s->hash_size, sizeof(*s->hash));
	s->free_gfns = malloc((size_t)m->nr_gfns * sizeof(*s->free_gfns));
	if (!s->hash || !s->free_gfns) {
		scenario_destroy(s);
		return -ENOMEM;
	}
	/* lowest guest frames first */
	for (uint32_t i = 0; i < m->nr_gfns; i++)
		if (p2m_lookup(m, m->nr_gfns - 1 - i) == PFN_NONE)
			s->free_gfns[s->nr_free_gfns++] = m->nr_gfns - 1 - i;
	return 0;
}

void scenario_destroy(struct scenario *s)
{
	free(s->allocs);
	free(s->hash);
	free(s->free_gfns);
	memset(s, 0, sizeof(*s));
}

static uint64_t hash_id(uint64_t id)
{
	id ^= id >> 33;
	id *= 0xff51afd7ed558ccdULL;
	id ^= id >> 33;
	return id;
}

/* The slot holding id, or the empty slot where it would go. */
static uint32_t *slot(const struct scenario *s, uint64_t id)
{
	size_t mask = s->hash_size - 1, i = hash_id(id) & mask;

	while (s->hash[i] && s->allocs[s->hash[i] - 1].id != id)
		i = (i + 1) & mask;
	return &s->hash[i];
}

static int grow(struct scenario *s)
{
	if (s->nr_allocs == s->cap_allocs) {
		size_t cap = s->cap_allocs ? s->cap_allocs * 2 : 1024;
		struct scenario_alloc *a = realloc(s->allocs, cap * sizeof(*a));

		if (!a)
			return -ENOMEM;
		s->allocs = a;
		s->cap_allocs = cap;
	}
	if (s->nr_allocs * 2 >= s->hash_size) {
		size_t size = s->hash_size * 2;
		uint32_t *old = s->hash, old_size = (uint32_t)s->hash_size;

		s->hash = calloc(size, sizeof(*s->hash));
		if (!s->hash) {
			s->hash = old;
			return -ENOMEM;
		}
		s->hash_size = size;
		for (uint32_t i = 0; i < old_size; i++)
			if (old[i])
				*slot(s, s->allocs[old[i] - 1].id) = old[i];
		free(old);
	}
	return 0;
}

int scenario_alloc(struct scenario *s, uint64_t id, unsigned int order, enum migratetype mt)
{
	struct scenario_alloc *a;
	uint32_t *sl, pfn;
	int err;

	if (order > MAX_ORDER || (unsigned int)mt >= NR_ALLOC_TYPES)
		return -EINVAL;
	sl = slot(s, id);
	if (*sl && s->allocs[*sl - 1].live)
		return -EEXIST;
	if (!*sl) {
		err = grow(s);
		if (err)
			return err;
		sl = slot(s, id);
		*sl = (uint32_t)++s->nr_allocs;
	}
	if (s->trace)
		fprintf(s->trace, "a %" PRIu64 " %u %c\n", id, order, type_letter[mt]);
	s->ops++;
	a = &s->allocs[*sl - 1];
	a->id = id;
	a->order = (uint8_t)order;
	a->mt = (uint8_t)mt;
	a->live = 1;
	a->pfn = PFN_NONE;
	if (buddy_alloc(s->zone, order, mt, &pfn)) {
		s->skipped++;
		return 1;
	}
	a->pfn = pfn;
	if (mt == MIGRATE_MOVABLE) {
		buddy_split(s->zone, pfn);
		for (uint32_t i = 0; i < (1U << order); i++)
			p2m_map(s->p2m, s->free_gfns[--s->nr_free_gfns], pfn + i);
	}
	return 0;
}

int scenario_free(struct scenario *s, uint64_t id)
{
	uint32_t *sl = slot(s, id);
	struct scenario_alloc *a;

	if (!*sl || !s->allocs[*sl - 1].live)
		return -ENOENT;
	a = &s->allocs[*sl - 1];
	if (s->trace)
		fprintf(s->trace, "f %" PRIu64 "\n", id);
	s->ops++;
	a->live = 0;
	if (a->pfn == PFN_NONE)
		return 1;
	if (a->mt == MIGRATE_MOVABLE) {
		/* its frames may have moved: free each through its guest frame */
		for (uint32_t i = 0; i < (1U << a->order); i++) {
			uint32_t gfn = p2m_owner(s->p2m, a->pfn + i), pfn;

			p2m_unmap(s->p2m, gfn, &pfn);
			s->free_gfns[s->nr_free_gfns++] = gfn;
			buddy_free(s->zone, pfn, 0);
		}
	} else {
		buddy_free(s->zone, a->pfn, a->order);
	}
	a->pfn = PFN_NONE;
	return 0;
}

/* A trace ID: decimal digits only, fitting in 64 bits. */
static int parse_id(const char *text, uint64_t *id)
{
	char *end;

	if (!*text || strspn(text, "0123456789") != strlen(text))
		return -1;
	errno = 0;
	*id = strtoull(text, &end, 10);
	return errno ? -1 : 0;
}

int scenario_replay(struct scenario *s, FILE *in, const char *name, char *err, size_t len)
{
	char line[256];
	unsigned long lineno = 0;

	while (fgets(line, sizeof(line), in)) {
		char op, type, extra, idtext[32];
		uint64_t id;
		unsigned int order;
		int rc, n;

		lineno++;
		if (!strchr(line, '\n') && !feof(in)) {
			snprintf(err, len, "%s:%lu: line too long", name, lineno);
			return -1;
		}
		n = sscanf(line, " %c", &op);
		if (n != 1 || op == '#')
			continue;
		if (op == 'a') {
			if (sscanf(line, " a %31s %u %c %c", idtext, &order, &type, &extra) != 3 ||
			    parse_id(idtext, &id)) {
				snprintf(err, len, "%s:%lu: expected \"a ID ORDER TYPE\"", name, lineno);
				return -1;
			}
			if (order > MAX_ORDER) {
				snprintf(err, len, "%s:%lu: order %u out of range 0..%d", name, lineno,
					 order, MAX_ORDER);
				return -1;
			}
			if (!strchr("MUR", type)) {
				snprintf(err, len, "%s:%lu: type '%c' is not M, U or R", name, lineno, type);
				return -1;
			}
			rc = scenario_alloc(s, id, order, type == 'M' ? MIGRATE_MOVABLE :
					    type == 'U' ? MIGRATE_UNMOVABLE : MIGRATE_RECLAIMABLE);
			if (rc == -EEXIST) {
				snprintf(err, len, "%s:%lu: id %" PRIu64 " is already allocated",
					 name, lineno, id);
				return -1;
			}
		} else if (op == 'f') {
			if (sscanf(line, " f %31s %c", idtext, &extra) != 1 || parse_id(idtext, &id)) {
				snprintf(err, len, "%s:%lu: expected \"f ID\"", name, lineno);
				return -1;
			}
			rc = scenario_free(s, id);
			if (rc == -ENOENT) {
				snprintf(err, len, "%s:%lu: id %" PRIu64 " holds no allocation",
					 name, lineno, id);
				return -1;
			}
		} else {
			snprintf(err, len, "%s:%lu: unknown operation '%c'", name, lineno, op);
			return -1;
		}
		if (rc < 0) {
			snprintf(err, len, "%s:%lu: %s", name, lineno, strerror(-rc));
			return -1;
		}
	}
	return 0;
}

/* ---- generators ---- */

struct rng {
	uint64_t state;
};

static uint64_t rng_next(struct rng *r)
{
	/* splitmix64 */
	uint64_t z = (r->state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static double rng_unit(struct rng *r)
{
	return (double)(rng_next(r) >> 11) / 9007199254740992.0;	/* [0, 1) */
}

static uint64_t rng_below(struct rng *r, uint64_t n)
{
	return rng_next(r) % n;
}

static double rng_lognormal(struct rng *r, double median, double sigma)
{
	double u1 = rng_unit(r), u2 = rng_unit(r);
	double normal = sqrt(-2.0 * log(1.0 - u1)) * cos(2.0 * M_PI * u2);

	return median * exp(sigma * normal);
}

static enum migratetype pick_type(struct rng *r)
{
	return rng_below(r, 100) == 0 ? MIGRATE_UNMOVABLE : MIGRATE_MOVABLE;
}

/* Every frame allocated, then every other one freed. */
static int gen_alternating(struct scenario *s, struct rng *r)
{
	uint32_t n = s->zone->nr_frames;

	(void)r;
	for (uint32_t id = 0; id < n; id++)
		scenario_alloc(s, id, 0, MIGRATE_MOVABLE);
	for (uint32_t id = 0; id < n; id++)
		if (s->allocs[*slot(s, id) - 1].pfn & 1)
			scenario_free(s, id);
	return 0;
}

/* Uniform churn of single frames around 60% use. */
static int gen_random(struct scenario *s, struct rng *r)
{
	uint32_t n = s->zone->nr_frames, target = n / 10 * 6, nlive = 0;
	uint64_t *live = malloc((size_t)n * sizeof(*live)), next_id = 0;

	if (!live)
		return -ENOMEM;
	for (uint64_t step = 0; step < 3ULL * n; step++) {
		uint64_t p_alloc = n - s->zone->free_frames < target ? 75 : 25;

		if (!nlive || rng_below(r, 100) < p_alloc) {
			if (scenario_alloc(s, next_id, 0, pick_type(r)) == 0)
				live[nlive++] = next_id;
			next_id++;
		} else {
			uint32_t i = (uint32_t)rng_below(r, nlive);

			scenario_free(s, live[i]);
			live[i] = live[--nlive];
		}
	}
	free(live);
	return 0;
}

/* The process-lifetime model: groups of allocations with log-normal sizes
 * and lifetimes, allocated in bursts of mixed orders, freed together. */
struct process {
	uint64_t *ids;
	uint32_t nids, cap;
	uint32_t size, allocated;
	uint64_t end;
};

static unsigned int pick_order(struct rng *r, uint32_t remaining)
{
	uint64_t x = rng_below(r, 100);
	unsigned int order = x < 80 ? 0 : x < 86 ? 1 : x < 90 ? 2 : x < 93 ? 3 : x < 96 ? 4 : 9;

	while (order && (1U << order) > remaining)
		order--;
	return order;
}

static int gen_aged(struct scenario *s, struct rng *r)
{
	struct zone *z = s->zone;
	uint64_t busy = (uint64_t)z->nr_frames * 85 / 100, settle = (uint64_t)z->nr_frames * 6 / 10;
	uint64_t committed = 0, allocated = 0;
	uint64_t next_id = 0, tick;
	uint32_t nproc = 0, cap = 1024, max_size = z->nr_frames / 32;
	struct process *procs = calloc(cap, sizeof(*procs));
	int err = 0;

	if (!procs)
		return -ENOMEM;
	if (max_size < 1)
		max_size = 1;
	for (tick = 0; tick < 100000; tick++) {
		uint64_t used;

		/* processes whose time is up free everything they hold */
		for (uint32_t i = 0; i < nproc;) {
			struct process *p = &procs[i];

			if (p->end > tick) {
				i++;
				continue;
			}
			for (uint32_t k = 0; k < p->nids; k++)
				scenario_free(s, p->ids[k]);
			committed -= p->size;
			free(p->ids);
			*p = procs[--nproc];
		}
		/* new ones start while the running ones want less than the target:
		 * a busy life at 85% first, then a quieter one at 60%, so that the
		 * memory freed on the way down is scattered */
		while (committed < (allocated < 4ULL * z->nr_frames ? busy : settle)) {
			struct process *p;

			if (nproc == cap) {
				struct process *np = realloc(procs, 2 * cap * sizeof(*procs));

				if (!np) {
					err = -ENOMEM;
					goto out;
				}
				procs = np;
				cap *= 2;
			}
			p = &procs[nproc++];
			memset(p, 0, sizeof(*p));
			p->size = (uint32_t)rng_lognormal(r, 48, 1.6);
			p->size = p->size < 1 ? 1 : p->size > max_size ? max_size : p->size;
			p->end = tick + 1 + (uint64_t)rng_lognormal(r, 40, 1.0);
			committed += p->size;
		}
		/* each process allocates a burst */
		for (uint32_t i = 0; i < nproc; i++) {
			struct process *p = &procs[i];
			uint32_t burst = 1 + (uint32_t)rng_below(r, 64);

			while (burst && p->allocated < p->size) {
				unsigned int order = pick_order(r, p->size - p->allocated);
				enum migratetype mt = pick_type(r);

				if (p->nids == p->cap) {
					uint32_t ncap = p->cap ? p->cap * 2 : 8;
					uint64_t *ids = realloc(p->ids, ncap * sizeof(*ids));

					if (!ids) {
						err = -ENOMEM;
						goto out;
					}
					p->ids = ids;
					p->cap = ncap;
				}
				if (scenario_alloc(s, next_id, order, mt) >= 0)
					p->ids[p->nids++] = next_id;
				next_id++;
				p->allocated += 1U << order;
				allocated += 1U << order;
				burst--;
			}
		}
		/* age the pool several times over, then stop near 60% used */
		used = z->nr_frames - z->free_frames;
		if (allocated >= 4ULL * z->nr_frames &&
		    used * 100 >= (uint64_t)z->nr_frames * 58 && used * 100 <= (uint64_t)z->nr_frames * 62)
			break;
	}
out:
	for (uint32_t i = 0; i < nproc; i++)
		free(procs[i].ids);
	free(procs);
	return err;
}

int scenario_generate(struct scenario *s, const char *name, uint64_t seed)
{
	struct rng r = { seed };

	if (s->trace)
		fprintf(s->trace, "# vmdefrag trace: scenario %s, seed %" PRIu64 ", %u frames\n",
			name, seed, s->zone->nr_frames);
	if (!strcmp(name, "alternating"))
		return gen_alternating(s, &r);
	if (!strcmp(name, "random"))
		return gen_random(s, &r);
	if (!strcmp(name, "aged"))
		return gen_aged(s, &r);
	return -EINVAL;
}
