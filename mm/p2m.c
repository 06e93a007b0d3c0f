/* p2m and reverse map, changed only together. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "mm/p2m.h"

int p2m_init(struct p2m *m, struct zone *z, uint32_t nr_gfns)
{
	m->zone = z;
	m->nr_gfns = nr_gfns;
	m->nr_mapped = 0;
	m->pfn_of = malloc((size_t)nr_gfns * sizeof(*m->pfn_of) + 1);
	if (!m->pfn_of)
		return -ENOMEM;
	for (uint32_t g = 0; g < nr_gfns; g++)
		m->pfn_of[g] = PFN_NONE;
	return 0;
}

void p2m_destroy(struct p2m *m)
{
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
	m->pfn_of[gfn] = pfn;
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
	m->pfn_of[gfn] = PFN_NONE;
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
	m->pfn_of[gfn] = new_pfn;
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
	return 0;
}
