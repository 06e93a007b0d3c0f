/* Buddy allocator over pool frames, following mm/page_alloc.c: free lists
 * per order and migratetype, expand() on allocation, coalescing on free,
 * fallback to other migratetypes with whole-pageblock claiming. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mm/buddy.h"

const char *const migratetype_names[MIGRATE_TYPES] = {
	"Unmovable", "Movable", "Reclaimable", "HighAtomic", "Isolate",
};

/* mm/page_alloc.c fallbacks[]: where each type looks when its lists are empty. */
static const enum migratetype fallbacks[NR_ALLOC_TYPES][NR_ALLOC_TYPES - 1] = {
	[MIGRATE_UNMOVABLE]   = { MIGRATE_RECLAIMABLE, MIGRATE_MOVABLE },
	[MIGRATE_MOVABLE]     = { MIGRATE_RECLAIMABLE, MIGRATE_UNMOVABLE },
	[MIGRATE_RECLAIMABLE] = { MIGRATE_UNMOVABLE, MIGRATE_MOVABLE },
};

static void list_add(struct zone *z, uint32_t pfn, unsigned int order,
		     enum migratetype mt, bool tail)
{
	struct free_area *area = &z->free_area[order];
	struct frame *f = &z->frames[pfn];
	uint32_t head = area->head[mt];

	f->state = FRAME_FREE;
	f->flags = FRAME_BUDDY;
	f->order = order;
	f->mt = mt;
	if (head == PFN_NONE) {
		f->lru.next = f->lru.prev = pfn;
		area->head[mt] = pfn;
	} else {
		/* circular list: head's prev is the tail */
		uint32_t last = z->frames[head].lru.prev;

		f->lru.next = head;
		f->lru.prev = last;
		z->frames[last].lru.next = pfn;
		z->frames[head].lru.prev = pfn;
		if (!tail)
			area->head[mt] = pfn;
	}
	area->nr_free_type[mt]++;
	area->nr_free++;
}

static void list_del(struct zone *z, uint32_t pfn)
{
	struct frame *f = &z->frames[pfn];
	struct free_area *area = &z->free_area[f->order];
	enum migratetype mt = f->mt;

	if (f->lru.next == pfn) {
		area->head[mt] = PFN_NONE;
	} else {
		z->frames[f->lru.prev].lru.next = f->lru.next;
		z->frames[f->lru.next].lru.prev = f->lru.prev;
		if (area->head[mt] == pfn)
			area->head[mt] = f->lru.next;
	}
	f->flags &= ~FRAME_BUDDY;
	area->nr_free_type[mt]--;
	area->nr_free--;
}

static bool is_free_head(const struct zone *z, uint32_t pfn, unsigned int order)
{
	return pfn < z->nr_frames && (z->frames[pfn].flags & FRAME_BUDDY) &&
	       z->frames[pfn].order == order;
}

static bool migratetype_is_mergeable(enum migratetype mt)
{
	return mt < NR_ALLOC_TYPES;
}

static void set_pageblock_range(struct zone *z, uint32_t pfn, unsigned int order,
				enum migratetype mt)
{
	unsigned int pb = pfn_to_pageblock(z, pfn);
	unsigned int n = order > z->pageblock_order ? 1U << (order - z->pageblock_order) : 1;

	for (unsigned int i = 0; i < n; i++)
		z->pageblock[pb + i] = (z->pageblock[pb + i] & ~PB_MT_MASK) | mt;
}

/* buddy_merge_likely(): put a block at the tail when its parent's buddy is
 * free, so it is not handed out before its buddy comes back to merge. */
static bool buddy_merge_likely(const struct zone *z, uint32_t pfn, uint32_t buddy,
			       unsigned int order)
{
	uint32_t higher;

	if (order >= MAX_ORDER - 1)
		return false;
	higher = buddy & pfn;
	return is_free_head(z, higher ^ (1U << (order + 1)), order + 1);
}

