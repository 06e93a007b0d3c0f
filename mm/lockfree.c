/* The lock-free frame allocator (see lockfree.h).
 *
 * Orderings between the three levels, which every path keeps:
 *   alloc: chunk counter -n (the reservation), then the bits, then the
 *          group counter -n;
 *   free:  the bits, then the group counter +n, then the chunk counter +n.
 * So a chunk's counter is never above its zero bits (a reserved frame is
 * always there to find), and a group's counter is never below the sum of
 * its chunks' (it cannot wrap below zero). Whole chunks (orders 9, 10)
 * change only their entry: their bits stay zero, the HUGE flag says used.
 *
 * Where the buddy's ideas carry over: a chunk is a pageblock (its kind is
 * the migratetype, claimed whole by the first allocation from a free
 * chunk, stolen from only when nothing else is left), and the free blocks
 * per order are what the buddy would hold with every buddy merged. Where
 * they change: no free lists (a free block is found by scanning bits and
 * counters, near where the thread last allocated), no splitting or
 * merging, so an order-9 allocation or free is one compare-and-swap. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/failpoint.h"
#include "mm/lockfree.h"

#define NO_GROUP	UINT32_MAX
#define LF_MAX_FRAMES	(UINT32_MAX - LF_CHUNK_FRAMES + 1)	/* PFN_NONE stays spare */

static inline uint32_t entry_make(uint32_t free, uint32_t flags, enum lf_kind k)
{
	return free | flags | (uint32_t)k << LF_CHUNK_KIND_SHIFT;
}

/* What an allocation as mt takes: LF_KIND_NONE for a type one cannot
 * allocate as. */
static enum lf_kind kind_of(enum migratetype mt)
{
	switch (mt) {
	case MIGRATE_MOVABLE: return LF_KIND_MOVABLE;
	case MIGRATE_UNMOVABLE:
	case MIGRATE_RECLAIMABLE: return LF_KIND_UNMOVABLE;
	default: return LF_KIND_NONE;
	}
}

static inline uint32_t group_of(uint32_t chunk)
{
	return chunk / LF_GROUP_CHUNKS;
}

static inline uint32_t group_first_chunk(uint32_t g)
{
	return g * LF_GROUP_CHUNKS;
}

static uint32_t group_nr_chunks(const struct lf_pool *p, uint32_t g)
{
	uint32_t left = p->nr_chunks - group_first_chunk(g);

	return left < LF_GROUP_CHUNKS ? left : LF_GROUP_CHUNKS;
}

static void *zalloc_aligned(size_t size)
{
	size_t rounded = (size + 63) & ~(size_t)63;
	void *m = aligned_alloc(64, rounded ? rounded : 64);

	if (m)
		memset(m, 0, rounded);
	return m;
}

/* Sizes, and the volatile state (group counters and hints); the bits and
 * chunk entries are given (bits, chunks) or allocated here. */
static int init_pool(struct lf_pool *p, uint64_t nr_frames, _Atomic uint64_t *bits,
		     _Atomic uint32_t *chunks)
{
	memset(p, 0, sizeof(*p));
	if (!nr_frames || nr_frames % LF_CHUNK_FRAMES || nr_frames > LF_MAX_FRAMES)
		return -EINVAL;
	p->nr_frames = (uint32_t)nr_frames;
	p->nr_chunks = p->nr_frames / LF_CHUNK_FRAMES;
	p->nr_groups = (p->nr_chunks + LF_GROUP_CHUNKS - 1) / LF_GROUP_CHUNKS;
	p->external = bits != NULL;
	p->bits = bits ? bits : zalloc_aligned((size_t)p->nr_chunks * LF_WORDS_PER_CHUNK * sizeof(*p->bits));
	p->chunks = chunks ? chunks : zalloc_aligned((size_t)p->nr_chunks * sizeof(*p->chunks));
	p->groups = zalloc_aligned((size_t)p->nr_groups * sizeof(*p->groups));
	p->hints = zalloc_aligned((size_t)p->nr_groups * sizeof(*p->hints));
	if (!p->bits || !p->chunks || !p->groups || !p->hints) {
		lf_destroy(p);
		return -ENOMEM;
	}
	for (uint32_t g = 0; g < p->nr_groups; g++) {
		atomic_init(&p->hints[g].reserved, 0);
		atomic_init(&p->hints[g].owner, 0);
	}
	atomic_init(&p->next_group, 0);
	atomic_init(&p->nr_locals, 0);
	return 0;
}

/* Every frame free. */
static void set_all_free(struct lf_pool *p)
{
	for (size_t i = 0; i < (size_t)p->nr_chunks * LF_WORDS_PER_CHUNK; i++)
		atomic_init(&p->bits[i], 0);
	for (uint32_t c = 0; c < p->nr_chunks; c++)
		atomic_init(&p->chunks[c], entry_make(LF_CHUNK_FRAMES, 0, LF_KIND_NONE));
	for (uint32_t g = 0; g < p->nr_groups; g++)
		atomic_init(&p->groups[g].free, group_nr_chunks(p, g) * LF_CHUNK_FRAMES);
}

