/* p2m and reverse map, changed only together. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mm/p2m.h"

static int check_unowned(const struct p2m *m, uint32_t pfn);

int p2m_init(struct p2m *m, struct zone *z, uint32_t nr_gfns)
{
	m->external = false;
	m->zone = z;
	m->nr_gfns = nr_gfns;
	m->nr_mapped = 0;
	m->nr_breaks = 0;
	m->pfn_of = malloc((size_t)nr_gfns * sizeof(*m->pfn_of) + 1);
	if (!m->pfn_of)
		return -ENOMEM;
	for (uint32_t g = 0; g < nr_gfns; g++)
		m->pfn_of[g] = PFN_NONE;
	return 0;
}

int p2m_init_on(struct p2m *m, struct zone *z, uint32_t nr_gfns, uint32_t *pfn_of, bool fresh)
{
	m->zone = z;
	m->nr_gfns = nr_gfns;
	m->nr_mapped = 0;
	m->nr_breaks = 0;
	m->pfn_of = pfn_of;
	m->external = true;
	if (fresh) {
		for (uint32_t g = 0; g < nr_gfns; g++)
			m->pfn_of[g] = PFN_NONE;
		return 0;
	}
	for (uint32_t g = 0; g < nr_gfns; g++) {
		uint32_t pfn = pfn_of[g];

		if (g + 1 < nr_gfns)
			m->nr_breaks += !p2m_contiguous(m, g);
		if (pfn == PFN_NONE)
			continue;
		if (check_unowned(m, pfn))
			return -EUCLEAN;	/* pmem_reconcile() refuses such a p2m */
		z->frames[pfn].use.gfn = g;
		m->nr_mapped++;
	}
	return 0;
}

void p2m_destroy(struct p2m *m)
{
	if (!m->external)
		free(m->pfn_of);
	m->pfn_of = NULL;
	m->nr_gfns = 0;
}

static int check_unowned(const struct p2m *m, uint32_t pfn)
{
	const struct frame *f;

	if (pfn >= m->zone->nr_frames)
		return -ERANGE;
	f = &m->zone->frames[pfn];
	if (f->state != FRAME_USED)
		return -ENOENT;
	if (f->use.gfn != PFN_NONE)
		return -EBUSY;
	return 0;
}

/* Takes gfn's two boundaries out of nr_breaks before gfn changes, and
 * puts them back after: the count stays exact at O(1) a change. */
static void count_breaks(struct p2m *m, uint32_t gfn, int sign)
{
	uint64_t n = 0;

	if (gfn > 0)
		n += !p2m_contiguous(m, gfn - 1);
	if (gfn + 1 < m->nr_gfns)
		n += !p2m_contiguous(m, gfn);
	m->nr_breaks += sign > 0 ? n : -n;
}

static void set_pfn(struct p2m *m, uint32_t gfn, uint32_t pfn)
{
	count_breaks(m, gfn, -1);
	m->pfn_of[gfn] = pfn;
	count_breaks(m, gfn, 1);
}

int p2m_map(struct p2m *m, uint32_t gfn, uint32_t pfn)
{
	int err;

	if (gfn >= m->nr_gfns)
		return -ERANGE;
	err = check_unowned(m, pfn);
	if (err)
		return err;
	if (m->pfn_of[gfn] != PFN_NONE)
		return -EEXIST;
	set_pfn(m, gfn, pfn);
	m->zone->frames[pfn].use.gfn = gfn;
	m->nr_mapped++;
	return 0;
}

int p2m_unmap(struct p2m *m, uint32_t gfn, uint32_t *pfn)
{
	uint32_t old;

	if (gfn >= m->nr_gfns)
		return -ERANGE;
	old = m->pfn_of[gfn];
	if (old == PFN_NONE)
		return -ENOENT;
	set_pfn(m, gfn, PFN_NONE);
	m->zone->frames[old].use.gfn = PFN_NONE;
	m->nr_mapped--;
	if (pfn)
		*pfn = old;
	return 0;
}

int p2m_move(struct p2m *m, uint32_t old_pfn, uint32_t new_pfn)
{
	uint32_t gfn;
	int err;

	if (old_pfn >= m->zone->nr_frames)
		return -ERANGE;
	gfn = p2m_owner(m, old_pfn);
	if (gfn == PFN_NONE)
		return -ENOENT;
	err = check_unowned(m, new_pfn);
	if (err)
		return err;
	set_pfn(m, gfn, new_pfn);
	m->zone->frames[new_pfn].use.gfn = gfn;
	m->zone->frames[old_pfn].use.gfn = PFN_NONE;
	return 0;
}

int p2m_clone(struct p2m *dst, const struct p2m *src, struct zone *z)
{
	int err = p2m_init(dst, z, src->nr_gfns);

	if (err)
		return err;
	memcpy(dst->pfn_of, src->pfn_of, (size_t)src->nr_gfns * sizeof(*src->pfn_of));
	dst->nr_mapped = src->nr_mapped;
	dst->nr_breaks = src->nr_breaks;
	return 0;
}

int p2m_check(const struct p2m *m, char *msg, size_t len)
{
	const struct zone *z = m->zone;
	uint64_t mapped = 0;

	for (uint32_t g = 0; g < m->nr_gfns; g++) {
		uint32_t pfn = m->pfn_of[g];
		const struct frame *f;

		if (pfn == PFN_NONE)
			continue;
		mapped++;
		if (pfn >= z->nr_frames) {
			snprintf(msg, len, "guest frame %u maps frame %u, outside the pool", g, pfn);
			return -EUCLEAN;
		}
		f = &z->frames[pfn];
		if (f->state != FRAME_USED || f->use.gfn != g || f->order || (f->flags & FRAME_TAIL)) {
			snprintf(msg, len, "guest frame %u maps frame %u, which is %s, order %u, owned by %u",
				 g, pfn, f->state == FRAME_USED ? "used" : "free", f->order,
				 f->state == FRAME_USED ? f->use.gfn : PFN_NONE);
			return -EUCLEAN;
		}
	}
	{
		uint64_t breaks = 0;

		for (uint32_t g = 0; g + 1 < m->nr_gfns; g++)
			breaks += !p2m_contiguous(m, g);
		if (breaks != m->nr_breaks) {
			snprintf(msg, len, "%lu breaks between guest frames, nr_breaks says %lu",
				 (unsigned long)breaks, (unsigned long)m->nr_breaks);
			return -EUCLEAN;
		}
	}
	if (mapped != m->nr_mapped) {
		snprintf(msg, len, "%lu guest frames mapped, nr_mapped says %lu", (unsigned long)mapped,
			 (unsigned long)m->nr_mapped);
		return -EUCLEAN;
	}
	for (uint32_t pfn = 0; pfn < z->nr_frames; pfn++) {
		const struct frame *f = &z->frames[pfn];
		uint32_t g = f->state == FRAME_USED ? f->use.gfn : PFN_NONE;

		if (g != PFN_NONE && (g >= m->nr_gfns || m->pfn_of[g] != pfn)) {
			snprintf(msg, len, "frame %u says guest frame %u owns it, the p2m disagrees", pfn, g);
			return -EUCLEAN;
		}
		if (f->state == FRAME_USED && (f->flags & FRAME_PINNED) && (g == PFN_NONE || !f->use.pins)) {
			snprintf(msg, len, "frame %u is pinned %u times but %s", pfn, f->use.pins,
				 g == PFN_NONE ? "owned by no guest frame" : "has no pin count");
			return -EUCLEAN;
		}
	}
	return 0;
}