/* __free_one_page(): the frames are already marked free; merge upwards. */
static void free_one(struct zone *z, uint32_t pfn, unsigned int order, enum migratetype mt)
{
	uint32_t buddy = PFN_NONE;
	bool tail = false;

	while (order < MAX_ORDER) {
		enum migratetype buddy_mt;

		buddy = pfn ^ (1U << order);
		if (!is_free_head(z, buddy, order))
			break;
		buddy_mt = (enum migratetype)z->frames[buddy].mt;
		if (order >= z->pageblock_order && buddy_mt != mt &&
		    (!migratetype_is_mergeable(mt) || !migratetype_is_mergeable(buddy_mt)))
			break;
		list_del(z, buddy);
		if (buddy_mt != mt)
			set_pageblock_range(z, buddy, order, mt);
		pfn &= buddy;
		order++;
	}
	if (buddy != PFN_NONE && order < MAX_ORDER)
		tail = buddy_merge_likely(z, pfn, buddy, order);
	list_add(z, pfn, order, mt, tail);
}

int buddy_init(struct zone *z, uint64_t nr_frames)
{
	return buddy_init_pageblock(z, nr_frames, PAGEBLOCK_ORDER);
}

int zone_init_frames(struct zone *z, uint64_t nr_frames, unsigned int pageblock_order)
{
	uint64_t pb_frames = 1ULL << pageblock_order;

	memset(z, 0, sizeof(*z));
	if (pageblock_order < 1 || pageblock_order > MAX_ORDER)
		return -EINVAL;
	if (nr_frames < pb_frames || nr_frames > ZONE_MAX_FRAMES || nr_frames % pb_frames)
		return -EINVAL;
	z->pageblock_order = pageblock_order;
	z->nr_frames = (uint32_t)nr_frames;
	z->nr_pageblocks = (uint32_t)(nr_frames / pb_frames);
	z->frames = calloc(nr_frames, sizeof(*z->frames));
	z->pageblock = malloc(z->nr_pageblocks);
	if (!z->frames || !z->pageblock) {
		free(z->frames);
		free(z->pageblock);
		memset(z, 0, sizeof(*z));
		return -ENOMEM;
	}
	memset(z->pageblock, MIGRATE_MOVABLE, z->nr_pageblocks);
	for (unsigned int o = 0; o < NR_ORDERS; o++)
		for (unsigned int t = 0; t < MIGRATE_TYPES; t++)
			z->free_area[o].head[t] = PFN_NONE;
	pthread_mutex_init(&z->lock, NULL);
	z->free_frames = z->nr_frames;
	return 0;
}

int buddy_init_pageblock(struct zone *z, uint64_t nr_frames, unsigned int pageblock_order)
{
	int err = zone_init_frames(z, nr_frames, pageblock_order);

	if (err)
		return err;
	/* Hand the whole pool to the allocator in the largest aligned blocks,
	 * as memblock_free_pages() does at boot. */
	for (uint32_t pfn = 0; pfn < z->nr_frames;) {
		unsigned int order = MAX_ORDER;

		while ((pfn & ((1U << order) - 1)) || pfn + (1ULL << order) > z->nr_frames)
			order--;
		list_add(z, pfn, order, MIGRATE_MOVABLE, true);
		pfn += 1U << order;
	}
	return 0;
}

void buddy_destroy(struct zone *z)
{
	free(z->frames);
	free(z->pageblock);
	pthread_mutex_destroy(&z->lock);
	memset(z, 0, sizeof(*z));
}

/* expand(): split a block of order high down to low, freeing upper halves. */
static void expand(struct zone *z, uint32_t pfn, unsigned int low, unsigned int high,
		   enum migratetype mt)
{
	while (high > low) {
		high--;
		list_add(z, pfn + (1U << high), high, mt, false);
	}
}

void frames_mark_used(struct zone *z, uint32_t pfn, unsigned int order, enum migratetype mt)
{
	uint32_t n = 1U << order;

	for (uint32_t i = 0; i < n; i++) {
		struct frame *f = &z->frames[pfn + i];

		f->state = FRAME_USED;
		f->order = order;
		f->mt = mt;
		f->flags = i ? FRAME_TAIL : 0;
		f->use.gfn = PFN_NONE;
		f->use.pins = 0;
	}
	z->free_frames -= n;
}

