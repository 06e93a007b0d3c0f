/* A zone's allocator: the buddy or the lock-free allocator (see
 * zone_alloc.h). The buddy keeps its free lists in the descriptors, so its
 * side is a call each; the lock-free side takes and gives frames by the
 * allocator's own atomic steps, then writes the descriptors, and mirrors a
 * chunk's kind and isolation into its pageblock byte, where the views and
 * the compaction scanners read a pageblock's type. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mm/lockfree.h"
#include "mm/zone_alloc.h"

const char *const zone_allocator_names[NR_ZONE_ALLOCATORS] = {
	[ZONE_BUDDY] = "buddy",
	[ZONE_LOCKFREE] = "lockfree",
};

int zone_allocator_parse(const char *name, enum zone_allocator *a)
{
	for (unsigned int i = 0; i < NR_ZONE_ALLOCATORS; i++) {
		if (!strcmp(name, zone_allocator_names[i])) {
			*a = (enum zone_allocator)i;
			return 0;
		}
	}
	return -EINVAL;
}

static bool lockfree(const struct zone *z)
{
	return z->allocator == ZONE_LOCKFREE;
}

/*
 * The lock-free allocator's free blocks per order, for the views and the
 * compaction engine, which ask after every batch. Counting them from the
 * bits takes a walk of every chunk (tens of milliseconds on 16 GiB, under
 * the zone lock); instead each chunk's count is kept and only the chunks
 * changed since the last question are counted again. Orders 0..9 per
 * chunk (9: wholly free); order 10 is an aligned pair of wholly free
 * chunks, merged in the totals as the buddy merges buddies.
 */
#define VIEW_ORDERS	(LF_CHUNK_ORDER + 1)

struct lf_view {
	uint16_t (*chunk)[VIEW_ORDERS];		/* per chunk, as last counted */
	uint32_t *dirty;			/* chunks changed since */
	uint32_t nr_dirty;
	uint8_t *is_dirty;
	uint64_t total[VIEW_ORDERS];		/* sums of ->chunk */
	uint64_t pairs;				/* wholly free aligned pairs */
};

static struct lf_view *view_create(uint32_t nr_chunks)
{
	struct lf_view *v = calloc(1, sizeof(*v));

	if (!v)
		return NULL;
	v->chunk = calloc(nr_chunks, sizeof(*v->chunk));
	v->dirty = calloc(nr_chunks, sizeof(*v->dirty));
	v->is_dirty = calloc(nr_chunks, 1);
	if (!v->chunk || !v->dirty || !v->is_dirty) {
		free(v->chunk);
		free(v->dirty);
		free(v->is_dirty);
		free(v);
		return NULL;
	}
	/* all free: every chunk one free block of order 9 */
	for (uint32_t c = 0; c < nr_chunks; c++)
		v->chunk[c][LF_CHUNK_ORDER] = 1;
	v->total[LF_CHUNK_ORDER] = nr_chunks;
	v->pairs = nr_chunks / 2;
	return v;
}

static void view_destroy(struct lf_view *v)
{
	if (!v)
		return;
	free(v->chunk);
	free(v->dirty);
	free(v->is_dirty);
	free(v);
}

static void view_touch(struct zone *z, uint32_t first_pfn, uint32_t n)
{
	struct lf_view *v = z->lf_view;

	for (uint32_t c = first_pfn / LF_CHUNK_FRAMES; c <= (first_pfn + n - 1) / LF_CHUNK_FRAMES; c++) {
		if (!v->is_dirty[c]) {
			v->is_dirty[c] = 1;
			v->dirty[v->nr_dirty++] = c;
		}
	}
}

static bool view_pair_free(const struct lf_view *v, uint32_t c, uint32_t nr_chunks)
{
	c &= ~1U;
	return c + 1 < nr_chunks && v->chunk[c][LF_CHUNK_ORDER] && v->chunk[c + 1][LF_CHUNK_ORDER];
}