int lf_init(struct lf_pool *p, uint64_t nr_frames)
{
	int err = init_pool(p, nr_frames, NULL, NULL);

	if (!err)
		set_all_free(p);
	return err;
}

int lf_init_on(struct lf_pool *p, uint64_t nr_frames, _Atomic uint64_t *bits,
	       _Atomic uint32_t *chunks, bool fresh)
{
	int err;

	if (!bits || !chunks)
		return -EINVAL;
	err = init_pool(p, nr_frames, bits, chunks);
	if (err)
		return err;
	if (fresh)
		set_all_free(p);
	return 0;
}

void lf_destroy(struct lf_pool *p)
{
	if (!p->external) {
		free(p->bits);
		free(p->chunks);
	}
	free(p->groups);
	free(p->hints);
	memset(p, 0, sizeof(*p));
}

void lf_local_init(struct lf_local *l)
{
	for (unsigned int k = 0; k < LF_NR_KINDS; k++) {
		l->group[k] = NO_GROUP;
		l->chunk[k] = 0;
	}
	l->id = 0;
}

static void unreserve(struct lf_pool *p, struct lf_local *l, enum lf_kind k)
{
	if (l->group[k] != NO_GROUP)
		atomic_fetch_sub_explicit(&p->hints[l->group[k]].reserved, 1, memory_order_relaxed);
	l->group[k] = NO_GROUP;
}

void lf_local_release(struct lf_pool *p, struct lf_local *l)
{
	for (unsigned int k = 0; k < LF_NR_KINDS; k++)
		unreserve(p, l, (enum lf_kind)k);
}

/* ---- single frames ---- */

/* Which chunks an order-0 allocation may take a frame from. */
enum take {
	TAKE_OWN,	/* one of its kind */
	TAKE_FREE,	/* a wholly free one, claimed for its kind */
	TAKE_ANY,	/* any with a free frame: stealing, the last resort */
	TAKE_TARGET,	/* one of its kind in use: a compaction destination */
};

/* Reserves one frame in chunk c's counter if the chunk is one how allows. */
static bool reserve_frame(struct lf_pool *p, uint32_t c, enum lf_kind k, enum take how)
{
	uint32_t e = atomic_load_explicit(&p->chunks[c], memory_order_relaxed), next;

	for (;;) {
		uint32_t n = lf_entry_free(e);

		if ((e & (LF_CHUNK_HUGE | LF_CHUNK_ISOLATED)) || !n)
			return false;
		if (((how == TAKE_OWN || how == TAKE_TARGET) && lf_entry_kind(e) != k) ||
		    (how == TAKE_FREE && n != LF_CHUNK_FRAMES) || (how == TAKE_TARGET && n == LF_CHUNK_FRAMES))
			return false;
		next = how == TAKE_FREE ? entry_make(n - 1, 0, k) : e - 1;
		if (atomic_compare_exchange_weak_explicit(&p->chunks[c], &e, next, memory_order_acquire,
							  memory_order_relaxed))
			return true;
	}
}

/* Sets a clear bit in chunk c, which holds one reserved for the caller
 * (its counter was taken first): the frame's number. */
static uint32_t take_bit(struct lf_pool *p, uint32_t c)
{
	_Atomic uint64_t *w = &p->bits[(size_t)c * LF_WORDS_PER_CHUNK];

	for (;;) {
		for (unsigned int i = 0; i < LF_WORDS_PER_CHUNK; i++) {
			uint64_t v = atomic_load_explicit(&w[i], memory_order_relaxed);

			while (v != ~0ULL) {
				unsigned int b = (unsigned int)__builtin_ctzll(~v);

				if (atomic_compare_exchange_weak_explicit(&w[i], &v, v | 1ULL << b,
									  memory_order_acquire,
									  memory_order_relaxed))
					return c * LF_CHUNK_FRAMES + i * 64 + b;
			}
		}
	}
}

static uint32_t take_frame(struct lf_pool *p, uint32_t c)
{
	uint32_t pfn;

	FAILPOINT("lf-frame-reserved");		/* a counter below its bits */
	pfn = take_bit(p, c);

	atomic_fetch_sub_explicit(&p->groups[group_of(c)].free, 1, memory_order_relaxed);
	return pfn;
}

/* A frame from group g: chunks of k's kind first (from where l left off),
 * then a wholly free chunk. */