static uint32_t rmqueue_smallest(struct zone *z, unsigned int order, enum migratetype mt)
{
	for (unsigned int o = order; o < NR_ORDERS; o++) {
		uint32_t pfn = z->free_area[o].head[mt];

		if (pfn == PFN_NONE)
			continue;
		list_del(z, pfn);
		expand(z, pfn, order, o, mt);
		return pfn;
	}
	return PFN_NONE;
}

/* should_try_claim_block(): small movable allocations steal single blocks
 * rather than whole pageblocks, to keep movable and unmovable apart. */
static bool should_try_claim_block(const struct zone *z, unsigned int order,
				   enum migratetype start_mt)
{
	return order >= z->pageblock_order / 2 || start_mt != MIGRATE_MOVABLE;
}

/* find_suitable_fallback(): -1 no block at this order, -2 too small to claim. */
static int find_suitable_fallback(const struct zone *z, unsigned int order,
				  enum migratetype mt, bool claimable)
{
	const struct free_area *area = &z->free_area[order];

	if (claimable && order < z->pageblock_order && !should_try_claim_block(z, order, mt))
		return -2;
	if (!area->nr_free)
		return -1;
	for (unsigned int i = 0; i < NR_ALLOC_TYPES - 1; i++) {
		enum migratetype fmt = fallbacks[mt][i];

		if (area->head[fmt] != PFN_NONE)
			return fmt;
	}
	return -1;
}

/* Moves every free block of a pageblock onto the lists of type mt. */
static void move_freepages_block(struct zone *z, uint32_t start, enum migratetype mt)
{
	for (uint32_t pfn = start; pfn < start + pageblock_nr_frames(z);) {
		struct frame *f = &z->frames[pfn];

		if (f->flags & FRAME_BUDDY) {
			unsigned int order = f->order;

			list_del(z, pfn);
			list_add(z, pfn, order, mt, false);
			pfn += 1U << order;
		} else {
			pfn++;
		}
	}
}

void buddy_set_pageblock_migratetype(struct zone *z, uint32_t pfn, enum migratetype mt)
{
	uint32_t start = pageblock_start_pfn(z, pfn);

	move_freepages_block(z, start, mt);
	set_pageblock_range(z, start, 0, mt);
}

void buddy_unisolate_pageblock(struct zone *z, uint32_t pfn, enum migratetype mt)
{
	uint32_t start = pageblock_start_pfn(z, pfn), end = start + pageblock_nr_frames(z);

	/* retype, then take each free block off its list and free it again,
	 * so it merges with free neighbours outside the block */
	set_pageblock_range(z, start, 0, mt);
	for (uint32_t p = start; p < end;) {
		struct frame *f = &z->frames[p];

		if (f->flags & FRAME_BUDDY) {
			unsigned int order = f->order;

			list_del(z, p);
			free_one(z, p, order, mt);
			p += 1U << order;
		} else {
			p++;
		}
	}
}

/* try_to_claim_block(): take a whole pageblock for start_mt when enough of
 * it is free or already holds start_mt-like frames. */
static uint32_t try_to_claim_block(struct zone *z, uint32_t pfn, unsigned int current_order,
				   unsigned int order, enum migratetype start_mt,
				   enum migratetype block_mt)
{
	uint32_t start, free_frames = 0, movable = 0, alike;
	uint32_t pb_frames = pageblock_nr_frames(z);

	if (current_order >= z->pageblock_order) {
		list_del(z, pfn);
		set_pageblock_range(z, pfn, current_order, start_mt);
		expand(z, pfn, order, current_order, start_mt);
		return pfn;
	}
	start = pageblock_start_pfn(z, pfn);
	for (uint32_t p = start; p < start + pb_frames;) {
		const struct frame *f = &z->frames[p];

		if (f->flags & FRAME_BUDDY) {
			free_frames += 1U << f->order;
			p += 1U << f->order;
			continue;
		}
		if (f->state == FRAME_USED && f->mt == MIGRATE_MOVABLE)
			movable++;
		p++;
	}
	if (start_mt == MIGRATE_MOVABLE)
		alike = movable;
	else if (block_mt == MIGRATE_MOVABLE)
		alike = pb_frames - (free_frames + movable);
	else
		alike = 0;
	if (free_frames + alike >= pb_frames / 2) {
		buddy_set_pageblock_migratetype(z, start, start_mt);
		return rmqueue_smallest(z, order, start_mt);
	}
	return PFN_NONE;
}