/* Counts the changed chunks again. */
static const struct lf_view *view_refresh(const struct zone *z)
{
	struct lf_view *v = z->lf_view;

	for (uint32_t i = 0; i < v->nr_dirty; i++) {
		uint32_t c = v->dirty[i];
		uint64_t now[NR_ORDERS] = { 0 };
		bool pair_before = view_pair_free(v, c, z->lf->nr_chunks);

		lf_chunk_nr_free(z->lf, c, now);
		for (unsigned int o = 0; o < VIEW_ORDERS; o++) {
			v->total[o] += now[o] - v->chunk[c][o];
			v->chunk[c][o] = (uint16_t)now[o];
		}
		v->pairs += (uint64_t)view_pair_free(v, c, z->lf->nr_chunks) - pair_before;
		v->is_dirty[c] = 0;
	}
	v->nr_dirty = 0;
	return v;
}

static void sync_pageblock(struct zone *z, uint32_t chunk);

/* A lock-free zone, its bits and chunk entries in memory of its own
 * (bits NULL) or the caller's (fresh: all free; else as they are). */
static int init_lockfree(struct zone *z, uint64_t nr_frames, _Atomic uint64_t *bits,
			 _Atomic uint32_t *chunks, bool fresh)
{
	int err = zone_init_frames(z, nr_frames, PAGEBLOCK_ORDER);

	if (err)
		return err;
	z->allocator = ZONE_LOCKFREE;
	z->lf = calloc(1, sizeof(*z->lf));
	z->lf_local = aligned_alloc(64, sizeof(*z->lf_local));
	err = !z->lf || !z->lf_local ? -ENOMEM :
	      bits ? lf_init_on(z->lf, nr_frames, bits, chunks, fresh) : lf_init(z->lf, nr_frames);
	if (!err) {
		z->lf_view = view_create(z->lf->nr_chunks);
		if (!z->lf_view) {
			lf_destroy(z->lf);
			err = -ENOMEM;
		}
	}
	if (err) {
		free(z->lf);
		free(z->lf_local);
		z->lf = NULL;
		z->lf_local = NULL;
		buddy_destroy(z);
		return err;
	}
	lf_local_init(z->lf_local);
	return 0;
}

int zone_init(struct zone *z, uint64_t nr_frames, enum zone_allocator a)
{
	if (a == ZONE_BUDDY)
		return buddy_init(z, nr_frames);
	if (a != ZONE_LOCKFREE)
		return -EINVAL;
	return init_lockfree(z, nr_frames, NULL, NULL, true);
}

int zone_init_on(struct zone *z, uint64_t nr_frames, _Atomic uint64_t *bits,
		 _Atomic uint32_t *chunks, bool fresh)
{
	if (!bits || !chunks)
		return -EINVAL;
	return init_lockfree(z, nr_frames, bits, chunks, fresh);
}

void zone_resync(struct zone *z)
{
	/* frames_mark_used() counts each used frame down from here */
	z->free_frames = z->nr_frames;
	for (uint32_t pfn = 0; pfn < z->nr_frames; pfn++) {
		memset(&z->frames[pfn], 0, sizeof(z->frames[pfn]));
		if (lf_frame_used(z->lf, pfn))
			frames_mark_used(z, pfn, 0, MIGRATE_MOVABLE);
	}
	z->nr_pinned = z->nr_huge = 0;
	for (uint32_t c = 0; c < z->lf->nr_chunks; c++) {
		z->pageblock[c] = MIGRATE_MOVABLE;
		sync_pageblock(z, c);
	}
	view_touch(z, 0, z->nr_frames);
}

void zone_destroy(struct zone *z)
{
	if (z->lf) {
		lf_local_release(z->lf, z->lf_local);
		lf_destroy(z->lf);
		free(z->lf);
		free(z->lf_local);
		view_destroy(z->lf_view);
	}
	buddy_destroy(z);
}

bool zone_order_allocatable(const struct zone *z, unsigned int order)
{
	if (lockfree(z))
		return order == 0 || order == LF_CHUNK_ORDER || order == LF_CHUNK_ORDER + 1;
	return order <= MAX_ORDER;
}