static bool frame_from_group(struct lf_pool *p, struct lf_local *l, uint32_t g, enum lf_kind k,
			     uint32_t *pfn)
{
	uint32_t first = group_first_chunk(g), n = group_nr_chunks(p, g);
	uint32_t hint = group_of(l->chunk[k]) == g ? l->chunk[k] - first : 0;

	for (unsigned int how = TAKE_OWN; how <= TAKE_FREE; how++) {
		for (uint32_t i = 0; i < n; i++) {
			uint32_t c = first + (hint + i) % n;

			if (reserve_frame(p, c, k, (enum take)how)) {
				if (l->chunk[k] != c)
					l->chunk[k] = c;	/* no store when it stays */
				*pfn = take_frame(p, c);
				return true;
			}
		}
	}
	return false;
}

/* Reserves group g for l's allocations of kind k. */
static void reserve_group(struct lf_pool *p, struct lf_local *l, enum lf_kind k, uint32_t g)
{
	unreserve(p, l, k);
	atomic_fetch_add_explicit(&p->hints[g].reserved, 1, memory_order_relaxed);
	if (!l->id)
		l->id = atomic_fetch_add_explicit(&p->nr_locals, 1, memory_order_relaxed) + 1;
	if (atomic_load_explicit(&p->hints[g].owner, memory_order_relaxed) != l->id)
		atomic_store_explicit(&p->hints[g].owner, l->id, memory_order_relaxed);
	l->group[k] = g;
}

/* The order in which a thread looks for a new group: first partly used
 * groups nobody allocates in that it had before (its own frees went
 * there: taking them back touches no other thread's lines), then any
 * partly used ones nobody allocates in (fill them before opening fresh
 * ones, as the buddy prefers the lowest blocks), then free ones nobody
 * allocates in, then any with a free frame. */
#define GROUP_PASSES	4
static bool group_suits(const struct lf_pool *p, const struct lf_local *l, uint32_t g,
			unsigned int pass)
{
	uint32_t free;

	/* the hints first: the counter is another thread's hot line */
	if (pass < 3 && atomic_load_explicit(&p->hints[g].reserved, memory_order_relaxed))
		return false;
	if (pass == 0 && (!l->id || atomic_load_explicit(&p->hints[g].owner, memory_order_relaxed) != l->id))
		return false;
	free = atomic_load_explicit(&p->groups[g].free, memory_order_relaxed);
	return free && (pass > 1 || free < group_nr_chunks(p, g) * LF_CHUNK_FRAMES);
}

/* Where a search for a new group begins: after the thread's own, or, for
 * a thread with none, at the next of a shared rotation. */
static uint32_t search_start(struct lf_pool *p, const struct lf_local *l, enum lf_kind k)
{
	return (l->group[k] != NO_GROUP ? l->group[k] + 1 :
		atomic_fetch_add_explicit(&p->next_group, 1, memory_order_relaxed)) % p->nr_groups;
}

static int alloc_frame(struct lf_pool *p, struct lf_local *l, enum lf_kind k, uint32_t *pfn)
{
	uint32_t start;

	if (l->group[k] != NO_GROUP && frame_from_group(p, l, l->group[k], k, pfn))
		return 0;
	start = search_start(p, l, k);
	for (unsigned int pass = 0; pass < GROUP_PASSES; pass++) {
		for (uint32_t i = 0; i < p->nr_groups; i++) {
			uint32_t g = (start + i) % p->nr_groups;

			if (!group_suits(p, l, g, pass))
				continue;
			reserve_group(p, l, k, g);
			if (frame_from_group(p, l, g, k, pfn))
				return 0;
		}
	}
	unreserve(p, l, k);
	/* every chunk with room is another kind's: steal a frame */
	for (uint32_t c = 0; c < p->nr_chunks; c++) {
		if (reserve_frame(p, c, k, TAKE_ANY)) {
			*pfn = take_frame(p, c);
			return 0;
		}
	}
	return -ENOMEM;
}

/* ---- whole chunks ---- */

/* Takes chunk c whole if it is wholly free, with flags; what its entry was
 * goes to *was. */
static bool take_chunk(struct lf_pool *p, uint32_t c, uint32_t flags, enum lf_kind k, uint32_t *was)
{
	uint32_t e = atomic_load_explicit(&p->chunks[c], memory_order_relaxed);

	while (!(e & (LF_CHUNK_HUGE | LF_CHUNK_ISOLATED)) && lf_entry_free(e) == LF_CHUNK_FRAMES)
		if (atomic_compare_exchange_weak_explicit(&p->chunks[c], &e,
							  entry_make(0, LF_CHUNK_HUGE | flags, k),
							  memory_order_acquire, memory_order_relaxed)) {
			*was = e;
			return true;
		}
	return false;
}

/* An aligned pair of wholly free chunks from c: the head taken busy (no
 * other call accepts it), then the tail, then the head made a pair's; a
 * tail that is not free gives the head back as it was. */
