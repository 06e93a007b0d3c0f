/* Reference model of the buddy allocator's free lists. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/buddy_model.h"

void model_init(struct buddy_model *m, uint32_t nr_frames)
{
	m->nr_frames = nr_frames;
	m->used = calloc(nr_frames, 1);
	m->prefix = calloc((size_t)nr_frames + 1, sizeof(*m->prefix));
}

void model_destroy(struct buddy_model *m)
{
	free(m->used);
	free(m->prefix);
}

const char *model_alloc(struct buddy_model *m, uint32_t pfn, unsigned int order)
{
	uint32_t n = 1U << order;

	if ((uint64_t)pfn + n > m->nr_frames)
		return "block beyond the pool";
	if (pfn & (n - 1))
		return "block not aligned to its order";
	for (uint32_t i = 0; i < n; i++)
		if (m->used[pfn + i])
			return "frame handed out twice";
	memset(m->used + pfn, 1, n);
	return NULL;
}

void model_free(struct buddy_model *m, uint32_t pfn, unsigned int order)
{
	memset(m->used + pfn, 0, 1U << order);
}

struct expect {
	uint64_t count[NR_ORDERS][MIGRATE_TYPES];
	uint64_t free_frames;
};

static int all_free(const struct buddy_model *m, uint32_t pfn, unsigned int order)
{
	return m->prefix[pfn + (1U << order)] == m->prefix[pfn];
}

/* The largest aligned all-free blocks in [pfn, pfn + 2^order), counted by
 * order and, with a zone, by its pageblocks' type (else as type 0). */
static void decompose(const struct buddy_model *m, const struct zone *z, uint32_t pfn,
		      unsigned int order, struct expect *e)
{
	if (pfn >= m->nr_frames)
		return;
	if ((uint64_t)pfn + (1U << order) <= m->nr_frames && all_free(m, pfn, order)) {
		e->count[order][z ? pageblock_migratetype(z, pfn) : 0]++;
		e->free_frames += 1U << order;
		return;
	}
	if (order == 0)
		return;
	decompose(m, z, pfn, order - 1, e);
	decompose(m, z, pfn + (1U << (order - 1)), order - 1, e);
}

/* Walks one free list, checking each entry's descriptor. */
static int check_list(const struct zone *z, unsigned int order, unsigned int mt,
		      uint64_t *len, char *msg, size_t size)
{
	uint32_t head = z->free_area[order].head[mt];

	*len = 0;
	if (head == PFN_NONE)
		return 0;
	for (uint32_t pfn = head;;) {
		const struct frame *f = &z->frames[pfn];

		if (!(f->flags & FRAME_BUDDY) || f->order != order || f->mt != mt) {
			snprintf(msg, size, "list order %u type %u: frame %u has flags %#x order %u mt %u",
				 order, mt, pfn, f->flags, f->order, f->mt);
			return -1;
		}
		unsigned int pbo = z->pageblock_order;

		for (uint32_t i = 0; i < (order > pbo ? 1U << (order - pbo) : 1); i++) {
			uint32_t p = pfn + (i << pbo);

			if (pageblock_migratetype(z, p) != mt) {
				snprintf(msg, size, "free block %u order %u on list %u but pageblock type %u",
					 pfn, order, mt, pageblock_migratetype(z, p));
				return -1;
			}
		}
		if (z->frames[f->lru.next].lru.prev != pfn) {
			snprintf(msg, size, "list order %u type %u broken at %u", order, mt, pfn);
			return -1;
		}
		if (++*len > z->nr_frames) {
			snprintf(msg, size, "list order %u type %u loops", order, mt);
			return -1;
		}
		pfn = f->lru.next;
		if (pfn == head)
			break;
	}
	return 0;
}

static void rebuild_prefix(struct buddy_model *m)
{
	for (uint32_t i = 0; i < m->nr_frames; i++)
		m->prefix[i + 1] = m->prefix[i] + m->used[i];
}

void model_nr_free(struct buddy_model *m, uint64_t nr_free[NR_ORDERS])
{
	struct expect e;

	memset(&e, 0, sizeof(e));
	rebuild_prefix(m);
	for (uint32_t pfn = 0; pfn < m->nr_frames; pfn += 1U << MAX_ORDER)
		decompose(m, NULL, pfn, MAX_ORDER, &e);
	for (unsigned int o = 0; o < NR_ORDERS; o++)
		nr_free[o] = e.count[o][0];
}

uint64_t model_free_frames(const struct buddy_model *m)
{
	uint64_t n = 0;

	for (uint32_t i = 0; i < m->nr_frames; i++)
		n += !m->used[i];
	return n;
}

int model_check(struct buddy_model *m, const struct zone *z, char *msg, size_t size)
{
	struct expect e;

	memset(&e, 0, sizeof(e));
	rebuild_prefix(m);
	for (uint32_t i = 0; i < m->nr_frames; i++) {
		if (m->used[i] != (z->frames[i].state == FRAME_USED)) {
			snprintf(msg, size, "frame %u: model says %s, zone says %s", i,
				 m->used[i] ? "used" : "free",
				 z->frames[i].state == FRAME_USED ? "used" : "free");
			return -1;
		}
	}
	for (uint32_t pfn = 0; pfn < m->nr_frames; pfn += 1U << MAX_ORDER)
		decompose(m, z, pfn, MAX_ORDER, &e);
	if (e.free_frames != z->free_frames) {
		snprintf(msg, size, "free frames: expected %lu, zone has %lu",
			 (unsigned long)e.free_frames, (unsigned long)z->free_frames);
		return -1;
	}
	for (unsigned int o = 0; o < NR_ORDERS; o++) {
		uint64_t sum = 0;

		for (unsigned int t = 0; t < MIGRATE_TYPES; t++) {
			uint64_t len;

			if (e.count[o][t] != z->free_area[o].nr_free_type[t]) {
				snprintf(msg, size, "order %u type %s: expected %lu free blocks, zone counts %lu",
					 o, migratetype_names[t], (unsigned long)e.count[o][t],
					 (unsigned long)z->free_area[o].nr_free_type[t]);
				return -1;
			}
			if (check_list(z, o, t, &len, msg, size))
				return -1;
			if (len != e.count[o][t]) {
				snprintf(msg, size, "order %u type %s: expected %lu blocks on the list, walked %lu",
					 o, migratetype_names[t], (unsigned long)e.count[o][t],
					 (unsigned long)len);
				return -1;
			}
			sum += len;
		}
		if (sum != z->free_area[o].nr_free) {
			snprintf(msg, size, "order %u: nr_free %lu, lists hold %lu", o,
				 (unsigned long)z->free_area[o].nr_free, (unsigned long)sum);
			return -1;
		}
	}
	return 0;
}
