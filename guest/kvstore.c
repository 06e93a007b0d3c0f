/* kvstore: a key-value store's hot loop. An open-addressing hash table
 * (linear probing) of 64-byte items - a key, a sequence word and six
 * words of value -
 * filling half of the largest power-of-two table that fits mb=SIZE
 * (default 768 MiB); then ops=N operations in all (default 16M, split
 * among the vCPUs), sets=P percent of them SETs (default 10) and the rest
 * GETs, on keys drawn from a Zipf distribution (theta 0.99, as YCSB) whose
 * popular keys are scattered over the table. A SET writes the item's next
 * version under a per-item sequence word (odd while written), so a GET on
 * another vCPU never returns half of two versions. The figure of merit is
 * operations per second (score_x1000 = million ops/s x 1000). Verified:
 * every GET finds its key (the hit rate must be 100%) and reads a whole
 * version; at the end every key is in the table once, each item holds a
 * whole version, and the versions add up to the SETs made. Exits 1 if
 * not (corrupt=1 loses an item first, to show it does). Reports
 * kvstore_items, kvstore_ops, kvstore_hits, kvstore_sets.
 * Arguments: mb, ops, sets, prep, seed. */
#include "vmd.h"
#include "workload.h"

VMD_GUEST_PURPOSE("key-value store, Zipf GETs and SETs over mb=SIZE: operations per second, verified");

#define VALUE_WORDS	6		/* with the key and the sequence word: 64 bytes */
#define SAMPLES		(1U << 22)	/* Zipf ranks drawn before the clock starts, reused */
#define THETA		0.99

struct item {
	uint64_t key;			/* 0: an empty slot */
	uint64_t seq;			/* 2 x version; odd while a SET writes */
	uint64_t value[VALUE_WORDS];
};
_Static_assert(sizeof(struct item) == 64, "an item is a cache line");

struct store {
	struct item *slots;
	uint64_t mask, nkeys, per_cpu, sets_pct;
	uint32_t *ranks;		/* SAMPLES of them */
	uint64_t hits[VMD_GUEST_MAX_VCPUS], sets[VMD_GUEST_MAX_VCPUS], bad[VMD_GUEST_MAX_VCPUS];
	uint64_t cycles[VMD_GUEST_MAX_VCPUS];
};

static uint64_t mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xFF51AFD7ED558CCDULL;
	x ^= x >> 33;
	x *= 0xC4CEB9FE1A85EC53ULL;
	return x ^ (x >> 33);
}

/* The key of rank r (1 = most popular): scattered, never 0. */
static uint64_t key_of(uint64_t r)
{
	return mix(r * 0x9E3779B97F4A7C15ULL) | 1;
}

static uint64_t word_of(uint64_t key, uint64_t version, unsigned int i)
{
	return mix(key ^ (version << 8) ^ i);
}

/* ln and exp for the Zipf sampler, which runs before the clock starts. */
static double ln(double x)
{
	double s, s2, sum = 0, term;
	int e = 0;

	while (x >= 2) {
		x /= 2;
		e++;
	}
	while (x < 1) {
		x *= 2;
		e--;
	}
	s = (x - 1) / (x + 1);
	s2 = s * s;
	term = s;
	for (int k = 1; k < 40; k += 2) {	/* s <= 1/3: s^40 is below a double's precision */
		sum += term / k;
		term *= s2;
	}
	return 2 * sum + e * 0.69314718055994530942;
}

static double expo(double y)
{
	int k = (int)(y / 0.69314718055994530942);
	double r = y - k * 0.69314718055994530942, sum = 1, term = 1;

	for (int i = 1; i < 22; i++) {	/* |r| < ln 2 */
		term *= r / i;
		sum += term;
	}
	for (; k > 0; k--)
		sum *= 2;
	for (; k < 0; k++)
		sum /= 2;
	return sum;
}

static double power(double x, double y)
{
	return expo(y * ln(x));
}

/* Zipf ranks in [1, n] by Gray et al.'s method (YCSB's), SAMPLES of them. */
static void draw_ranks(uint32_t *ranks, uint64_t n, uint64_t *rng)
{
	double zetan = 0, zeta2 = 1 + power(0.5, THETA), alpha = 1 / (1 - THETA), eta;

	for (uint64_t i = 1; i <= n; i++)
		zetan += power((double)i, -THETA);
	eta = (1 - power(2.0 / (double)n, 1 - THETA)) / (1 - zeta2 / zetan);
	for (uint32_t s = 0; s < SAMPLES; s++) {
		double u = (double)(vmd_rand(rng) >> 11) / 9007199254740992.0, uz = u * zetan;
		uint64_t r = uz < 1 ? 1 : uz < zeta2 ? 2 : 1 + (uint64_t)((double)n * power(eta * u - eta + 1, alpha));

		ranks[s] = (uint32_t)(r > n ? n : r);
	}
}

static struct item *find(const struct store *st, uint64_t key)
{
	for (uint64_t i = mix(key) & st->mask;; i = (i + 1) & st->mask) {
		struct item *it = &st->slots[i];
		uint64_t k = __atomic_load_n(&it->key, __ATOMIC_RELAXED);

		if (k == key)
			return it;
		if (!k)
			return NULL;
	}
}

/* A whole version of the item: 1, with the words checked; 0 if torn. */
static int read_item(struct item *it, uint64_t *bad)
{
	for (;;) {
		uint64_t seq = __atomic_load_n(&it->seq, __ATOMIC_ACQUIRE), ok = 1;

		if (seq & 1)
			continue;
		for (unsigned int i = 0; i < VALUE_WORDS; i++)
			ok &= __atomic_load_n(&it->value[i], __ATOMIC_RELAXED) == word_of(it->key, seq / 2, i);
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		if (__atomic_load_n(&it->seq, __ATOMIC_RELAXED) != seq)
			continue;	/* a SET came in between: read again */
		*bad += !ok;
		return 1;
	}
}