static bool take_pair(struct lf_pool *p, uint32_t c, enum lf_kind k)
{
	uint32_t head, tail;

	if (!take_chunk(p, c, LF_CHUNK_PAIR_BUSY, k, &head))
		return false;
	if (!take_chunk(p, c + 1, LF_CHUNK_PAIR_TAIL, k, &tail)) {
		atomic_store_explicit(&p->chunks[c], head, memory_order_release);
		return false;
	}
	atomic_store_explicit(&p->chunks[c], entry_make(0, LF_CHUNK_HUGE | LF_CHUNK_PAIR_HEAD, k),
			      memory_order_release);
	return true;
}

/* Chunks one (order 9) or two (order 10, an aligned pair) in group g. */
static bool chunks_from_group(struct lf_pool *p, uint32_t g, unsigned int order, enum lf_kind k,
			      uint32_t *pfn)
{
	uint32_t first = group_first_chunk(g), n = group_nr_chunks(p, g);
	uint32_t want = 1U << (order - LF_CHUNK_ORDER), was;

	if (atomic_load_explicit(&p->groups[g].free, memory_order_relaxed) < want * LF_CHUNK_FRAMES)
		return false;
	for (uint32_t c = first; c + want <= first + n; c += want) {
		if (want == 1 ? !take_chunk(p, c, 0, k, &was) : !take_pair(p, c, k))
			continue;
		atomic_fetch_sub_explicit(&p->groups[g].free, want * LF_CHUNK_FRAMES, memory_order_relaxed);
		*pfn = c * LF_CHUNK_FRAMES;
		return true;
	}
	return false;
}

/* Whole chunks from l's group first, then the next groups; the group that
 * had one becomes l's, so threads taking chunks keep to their own. */
static int alloc_chunks(struct lf_pool *p, struct lf_local *l, unsigned int order, enum lf_kind k,
			uint32_t *pfn)
{
	uint32_t start;

	if (l->group[k] != NO_GROUP && chunks_from_group(p, l->group[k], order, k, pfn))
		return 0;
	/* the groups in the order a frame looks for one: another thread's
	 * reserved group last, or two threads taking chunks side by side
	 * share its counter and its chunks' cache lines */
	start = search_start(p, l, k);
	for (unsigned int pass = 0; pass < GROUP_PASSES; pass++) {
		for (uint32_t i = 0; i < p->nr_groups; i++) {
			uint32_t g = (start + i) % p->nr_groups;

			if (!group_suits(p, l, g, pass) || !chunks_from_group(p, g, order, k, pfn))
				continue;
			if (l->group[k] != g)
				reserve_group(p, l, k, g);
			return 0;
		}
	}
	return -ENOMEM;
}

int lf_alloc(struct lf_pool *p, struct lf_local *l, unsigned int order, enum migratetype mt,
	     uint32_t *pfn)
{
	enum lf_kind k = kind_of(mt);

	if (k == LF_KIND_NONE || (order != 0 && order != LF_CHUNK_ORDER && order != LF_CHUNK_ORDER + 1))
		return -EINVAL;
	return order ? alloc_chunks(p, l, order, k, pfn) : alloc_frame(p, l, k, pfn);
}

int lf_alloc_in_chunk(struct lf_pool *p, uint32_t c, enum migratetype mt, uint32_t *pfn)
{
	enum lf_kind k = kind_of(mt);

	if (k == LF_KIND_NONE || c >= p->nr_chunks)
		return -EINVAL;
	if (!reserve_frame(p, c, k, TAKE_TARGET))
		return -ENOMEM;
	*pfn = take_frame(p, c);
	return 0;
}

int lf_alloc_at(struct lf_pool *p, uint32_t pfn, enum migratetype mt)
{
	enum lf_kind k = kind_of(mt);
	uint32_t c = pfn / LF_CHUNK_FRAMES;
	uint64_t mask = 1ULL << (pfn % 64), v;
	uint32_t before;

	if (k == LF_KIND_NONE)
		return -EINVAL;
	if (pfn >= p->nr_frames)
		return -ERANGE;
	before = atomic_load_explicit(&p->chunks[c], memory_order_relaxed);
	if (!reserve_frame(p, c, k, TAKE_OWN) && !reserve_frame(p, c, k, TAKE_FREE) &&
	    !reserve_frame(p, c, k, TAKE_ANY))
		return -EBUSY;
	v = atomic_load_explicit(&p->bits[pfn / 64], memory_order_relaxed);
	do {
		if (v & mask) {
			/* taken: give the reservation back (no bit was set for
			 * it), and a wholly free chunk's kind as it was */
			uint32_t claimed = entry_make(LF_CHUNK_FRAMES - 1, 0, k);

			if (lf_entry_free(before) != LF_CHUNK_FRAMES ||
			    !atomic_compare_exchange_strong_explicit(&p->chunks[c], &claimed, before,
								     memory_order_release, memory_order_relaxed))
				atomic_fetch_add_explicit(&p->chunks[c], 1, memory_order_release);
			return -EBUSY;
		}
	} while (!atomic_compare_exchange_weak_explicit(&p->bits[pfn / 64], &v, v | mask,
							memory_order_acquire, memory_order_relaxed));
	atomic_fetch_sub_explicit(&p->groups[group_of(c)].free, 1, memory_order_relaxed);
	return 0;
}