/* A chunk's pageblock byte from its kind: a chunk never allocated from is
 * MOVABLE, as every pageblock starts; an isolated one stays ISOLATE until
 * zone_unisolate_pageblock() (the skip hint kept). */
static void sync_pageblock(struct zone *z, uint32_t chunk)
{
	uint8_t *pb = &z->pageblock[chunk];
	enum migratetype mt;

	if ((*pb & PB_MT_MASK) == MIGRATE_ISOLATE)
		return;
	mt = lf_chunk_kind(z->lf, chunk) == LF_KIND_UNMOVABLE ? MIGRATE_UNMOVABLE : MIGRATE_MOVABLE;
	*pb = (uint8_t)((*pb & PB_SKIP) | mt);
}

int zone_alloc(struct zone *z, unsigned int order, enum migratetype mt, uint32_t *pfn)
{
	int err;

	if (!lockfree(z))
		return buddy_alloc(z, order, mt, pfn);
	err = lf_alloc(z->lf, z->lf_local, order, mt, pfn);
	if (err)
		return err;
	frames_mark_used(z, *pfn, order, mt);
	view_touch(z, *pfn, 1U << order);
	for (uint32_t c = *pfn / LF_CHUNK_FRAMES; c <= (*pfn + (1U << order) - 1) / LF_CHUNK_FRAMES; c++)
		sync_pageblock(z, c);
	return 0;
}

/* The descriptors and the bits disagree: the zone is broken, and going on
 * would hand a frame out twice (vm_check() would say where). */
static void lf_bug(const char *what, uint32_t pfn, int err)
{
	fprintf(stderr, "vmdefrag: BUG: lock-free %s of frame %u: %s\n", what, pfn, strerror(-err));
	abort();
}

int zone_free(struct zone *z, uint32_t pfn, unsigned int order)
{
	int err;

	if (!lockfree(z))
		return buddy_free(z, pfn, order);
	err = frames_check_free(z, pfn, order);
	if (err)
		return err;
	if (!zone_order_allocatable(z, order))
		return -EINVAL;
	err = lf_free(z->lf, pfn, order);
	if (err)
		lf_bug("free", pfn, err);
	frames_mark_free(z, pfn, 1U << order);
	view_touch(z, pfn, 1U << order);
	return 0;
}

int zone_split(struct zone *z, uint32_t pfn)
{
	int err;

	if (lockfree(z)) {
		/* its checks are buddy_split()'s: on an error nothing changed */
		err = lf_split(z->lf, pfn);
		if (err)
			return err;
	}
	return buddy_split(z, pfn);
}

int zone_free_block_order(const struct zone *z, uint32_t pfn)
{
	const struct frame *f;

	if (lockfree(z))
		return lf_free_order(z->lf, pfn);
	if (pfn >= z->nr_frames)
		return -1;
	f = &z->frames[pfn];
	return f->flags & FRAME_BUDDY ? f->order : -1;
}

int zone_take_free(struct zone *z, uint32_t pfn)
{
	int order = zone_free_block_order(z, pfn);
	uint32_t n;

	if (order < 0)
		return -EINVAL;
	n = 1U << order;
	for (uint32_t p = pfn; p < pfn + n; p += pageblock_nr_frames(z))
		if (pageblock_migratetype(z, p) == MIGRATE_ISOLATE)
			return -EBUSY;
	if (!lockfree(z)) {
		buddy_isolate_free(z, pfn);
		buddy_split(z, pfn);
		return order;
	}
	for (uint32_t i = 0; i < n; i++) {
		int err = lf_alloc_at(z->lf, pfn + i, MIGRATE_MOVABLE);

		/* a free frame of a chunk not isolated: refused only if
		 * the bits and the descriptors disagree */
		if (err)
			lf_bug("take", pfn + i, err);
	}
	for (uint32_t i = 0; i < n; i++)
		frames_mark_used(z, pfn + i, 0, MIGRATE_MOVABLE);
	view_touch(z, pfn, n);
	for (uint32_t c = pfn / LF_CHUNK_FRAMES; c <= (pfn + n - 1) / LF_CHUNK_FRAMES; c++)
		sync_pageblock(z, c);
	return order;
}