static void write_item(struct item *it)
{
	uint64_t seq = __atomic_load_n(&it->seq, __ATOMIC_RELAXED);

	while ((seq & 1) || !__atomic_compare_exchange_n(&it->seq, &seq, seq + 1, 0, __ATOMIC_ACQUIRE,
							 __ATOMIC_RELAXED))
		seq = __atomic_load_n(&it->seq, __ATOMIC_RELAXED);
	/* the odd sequence before any word (C11 needs the fence; x86 not) */
	__atomic_thread_fence(__ATOMIC_RELEASE);
	for (unsigned int i = 0; i < VALUE_WORDS; i++)
		__atomic_store_n(&it->value[i], word_of(it->key, seq / 2 + 1, i), __ATOMIC_RELAXED);
	__atomic_store_n(&it->seq, seq + 2, __ATOMIC_RELEASE);
}

static void run_ops(unsigned int cpu, void *arg)
{
	struct store *st = arg;
	uint64_t rng = (cpu + 1) * 0xD1B54A32D192ED03ULL, t0 = vmd_rdtsc();
	/* each vCPU its own order of the samples (an odd stride visits them
	 * all): not the keys another vCPU has just brought into the cache */
	uint32_t s = (uint32_t)(cpu * (SAMPLES / VMD_GUEST_MAX_VCPUS)), stride = 2 * cpu + 1;
	/* counted here, stored once: st's per-vCPU slots share a cache line */
	uint64_t hits = 0, sets = 0, bad = 0;

	for (uint64_t op = 0; op < st->per_cpu; op++, s = (s + stride) & (SAMPLES - 1)) {
		struct item *it = find(st, key_of(st->ranks[s]));

		if (!it) {
			bad++;
		} else if (vmd_rand(&rng) % 100 < st->sets_pct) {
			write_item(it);
			sets++;
		} else {
			hits += read_item(it, &bad);
		}
	}
	st->cycles[cpu] = vmd_rdtsc() - t0;
	st->hits[cpu] = hits;
	st->sets[cpu] = sets;
	st->bad[cpu] = bad;
}

/* Every key once, every item a whole version, the versions the SETs. */
static uint64_t check_table(const struct store *st, uint64_t sets)
{
	uint64_t bad = 0, used = 0, versions = 0;

	for (uint64_t i = 0; i <= st->mask; i++) {
		struct item *it = &st->slots[i];

		if (!it->key)
			continue;
		used++;
		versions += it->seq / 2;
		for (unsigned int w = 0; w < VALUE_WORDS; w++)
			bad += it->value[w] != word_of(it->key, it->seq / 2, w);
	}
	for (uint64_t r = 1; r <= st->nkeys; r++)
		bad += !find(st, key_of(r));
	return bad + (used != st->nkeys) + (versions != sets);
}

int main(void)
{
	unsigned int cpus = (unsigned int)vmd_info.nr_cpus;
	uint64_t bytes, base = workload_span(768, &bytes), slots = 1, rng = vmd_arg_u64("seed", 1) * 31 + 5;
	uint64_t ops, hits = 0, sets = 0, bad = 0, cycles = 0;
	struct store st = { 0 };

	st.ranks = (uint32_t *)(uintptr_t)base;
	while ((slots * 2) * sizeof(struct item) + SAMPLES * sizeof(uint32_t) <= bytes)
		slots *= 2;
	st.slots = (struct item *)(uintptr_t)(base + SAMPLES * sizeof(uint32_t));
	st.mask = slots - 1;
	st.nkeys = slots / 2;
	st.sets_pct = vmd_arg_u64("sets", 10);
	st.per_cpu = vmd_arg_u64("ops", 16 << 20) / cpus;
	ops = st.per_cpu * cpus;
	VMD_ASSERT(st.nkeys >= 1024 && st.sets_pct <= 100 && ops > 0);
	for (uint64_t i = 0; i < slots; i++)
		st.slots[i].key = 0;
	for (uint64_t r = 1; r <= st.nkeys; r++) {
		uint64_t key = key_of(r);
		uint64_t i = mix(key) & st.mask;

		while (st.slots[i].key)
			i = (i + 1) & st.mask;
		st.slots[i].key = key;
		st.slots[i].seq = 0;
		for (unsigned int w = 0; w < VALUE_WORDS; w++)
			st.slots[i].value[w] = word_of(key, 0, w);
	}
	draw_ranks(st.ranks, st.nkeys, &rng);
	workload_on_all(run_ops, &st);
	for (unsigned int c = 0; c < cpus; c++) {
		hits += st.hits[c];
		sets += st.sets[c];
		bad += st.bad[c];
		if (st.cycles[c] > cycles)
			cycles = st.cycles[c];
	}
	if (vmd_arg_u64("corrupt", 0)) {	/* a test of the check: an item lost */
		struct item *it = find(&st, key_of(st.nkeys / 2));

		it->key = key_of(st.nkeys + 1);
	}
	bad += check_table(&st, sets);
	vmd_report("kvstore_items", st.nkeys);
	vmd_report("kvstore_ops", ops);
	vmd_report("kvstore_hits", hits);
	vmd_report("kvstore_sets", sets);
	if (bad || hits + sets != ops) {
		vmd_printf("kvstore: verification failed: %lu bad, %lu hits + %lu sets of %lu ops\n", bad, hits,
			   sets, ops);
		return 1;
	}
	workload_score("kvstore", "million operations per second",
		       ops * 1000 / (workload_us(cycles) ? workload_us(cycles) : 1));
	return 0;
}