bool lf_isolate_chunk(struct lf_pool *p, uint32_t c)
{
	uint32_t e;

	if (c >= p->nr_chunks)
		return false;
	e = atomic_load_explicit(&p->chunks[c], memory_order_relaxed);
	while (!(e & (LF_CHUNK_HUGE | LF_CHUNK_ISOLATED)))
		if (atomic_compare_exchange_weak_explicit(&p->chunks[c], &e, e | LF_CHUNK_ISOLATED,
							  memory_order_acq_rel, memory_order_relaxed))
			return true;
	return false;
}

void lf_unisolate_chunk(struct lf_pool *p, uint32_t c)
{
	if (c < p->nr_chunks)
		atomic_fetch_and_explicit(&p->chunks[c], ~LF_CHUNK_ISOLATED, memory_order_release);
}

/* ---- freeing ---- */

static bool bit_set(const struct lf_pool *p, uint32_t pfn)
{
	return atomic_load_explicit(&p->bits[pfn / 64], memory_order_relaxed) & 1ULL << (pfn % 64);
}

static int free_frame(struct lf_pool *p, uint32_t pfn)
{
	uint32_t c = pfn / LF_CHUNK_FRAMES;
	uint64_t mask = 1ULL << (pfn % 64), v;

	if (atomic_load_explicit(&p->chunks[c], memory_order_relaxed) & LF_CHUNK_HUGE)
		return -EINVAL;		/* inside a whole-chunk allocation */
	v = atomic_load_explicit(&p->bits[pfn / 64], memory_order_relaxed);
	do {
		if (!(v & mask))
			return -ENOENT;
	} while (!atomic_compare_exchange_weak_explicit(&p->bits[pfn / 64], &v, v & ~mask,
							memory_order_release, memory_order_relaxed));
	FAILPOINT("lf-frame-bit-cleared");	/* counters below the bits */
	atomic_fetch_add_explicit(&p->groups[group_of(c)].free, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&p->chunks[c], 1, memory_order_release);
	return 0;
}

/* Why pfn is not the head of a whole-chunk allocation of this order: a
 * frame allocated alone is the wrong order, a free one a double free. */
static int not_whole(const struct lf_pool *p, uint32_t pfn)
{
	return bit_set(p, pfn) ? -EINVAL : -ENOENT;
}

static int free_chunks(struct lf_pool *p, uint32_t pfn, unsigned int order)
{
	uint32_t c = pfn / LF_CHUNK_FRAMES, g = group_of(c);
	uint32_t e = atomic_load_explicit(&p->chunks[c], memory_order_acquire);

	for (;;) {
		if (!(e & LF_CHUNK_HUGE))
			return not_whole(p, pfn);
		if (order == LF_CHUNK_ORDER && (e & LF_CHUNK_PAIR_BUSY))
			return -EINVAL;		/* half of a pair */
		if (order > LF_CHUNK_ORDER && (e & LF_CHUNK_PAIR_BUSY) == LF_CHUNK_PAIR_BUSY)
			return -ENOENT;		/* being built or freed: not the caller's */
		if (order > LF_CHUNK_ORDER && !(e & LF_CHUNK_PAIR_HEAD))
			return -EINVAL;		/* an order-9 block */
		/* the group first: it may count more than its chunks, never less */
		atomic_fetch_add_explicit(&p->groups[g].free, LF_CHUNK_FRAMES << (order - LF_CHUNK_ORDER),
					  memory_order_relaxed);
		if (order == LF_CHUNK_ORDER) {
			if (atomic_compare_exchange_strong_explicit(&p->chunks[c], &e,
					entry_make(LF_CHUNK_FRAMES, 0, lf_entry_kind(e)),
					memory_order_release, memory_order_acquire))
				return 0;
		} else {
			/* claim the pair by making its head busy (a racing free of
			 * it, at either order, is refused), then free the tail and
			 * the head; no other call changes either meanwhile */
			if (atomic_compare_exchange_strong_explicit(&p->chunks[c], &e,
					entry_make(0, LF_CHUNK_HUGE | LF_CHUNK_PAIR_BUSY, lf_entry_kind(e)),
					memory_order_acq_rel, memory_order_acquire)) {
				atomic_store_explicit(&p->chunks[c + 1],
						      entry_make(LF_CHUNK_FRAMES, 0, lf_entry_kind(e)),
						      memory_order_release);
				atomic_store_explicit(&p->chunks[c],
						      entry_make(LF_CHUNK_FRAMES, 0, lf_entry_kind(e)),
						      memory_order_release);
				return 0;
			}
		}
		/* someone else changed the entry: undo and look again */
		atomic_fetch_sub_explicit(&p->groups[g].free, LF_CHUNK_FRAMES << (order - LF_CHUNK_ORDER),
					  memory_order_relaxed);
	}
}