void zone_nr_free(const struct zone *z, uint64_t nr_free[NR_ORDERS])
{
	const struct lf_view *v;

	if (!lockfree(z)) {
		buddy_nr_free(z, nr_free);
		return;
	}
	v = view_refresh(z);
	for (unsigned int o = 0; o < VIEW_ORDERS; o++)
		nr_free[o] = v->total[o];
	nr_free[LF_CHUNK_ORDER] -= 2 * v->pairs;
	nr_free[LF_CHUNK_ORDER + 1] = v->pairs;
}

void zone_nr_free_type(const struct zone *z, enum migratetype mt, uint64_t nr_free[NR_ORDERS])
{
	const struct lf_view *v;
	uint32_t nr_chunks;

	if (!lockfree(z)) {
		buddy_nr_free_type(z, mt, nr_free);
		return;
	}
	v = view_refresh(z);
	nr_chunks = z->lf->nr_chunks;
	memset(nr_free, 0, NR_ORDERS * sizeof(nr_free[0]));
	for (uint32_t c = 0; c < nr_chunks; c++) {
		if (pageblock_migratetype(z, c * LF_CHUNK_FRAMES) != mt)
			continue;
		/* two wholly free chunks of one type, a pair apart: order 10 */
		if (!(c & 1) && view_pair_free(v, c, nr_chunks) &&
		    pageblock_migratetype(z, (c + 1) * LF_CHUNK_FRAMES) == mt) {
			nr_free[LF_CHUNK_ORDER + 1]++;
			c++;
			continue;
		}
		for (unsigned int o = 0; o < VIEW_ORDERS; o++)
			nr_free[o] += v->chunk[c][o];
	}
}

/* A free block of order or more in a chunk of type mt, or a wholly free
 * chunk (pair, for order 10) that an allocation could claim; not in an
 * isolated chunk. */
static bool lf_suitable_free_block(const struct zone *z, unsigned int order, enum migratetype mt)
{
	const struct lf_view *v = view_refresh(z);
	uint32_t nr_chunks = z->lf->nr_chunks;

	for (uint32_t c = 0; c < nr_chunks; c++) {
		if (lf_chunk_entry(z->lf, c) & LF_CHUNK_ISOLATED)
			continue;
		if (order > LF_CHUNK_ORDER) {
			if (!(c & 1) && view_pair_free(v, c, nr_chunks) &&
			    !(lf_chunk_entry(z->lf, c + 1) & LF_CHUNK_ISOLATED))
				return true;
			continue;
		}
		if (v->chunk[c][LF_CHUNK_ORDER])
			return true;
		if (pageblock_migratetype(z, c * LF_CHUNK_FRAMES) != mt)
			continue;
		for (unsigned int o = order; o < VIEW_ORDERS; o++)
			if (v->chunk[c][o])
				return true;
	}
	return false;
}

bool zone_suitable_free_block(const struct zone *z, unsigned int order, enum migratetype mt)
{
	if (lockfree(z))
		return order <= MAX_ORDER && lf_suitable_free_block(z, order, mt);
	return buddy_suitable_free_block(z, order, mt);
}

bool zone_isolate_pageblock(struct zone *z, uint32_t pfn)
{
	uint32_t pb = pfn_to_pageblock(z, pfn);

	if (pageblock_migratetype(z, pfn) == MIGRATE_ISOLATE)
		return false;
	if (!lockfree(z)) {
		buddy_set_pageblock_migratetype(z, pfn, MIGRATE_ISOLATE);
		return true;
	}
	if (!lf_isolate_chunk(z->lf, pb))
		return false;
	z->pageblock[pb] = (uint8_t)((z->pageblock[pb] & PB_SKIP) | MIGRATE_ISOLATE);
	return true;
}