/* __rmqueue_claim(): largest fallback block first, to claim whole blocks. */
static uint32_t rmqueue_claim(struct zone *z, unsigned int order, enum migratetype mt)
{
	for (int o = MAX_ORDER; o >= (int)order; o--) {
		int fmt = find_suitable_fallback(z, o, mt, true);
		uint32_t pfn;

		if (fmt == -1)
			continue;
		if (fmt == -2)
			break;
		pfn = try_to_claim_block(z, z->free_area[o].head[fmt], o, order, mt, fmt);
		if (pfn != PFN_NONE)
			return pfn;
	}
	return PFN_NONE;
}

/* __rmqueue_steal(): smallest fallback block, leaving its pageblock's type alone. */
static uint32_t rmqueue_steal(struct zone *z, unsigned int order, enum migratetype mt)
{
	for (unsigned int o = order; o < NR_ORDERS; o++) {
		int fmt = find_suitable_fallback(z, o, mt, false);
		uint32_t pfn;

		if (fmt < 0)
			continue;
		pfn = z->free_area[o].head[fmt];
		list_del(z, pfn);
		expand(z, pfn, order, o, fmt);
		return pfn;
	}
	return PFN_NONE;
}

int buddy_alloc(struct zone *z, unsigned int order, enum migratetype mt, uint32_t *out)
{
	uint32_t pfn;

	if (order > MAX_ORDER || (unsigned int)mt >= NR_ALLOC_TYPES)
		return -EINVAL;
	pfn = rmqueue_smallest(z, order, mt);
	if (pfn == PFN_NONE)
		pfn = rmqueue_claim(z, order, mt);
	if (pfn == PFN_NONE)
		pfn = rmqueue_steal(z, order, mt);
	if (pfn == PFN_NONE)
		return -ENOMEM;
	frames_mark_used(z, pfn, order, mt);
	*out = pfn;
	return 0;
}

static int check_allocation(const struct zone *z, uint32_t pfn, unsigned int order)
{
	const struct frame *f;

	if (order > MAX_ORDER)
		return -EINVAL;
	if (pfn >= z->nr_frames || pfn + (1ULL << order) > z->nr_frames)
		return -ERANGE;
	if (pfn & ((1U << order) - 1))
		return -EINVAL;
	f = &z->frames[pfn];
	if (f->state != FRAME_USED)
		return -ENOENT;
	if ((f->flags & FRAME_TAIL) || f->order != order)
		return -EINVAL;
	return 0;
}

/* ---- the zone lock's holders ---- */

void zone_lock_account(struct zone *z)
{
	uint64_t held = mono_ns() - z->lock_since_ns;
	struct zone_lock_site *site = NULL;

	for (unsigned int i = 0; i < z->nr_lock_sites && !site; i++)
		if (z->lock_sites[i].name == z->lock_site)
			site = &z->lock_sites[i];
	if (!site) {
		if (z->nr_lock_sites < ZONE_LOCK_SITES)
			z->nr_lock_sites++;
		site = &z->lock_sites[z->nr_lock_sites - 1];
		if (site->name && site->name != z->lock_site)
			site->name = "(others)";
		else
			site->name = z->lock_site;
	}
	if (!site->holds++ || held < site->min_ns)
		site->min_ns = held;
	site->total_ns += held;
	if (held > site->max_ns)
		site->max_ns = held;
}

unsigned int zone_lock_sites(const struct zone *z, struct zone_lock_site *out, unsigned int max)
{
	unsigned int n = z->nr_lock_sites < max ? z->nr_lock_sites : max;

	memcpy(out, z->lock_sites, n * sizeof(*out));
	return n;
}

void frames_mark_free(struct zone *z, uint32_t pfn, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		frame_clear_flag(z, pfn + i, FRAME_HUGE);
		z->frames[pfn + i].state = FRAME_FREE;
		z->frames[pfn + i].flags = 0;
	}
	z->free_frames += n;
}