int lf_free(struct lf_pool *p, uint32_t pfn, unsigned int order)
{
	if (order > MAX_ORDER)
		return -EINVAL;
	if (pfn >= p->nr_frames || pfn + (1ULL << order) > p->nr_frames)
		return -ERANGE;
	if (pfn & ((1U << order) - 1))
		return -EINVAL;
	if (order == 0)
		return free_frame(p, pfn);
	if (order < LF_CHUNK_ORDER)	/* never allocated at that order */
		return lf_frame_used(p, pfn) ? -EINVAL : -ENOENT;
	return free_chunks(p, pfn, order);
}

/* Sets every bit of chunk c: its frames become single allocations. */
static void set_all_bits(struct lf_pool *p, uint32_t c)
{
	for (unsigned int i = 0; i < LF_WORDS_PER_CHUNK; i++)
		atomic_store_explicit(&p->bits[(size_t)c * LF_WORDS_PER_CHUNK + i], ~0ULL,
				      memory_order_relaxed);
}

int lf_split(struct lf_pool *p, uint32_t pfn)
{
	uint32_t c = pfn / LF_CHUNK_FRAMES, e, pair;

	if (pfn >= p->nr_frames)
		return -ERANGE;
	e = atomic_load_explicit(&p->chunks[c], memory_order_acquire);
	if (!(e & LF_CHUNK_HUGE))
		return bit_set(p, pfn) ? 0 : -ENOENT;	/* a frame of its own already, or free */
	pair = e & LF_CHUNK_PAIR_BUSY;
	if (pfn % LF_CHUNK_FRAMES || pair == LF_CHUNK_PAIR_TAIL)
		return -EINVAL;		/* not the head of the allocation */
	if (pair == LF_CHUNK_PAIR_BUSY)
		return -ENOENT;		/* a pair being built or freed: not the caller's */
	/* busy while the bits are set: every other call refuses it meanwhile */
	if (!atomic_compare_exchange_strong_explicit(&p->chunks[c], &e,
			entry_make(0, LF_CHUNK_HUGE | LF_CHUNK_PAIR_BUSY, lf_entry_kind(e)),
			memory_order_acq_rel, memory_order_acquire))
		return -ENOENT;		/* freed meanwhile: it was not the caller's */
	FAILPOINT("lf-split-busy");		/* a busy entry, bits half set */
	set_all_bits(p, c);
	if (pair) {
		set_all_bits(p, c + 1);
		atomic_store_explicit(&p->chunks[c + 1], entry_make(0, 0, lf_entry_kind(e)),
				      memory_order_release);
	}
	atomic_store_explicit(&p->chunks[c], entry_make(0, 0, lf_entry_kind(e)), memory_order_release);
	return 0;
}

/* ---- recovery ---- */

/* Chunk c's allocations as frames: every bit set, the entry 0 free. */
static void make_frames(struct lf_pool *p, uint32_t c, uint32_t e)
{
	set_all_bits(p, c);
	atomic_store_explicit(&p->chunks[c], entry_make(0, 0, lf_entry_kind(e)), memory_order_relaxed);
}