void zone_unisolate_pageblock(struct zone *z, uint32_t pfn, enum migratetype mt)
{
	uint32_t pb = pfn_to_pageblock(z, pfn);

	if (!lockfree(z)) {
		buddy_unisolate_pageblock(z, pfn, mt);
		return;
	}
	lf_unisolate_chunk(z->lf, pb);
	/* the type the chunk's kind gives it, whatever it was before */
	z->pageblock[pb] = (uint8_t)((z->pageblock[pb] & PB_SKIP) | MIGRATE_MOVABLE);
	sync_pageblock(z, pb);
}

#define CHECK_FAIL(...) do { snprintf(msg, len, __VA_ARGS__); return -EUCLEAN; } while (0)

/* The descriptors against the bits, frame by frame, and the counters. */
static int lf_zone_check(const struct zone *z, char *msg, size_t len)
{
	uint64_t free_frames = 0, pinned = 0, huge = 0;
	int err = lf_check(z->lf, msg, len);

	if (err)
		return err;
	for (uint32_t pfn = 0; pfn < z->nr_frames;) {
		const struct frame *f = &z->frames[pfn];
		uint32_t n = f->state == FRAME_USED ? 1U << f->order : 1;

		if (f->flags & FRAME_TAIL)
			CHECK_FAIL("frame %u is a tail without a head", pfn);
		if (f->state == FRAME_USED && !zone_order_allocatable(z, f->order))
			CHECK_FAIL("frame %u heads a block of order %u, which the lock-free "
				   "allocator does not make", pfn, f->order);
		if (pfn & (n - 1) || (uint64_t)pfn + n > z->nr_frames)
			CHECK_FAIL("frame %u heads a block of order %u that does not fit", pfn, f->order);
		for (uint32_t i = 0; i < n; i++) {
			const struct frame *t = &f[i];

			if (i && (t->state != FRAME_USED || !(t->flags & FRAME_TAIL)))
				CHECK_FAIL("frame %u does not belong to the block of order %u at %u",
					   pfn + i, f->order, pfn);
			if ((t->state == FRAME_USED) != lf_frame_used(z->lf, pfn + i))
				CHECK_FAIL("frame %u is %s, but its bit says %s", pfn + i,
					   t->state == FRAME_USED ? "used" : "free",
					   lf_frame_used(z->lf, pfn + i) ? "used" : "free");
			if (t->state == FRAME_FREE && t->flags)
				CHECK_FAIL("free frame %u has flags %#x", pfn + i, t->flags);
			free_frames += t->state == FRAME_FREE;
			pinned += (t->flags & FRAME_PINNED) != 0;
			huge += (t->flags & FRAME_HUGE) != 0;
		}
		pfn += n;
	}
	for (uint32_t c = 0; c < z->lf->nr_chunks; c++) {
		bool isolated = lf_chunk_entry(z->lf, c) & LF_CHUNK_ISOLATED;

		if (isolated != (pageblock_migratetype(z, c * LF_CHUNK_FRAMES) == MIGRATE_ISOLATE))
			CHECK_FAIL("chunk %u is %sisolated, its pageblock says %s", c, isolated ? "" : "not ",
				   migratetype_names[pageblock_migratetype(z, c * LF_CHUNK_FRAMES)]);
	}
	if (pinned != z->nr_pinned || huge != z->nr_huge)
		CHECK_FAIL("%lu frames pinned and %lu huge, the counters say %lu and %lu",
			   (unsigned long)pinned, (unsigned long)huge, (unsigned long)z->nr_pinned,
			   (unsigned long)z->nr_huge);
	if (free_frames != z->free_frames || free_frames != lf_free_frames(z->lf))
		CHECK_FAIL("%lu frames free, the allocator counts %lu, free_frames says %lu",
			   (unsigned long)free_frames, (unsigned long)lf_free_frames(z->lf),
			   (unsigned long)z->free_frames);
	return 0;
}

int zone_check(const struct zone *z, char *msg, size_t len)
{
	return lockfree(z) ? lf_zone_check(z, msg, len) : buddy_check(z, msg, len);
}