int frames_check_free(const struct zone *z, uint32_t pfn, unsigned int order)
{
	int err = check_allocation(z, pfn, order);

	if (err)
		return err;
	for (uint32_t i = 0; i < (1U << order); i++)
		if (z->frames[pfn + i].flags & FRAME_PINNED)
			return -EBUSY;
	return 0;
}

int buddy_free(struct zone *z, uint32_t pfn, unsigned int order)
{
	int err = frames_check_free(z, pfn, order);

	if (err)
		return err;
	frames_mark_free(z, pfn, 1U << order);
	free_one(z, pfn, order, pageblock_migratetype(z, pfn));
	return 0;
}

/* The used frame pfn, or NULL with -ERANGE / -ENOENT in *err. */
static struct frame *used_frame(struct zone *z, uint32_t pfn, int *err)
{
	if (pfn >= z->nr_frames) {
		*err = -ERANGE;
		return NULL;
	}
	if (z->frames[pfn].state != FRAME_USED) {
		*err = -ENOENT;
		return NULL;
	}
	return &z->frames[pfn];
}

int buddy_split(struct zone *z, uint32_t pfn)
{
	int err = 0;
	struct frame *f = used_frame(z, pfn, &err);
	uint32_t n;

	if (!f)
		return err;
	if (f->flags & FRAME_TAIL)
		return -EINVAL;
	n = 1U << f->order;
	for (uint32_t i = 0; i < n; i++) {
		f[i].order = 0;
		f[i].flags &= ~FRAME_TAIL;
	}
	return 0;
}

int buddy_isolate_free(struct zone *z, uint32_t pfn)
{
	unsigned int order;

	if (pfn >= z->nr_frames || !(z->frames[pfn].flags & FRAME_BUDDY))
		return -EINVAL;
	order = z->frames[pfn].order;
	list_del(z, pfn);
	frames_mark_used(z, pfn, order, MIGRATE_MOVABLE);
	return 0;
}

bool buddy_suitable_free_block(const struct zone *z, unsigned int order, enum migratetype mt)
{
	for (unsigned int o = order; o < NR_ORDERS; o++) {
		if (z->free_area[o].head[mt] != PFN_NONE)
			return true;
		if (find_suitable_fallback(z, o, mt, true) >= 0)
			return true;
	}
	return false;
}

void buddy_nr_free(const struct zone *z, uint64_t nr_free[NR_ORDERS])
{
	for (unsigned int o = 0; o < NR_ORDERS; o++)
		nr_free[o] = z->free_area[o].nr_free;
}

int buddy_clone(struct zone *dst, const struct zone *src)
{
	int err = buddy_init_pageblock(dst, src->nr_frames, src->pageblock_order);

	if (err)
		return err;
	/* free lists link by frame number, so a byte copy is a deep copy */
	memcpy(dst->frames, src->frames, (size_t)src->nr_frames * sizeof(*src->frames));
	memcpy(dst->pageblock, src->pageblock, src->nr_pageblocks);
	memcpy(dst->free_area, src->free_area, sizeof(src->free_area));
	memcpy(dst->events, src->events, sizeof(src->events));
	dst->free_frames = src->free_frames;
	dst->nr_pinned = src->nr_pinned;
	dst->nr_huge = src->nr_huge;
	return 0;
}

/* Adds a pin to a used frame, or takes one away. */
static int change_pins(struct zone *z, uint32_t pfn, bool pin)
{
	int err = 0;
	struct frame *f = used_frame(z, pfn, &err);

	if (!f)
		return err;
	if (pin) {
		if (f->use.pins == UINT32_MAX)
			return -EOVERFLOW;
		f->use.pins++;
		frame_set_flag(z, pfn, FRAME_PINNED);
	} else {
		if (!(f->flags & FRAME_PINNED))
			return -EINVAL;
		if (!--f->use.pins)
			frame_clear_flag(z, pfn, FRAME_PINNED);
	}
	return 0;
}

int buddy_pin(struct zone *z, uint32_t pfn)
{
	return change_pins(z, pfn, true);
}

int buddy_unpin(struct zone *z, uint32_t pfn)
{
	return change_pins(z, pfn, false);
}