void lf_recover(struct lf_pool *p, struct lf_recovery *r)
{
	memset(r, 0, sizeof(*r));
	for (uint32_t c = 0; c < p->nr_chunks; c++) {
		uint32_t e = atomic_load_explicit(&p->chunks[c], memory_order_relaxed);
		uint32_t pair = e & LF_CHUNK_PAIR_BUSY;

		if (e & LF_CHUNK_ISOLATED) {
			e &= ~LF_CHUNK_ISOLATED;
			atomic_store_explicit(&p->chunks[c], e, memory_order_relaxed);
			r->isolated_chunks++;
		}
		if ((e & LF_CHUNK_HUGE) && pair == LF_CHUNK_PAIR_BUSY) {
			uint32_t t = c + 1 < p->nr_chunks ?
				     atomic_load_explicit(&p->chunks[c + 1], memory_order_relaxed) : 0;

			make_frames(p, c, e);
			if ((t & LF_CHUNK_HUGE) && (t & LF_CHUNK_PAIR_BUSY) == LF_CHUNK_PAIR_TAIL)
				make_frames(p, ++c, t);
			r->busy_chunks++;
			continue;
		}
		if ((e & LF_CHUNK_HUGE) && pair == LF_CHUNK_PAIR_HEAD) {
			uint32_t t = c + 1 < p->nr_chunks ?
				     atomic_load_explicit(&p->chunks[c + 1], memory_order_relaxed) : 0;

			if ((t & LF_CHUNK_HUGE) && (t & LF_CHUNK_PAIR_BUSY) == LF_CHUNK_PAIR_TAIL) {
				c++;		/* a whole pair */
				continue;
			}
			make_frames(p, c, e);	/* a head without its tail */
			r->broken_pairs++;
			continue;
		}
		if ((e & LF_CHUNK_HUGE) && pair == LF_CHUNK_PAIR_TAIL) {
			make_frames(p, c, e);
			r->broken_pairs++;
			continue;
		}
		if (e & LF_CHUNK_HUGE) {
			/* an order-9 block: its bits are clear while it is whole */
			for (unsigned int i = 0; i < LF_WORDS_PER_CHUNK; i++)
				atomic_store_explicit(&p->bits[(size_t)c * LF_WORDS_PER_CHUNK + i], 0,
						      memory_order_relaxed);
			continue;
		}
		{
			uint32_t zeros = 0;

			for (unsigned int i = 0; i < LF_WORDS_PER_CHUNK; i++)
				zeros += 64 - (uint32_t)__builtin_popcountll(atomic_load_explicit(
					&p->bits[(size_t)c * LF_WORDS_PER_CHUNK + i], memory_order_relaxed));
			if (lf_entry_free(e) != zeros) {
				atomic_store_explicit(&p->chunks[c], entry_make(zeros, 0, lf_entry_kind(e)),
						      memory_order_relaxed);
				r->counts_fixed++;
			}
		}
	}
	for (uint32_t g = 0; g < p->nr_groups; g++) {
		uint32_t free = 0;

		for (uint32_t c = group_first_chunk(g); c < group_first_chunk(g) + group_nr_chunks(p, g); c++) {
			uint32_t e = atomic_load_explicit(&p->chunks[c], memory_order_relaxed);

			free += e & LF_CHUNK_HUGE ? 0 : lf_entry_free(e);
		}
		atomic_store_explicit(&p->groups[g].free, free, memory_order_relaxed);
		atomic_store_explicit(&p->hints[g].reserved, 0, memory_order_relaxed);
	}
}

/* ---- what the pool holds ---- */

bool lf_frame_used(const struct lf_pool *p, uint32_t pfn)
{
	return pfn < p->nr_frames && ((atomic_load_explicit(&p->chunks[pfn / LF_CHUNK_FRAMES], memory_order_relaxed) &
		LF_CHUNK_HUGE) || bit_set(p, pfn));
}

uint64_t lf_free_frames(const struct lf_pool *p)
{
	uint64_t sum = 0;

	for (uint32_t g = 0; g < p->nr_groups; g++)
		sum += atomic_load_explicit(&p->groups[g].free, memory_order_relaxed);
	return sum;
}

enum lf_kind lf_chunk_kind(const struct lf_pool *p, uint32_t chunk)
{
	if (chunk >= p->nr_chunks)
		return LF_KIND_NONE;
	return lf_entry_kind(atomic_load_explicit(&p->chunks[chunk], memory_order_relaxed));
}

size_t lf_metadata_bytes(const struct lf_pool *p)
{
	return (size_t)p->nr_chunks * (LF_WORDS_PER_CHUNK * sizeof(*p->bits) + sizeof(*p->chunks)) +
	       (size_t)p->nr_groups * (sizeof(*p->groups) + sizeof(*p->hints)) + sizeof(*p);
}

/* Is [first, first + 2^order) of a chunk's words all clear? order <= 9. */
static bool bits_clear(const uint64_t *w, uint32_t first, unsigned int order)
{
	if (order >= 6) {
		for (uint32_t i = first / 64; i < (first + (1U << order)) / 64; i++)
			if (w[i])
				return false;
		return true;
	}
	return !((w[first / 64] >> (first % 64)) & ((1ULL << (1U << order)) - 1));
}

/* The largest aligned all-free blocks in [first, first + 2^order). */
static void count_free_blocks(const uint64_t *w, uint32_t first, unsigned int order,
			      uint64_t nr_free[NR_ORDERS])
{
	if (bits_clear(w, first, order)) {
		nr_free[order]++;
		return;
	}
	if (order == 0)
		return;
	count_free_blocks(w, first, order - 1, nr_free);
	count_free_blocks(w, first + (1U << (order - 1)), order - 1, nr_free);
}

static bool chunk_wholly_free(const struct lf_pool *p, uint32_t c)
{
	uint32_t e = atomic_load_explicit(&p->chunks[c], memory_order_relaxed);

	return !(e & LF_CHUNK_HUGE) && lf_entry_free(e) == LF_CHUNK_FRAMES;
}

static void load_chunk_bits(const struct lf_pool *p, uint32_t c, uint64_t w[LF_WORDS_PER_CHUNK])
{
	for (unsigned int i = 0; i < LF_WORDS_PER_CHUNK; i++)
		w[i] = atomic_load_explicit(&p->bits[(size_t)c * LF_WORDS_PER_CHUNK + i],
					    memory_order_relaxed);
}

void lf_chunk_nr_free(const struct lf_pool *p, uint32_t c, uint64_t nr_free[NR_ORDERS])
{
	uint64_t w[LF_WORDS_PER_CHUNK];

	if (chunk_wholly_free(p, c)) {
		nr_free[LF_CHUNK_ORDER]++;
		return;
	}
	if (atomic_load_explicit(&p->chunks[c], memory_order_relaxed) & LF_CHUNK_HUGE)
		return;
	load_chunk_bits(p, c, w);
	count_free_blocks(w, 0, LF_CHUNK_ORDER, nr_free);
}

void lf_nr_free(const struct lf_pool *p, uint64_t nr_free[NR_ORDERS])
{
	memset(nr_free, 0, NR_ORDERS * sizeof(nr_free[0]));
	for (uint32_t c = 0; c < p->nr_chunks; c++) {
		/* order 10: an aligned pair of free chunks, as buddies merge */
		if (!(c & 1) && c + 1 < p->nr_chunks && chunk_wholly_free(p, c) &&
		    chunk_wholly_free(p, c + 1)) {
			nr_free[LF_CHUNK_ORDER + 1]++;
			c++;
			continue;
		}
		lf_chunk_nr_free(p, c, nr_free);
	}
}

int lf_free_order(const struct lf_pool *p, uint32_t pfn)
{
	uint32_t c = pfn / LF_CHUNK_FRAMES, first = pfn % LF_CHUNK_FRAMES;
	uint64_t w[LF_WORDS_PER_CHUNK];
	unsigned int order = 0;

	if (pfn >= p->nr_frames)
		return -1;
	if (chunk_wholly_free(p, c) && !first)
		return !(c & 1) && c + 1 < p->nr_chunks && chunk_wholly_free(p, c + 1) ?
		       LF_CHUNK_ORDER + 1 : LF_CHUNK_ORDER;
	if (atomic_load_explicit(&p->chunks[c], memory_order_relaxed) & LF_CHUNK_HUGE)
		return -1;
	load_chunk_bits(p, c, w);
	if (!bits_clear(w, first, 0))
		return -1;
	while (order < LF_CHUNK_ORDER && !(first & ((2U << order) - 1)) &&
	       bits_clear(w, first, order + 1))
		order++;
	return (int)order;
}

int lf_check(const struct lf_pool *p, char *msg, size_t len)
{
	for (uint32_t g = 0; g < p->nr_groups; g++) {
		uint64_t sum = 0;

		for (uint32_t c = group_first_chunk(g); c < group_first_chunk(g) + group_nr_chunks(p, g); c++) {
			uint32_t e = atomic_load(&p->chunks[c]), zeros = 0;
			uint32_t pair = e & (LF_CHUNK_PAIR_HEAD | LF_CHUNK_PAIR_TAIL);

			for (unsigned int i = 0; i < LF_WORDS_PER_CHUNK; i++)
				zeros += 64 - (uint32_t)__builtin_popcountll(
					atomic_load(&p->bits[(size_t)c * LF_WORDS_PER_CHUNK + i]));
			if (lf_entry_kind(e) >= LF_NR_KINDS) {
				snprintf(msg, len, "chunk %u: kind %u", c, lf_entry_kind(e));
				return -EUCLEAN;
			}
			if (e & LF_CHUNK_HUGE) {
				uint32_t other = pair == LF_CHUNK_PAIR_HEAD ? c + 1 : c - 1;
				uint32_t want = pair == LF_CHUNK_PAIR_HEAD ? LF_CHUNK_PAIR_TAIL : LF_CHUNK_PAIR_HEAD;

				if (lf_entry_free(e) || zeros != LF_CHUNK_FRAMES) {
					snprintf(msg, len, "chunk %u allocated whole, but counts %u free and "
						 "%u clear bits", c, lf_entry_free(e), zeros);
					return -EUCLEAN;
				}
				if (pair && (pair == (LF_CHUNK_PAIR_HEAD | LF_CHUNK_PAIR_TAIL) ||
					     (c & 1) != (pair == LF_CHUNK_PAIR_TAIL) || other >= p->nr_chunks ||
					     !(atomic_load(&p->chunks[other]) & want))) {
					snprintf(msg, len, "chunk %u: half of an order-10 block without "
						 "its other half", c);
					return -EUCLEAN;
				}
				continue;
			}
			if (pair || lf_entry_free(e) != zeros) {
				snprintf(msg, len, "chunk %u: counts %u free, has %u clear bits%s", c,
					 lf_entry_free(e), zeros, pair ? ", and a pair flag" : "");
				return -EUCLEAN;
			}
			sum += zeros;
		}
		if (atomic_load(&p->groups[g].free) != sum) {
			snprintf(msg, len, "group %u: counts %u free, its chunks %lu", g,
				 atomic_load(&p->groups[g].free), (unsigned long)sum);
			return -EUCLEAN;
		}
	}
	return 0;
}