/* ---- consistency ---- */

#define CHECK_FAIL(...) do { snprintf(msg, len, __VA_ARGS__); return -EUCLEAN; } while (0)

/* Walks every free list: each entry a free block head of the list's order
 * and type, the counts as the area says. Adds up the free frames. */
static int check_lists(const struct zone *z, uint64_t *free_frames, char *msg, size_t len)
{
	for (unsigned int o = 0; o < NR_ORDERS; o++) {
		uint64_t all = 0;

		for (unsigned int t = 0; t < MIGRATE_TYPES; t++) {
			uint32_t head = z->free_area[o].head[t], pfn = head;
			uint64_t n = 0;

			while (pfn != PFN_NONE) {
				const struct frame *f;

				if (pfn >= z->nr_frames || n > z->nr_frames)
					CHECK_FAIL("free list order %u %s: broken link to frame %u", o,
						   migratetype_names[t], pfn);
				f = &z->frames[pfn];
				if (!(f->flags & FRAME_BUDDY) || f->order != o || f->mt != t)
					CHECK_FAIL("free list order %u %s holds frame %u (order %u, type %u, "
						   "flags 0x%x)", o, migratetype_names[t], pfn, f->order, f->mt,
						   f->flags);
				n++;
				pfn = f->lru.next;
				if (pfn == head)
					break;
			}
			if (n != z->free_area[o].nr_free_type[t])
				CHECK_FAIL("free list order %u %s has %lu blocks, its count says %lu", o,
					   migratetype_names[t], (unsigned long)n,
					   (unsigned long)z->free_area[o].nr_free_type[t]);
			all += n;
		}
		if (all != z->free_area[o].nr_free)
			CHECK_FAIL("order %u: %lu free blocks on the lists, nr_free says %lu", o,
				   (unsigned long)all, (unsigned long)z->free_area[o].nr_free);
		*free_frames += all << o;
	}
	return 0;
}

int buddy_check(const struct zone *z, char *msg, size_t len)
{
	uint64_t listed = 0, free_frames = 0, pinned = 0, huge = 0;
	int err = check_lists(z, &listed, msg, len);

	if (err)
		return err;
	for (uint32_t pfn = 0; pfn < z->nr_frames;) {
		const struct frame *f = &z->frames[pfn];
		uint32_t n = 1U << f->order;

		if (f->state == FRAME_FREE && !(f->flags & FRAME_BUDDY))
			CHECK_FAIL("frame %u is free but in no free block", pfn);
		if (f->flags & FRAME_TAIL)
			CHECK_FAIL("frame %u is a tail without a head", pfn);
		if (f->order > MAX_ORDER || pfn & (n - 1) || (uint64_t)pfn + n > z->nr_frames)
			CHECK_FAIL("frame %u heads a block of order %u that does not fit", pfn, f->order);
		for (uint32_t i = 1; i < n; i++) {
			const struct frame *t = &z->frames[pfn + i];

			if (t->state != f->state || (f->state == FRAME_USED && !(t->flags & FRAME_TAIL)) ||
			    (t->flags & FRAME_BUDDY))
				CHECK_FAIL("frame %u does not belong to the block of order %u at %u", pfn + i,
					   f->order, pfn);
		}
		if (f->state == FRAME_FREE)
			free_frames += n;
		for (uint32_t i = 0; i < n; i++) {
			pinned += (f[i].flags & FRAME_PINNED) != 0;
			huge += (f[i].flags & FRAME_HUGE) != 0;
		}
		pfn += n;
	}
	if (pinned != z->nr_pinned || huge != z->nr_huge)
		CHECK_FAIL("%lu frames pinned and %lu huge, the counters say %lu and %lu",
			   (unsigned long)pinned, (unsigned long)huge, (unsigned long)z->nr_pinned,
			   (unsigned long)z->nr_huge);
	if (free_frames != listed || free_frames != z->free_frames)
		CHECK_FAIL("%lu frames free, %lu on the free lists, free_frames says %lu",
			   (unsigned long)free_frames, (unsigned long)listed, (unsigned long)z->free_frames);
	return 0;
}
