/* The range requests on guest memory - populate, discard, pin, unpin -
 * checked whole, then done whole, a step at a time: the zone lock is
 * given up whenever a step has held it for GUEST_MEM_HOLD_NS, while the
 * guest memory lock keeps every other request out (see guest_mem.h). */
#include <errno.h>

#include "lib/failpoint.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/cmp.h"
#include "vmm/guest_mem.h"

/* How long a populate short of frames waits for compaction runs to give
 * their isolated free frames back before it fails. */
#define POPULATE_WAIT_MS	10000

/* Every frame of the ranges, in order; pos numbers them across ranges,
 * for the masks that say which frames a step takes. Two loops: leave them
 * with goto (or return), not break. */
#define for_each_frame(ranges, nr, i, g, pos)						\
	for (size_t i = 0, pos = 0; i < (nr); i++)					\
		for (uint32_t g = (ranges)[i].gfn; g < (ranges)[i].gfn + (ranges)[i].n; g++, pos++)

static bool stopping(struct guest_mem *gm)
{
	return atomic_load(&gm->stopping);
}

static bool chosen(const uint8_t *mask, size_t pos)
{
	return !mask || (mask[pos / 8] >> (pos % 8)) & 1;
}

static void bug(const char *what, uint32_t frame, int err)
{
	/* the checks before made this impossible: the state is not what the
	 * locks promise, and going on could hand the guest's memory out */
	fprintf(stderr, "vmdefrag: BUG: %s %u failed after its check: %s\n", what, frame,
		strerror(-err));
	abort();
}

/* ---- steps ---- */

/* A run of consecutive guest frames to map in one go: to pool frames from
 * pfn on, or as a hole when pfn is PFN_NONE. */
struct run {
	uint32_t gfn, pfn, n;
};

/* What one step claimed (FRAME_MOVING) under the zone lock, to be mapped
 * without it: an mmap under a running guest costs ~8-80 us here (KVM
 * shoots down the vCPUs' view of the range first), and the zone lock must
 * not wait for that. The claim keeps compaction off the frames; the guest
 * memory lock keeps every other request off them. */
struct step {
	struct run runs[GUEST_CHUNK_FRAMES];
	unsigned int nr_runs, nr_frames;
};

/* Adds gfn (backed by pfn, or a hole) to the step's last run, or starts a
 * run. Runs stay within a chunk: one mmap replaces at most a chunk's
 * mappings. */
static void step_add(struct step *s, uint32_t gfn, uint32_t pfn)
{
	struct run *r = s->nr_runs ? &s->runs[s->nr_runs - 1] : NULL;

	s->nr_frames++;
	if (r && gfn == r->gfn + r->n && gfn % GUEST_CHUNK_FRAMES &&
	    (pfn == PFN_NONE ? r->pfn == PFN_NONE : r->pfn != PFN_NONE && pfn == r->pfn + r->n)) {
		r->n++;
		return;
	}
	s->runs[s->nr_runs++] = (struct run){ gfn, pfn, 1 };
}

/* Is the step full, or has this hold lasted long enough? The clock is
 * read every 64 frames. */
static bool step_due(const struct zone *z, const struct step *s, unsigned int *ticks)
{
	if (s && s->nr_frames == GUEST_CHUNK_FRAMES)
		return true;
	return !(++*ticks & 63) && zone_lock_held_ns(z) >= GUEST_MEM_HOLD_NS;
}

/* Maps the step's runs with the zone lock given up; then, for a
 * populate, lets compaction have the frames. The first error, if any. */
static int step_map(struct guest_mem *gm, struct step *s, bool release_claim)
{
	struct zone *z = &gm->pool->zone;
	int err = 0;

	zone_unlock(z);
	for (unsigned int i = 0; i < s->nr_runs && !err; i++)
		err = guest_mem_map_frames(gm, s->runs[i].gfn, s->runs[i].n, s->runs[i].pfn);
	zone_lock(z);
	for (unsigned int i = 0; release_claim && i < s->nr_runs; i++)
		for (uint32_t k = 0; k < s->runs[i].n; k++)
			frame_clear_flag(z, s->runs[i].pfn + k, FRAME_MOVING);
	s->nr_runs = s->nr_frames = 0;
	return err;
}

/* ---- checks ---- */

struct sorted_range {
	uint32_t gfn, n;
	size_t index;
};

/* By start, then by index: which pair is blamed does not depend on how
 * qsort orders equal keys. */
static int cmp_start(const void *a, const void *b)
{
	const struct sorted_range *x = a, *y = b;

	return cmp_u64_then(x->gfn, y->gfn, x->index, y->index);
}

/* Ranges must not overlap: a frame named twice would pass each check once
 * and then be done twice. *bad: of the first overlapping pair in order of
 * their starts, the one named later. */
static int check_overlap(const struct guest_range *ranges, size_t nr, size_t *bad)
{
	struct sorted_range *s;
	int err = 0;

	if (nr < 2)
		return 0;
	s = malloc(nr * sizeof(*s));
	if (!s)
		return -ENOMEM;
	for (size_t i = 0; i < nr; i++)
		s[i] = (struct sorted_range){ ranges[i].gfn, ranges[i].n, i };
	qsort(s, nr, sizeof(*s), cmp_start);
	for (size_t k = 1; k < nr && !err; k++) {
		if (s[k].gfn < s[k - 1].gfn + s[k - 1].n) {
			*bad = s[k].index > s[k - 1].index ? s[k].index : s[k - 1].index;
			err = -EINVAL;
		}
	}
	free(s);
	return err;
}

/* Each frame in a state the op accepts; *need: frames a populate adds. */
static int check_state(struct guest_mem *gm, enum guest_mem_op op, const struct guest_range *ranges,
		       size_t nr, size_t *bad, uint64_t *need)
{
	struct zone *z = &gm->pool->zone;
	unsigned int ticks = 0;
	int err = 0;

	*need = 0;
	zone_lock(z);
	for_each_frame(ranges, nr, i, g, pos) {
		uint32_t pfn = p2m_lookup(gm->p2m, g);
		bool backed = pfn != PFN_NONE;

		(void)pos;
		if (op == GUEST_POPULATE)
			*need += !backed;
		else if (op == GUEST_DISCARD && backed && frame_test_flag(z, pfn, FRAME_PINNED))
			err = -EBUSY;
		else if ((op == GUEST_PIN || op == GUEST_UNPIN) && !backed)
			err = -ENOENT;
		else if (op == GUEST_PIN && frame_pins(z, pfn) == UINT32_MAX)
			err = -EOVERFLOW;
		else if (op == GUEST_UNPIN && !frame_test_flag(z, pfn, FRAME_PINNED))
			err = -EPERM;
		if (!err && step_due(z, NULL, &ticks)) {
			zone_lock_break(z);
			if (stopping(gm))
				err = -EINTR;
		}
		if (err) {
			*bad = i;
			goto out;
		}
	}
out:
	zone_unlock(z);
	return err;
}

/* ---- discard ---- */

/* Punches the frames with the zone lock given up (nobody owns them, and
 * nobody can have them until they are free), then frees them. */
static void release(struct guest_mem *gm, uint32_t *pfns, unsigned int n)
{
	struct zone *z = &gm->pool->zone;

	if (!n)
		return;
	FAILPOINT("discard-unmapped");		/* frames nobody maps, with data */
	zone_unlock(z);
	pool_punch_frames(gm->pool, pfns, n);
	FAILPOINT("discard-punched");		/* frames nobody maps, zeros */
	zone_lock(z);
	for (unsigned int i = 0; i < n; i++)
		if (zone_free(z, pfns[i], 0))
			bug("free of pool frame", pfns[i], -EINVAL);
}

/* Forgets the chosen populated frames the first half took (the guest sees
 * holes there already) and gives them back to the host. Zone lock held. */
static void free_chosen(struct guest_mem *gm, const struct guest_range *ranges, size_t nr,
			const uint8_t *mask)
{
	struct zone *z = &gm->pool->zone;
	uint32_t pfns[GUEST_CHUNK_FRAMES];
	unsigned int n = 0, ticks = 0;

	for_each_frame(ranges, nr, i, g, pos) {
		uint32_t pfn;

		(void)i;
		pfn = p2m_lookup(gm->p2m, g);
		/* what the first half took: all of it, but when the run ended */
		if (chosen(mask, pos) && pfn != PFN_NONE && frame_test_flag(z, pfn, FRAME_MOVING) &&
		    p2m_unmap(gm->p2m, g, &pfn) == 0) {
			frame_clear_flag(z, pfn, FRAME_MOVING);
			/* a hole in a huge block: the host splits its huge page */
			if (frame_test_flag(z, pfn, FRAME_HUGE))
				for (uint32_t p = pfn & ~(GUEST_CHUNK_FRAMES - 1);
				     p < (pfn | (GUEST_CHUNK_FRAMES - 1)) + 1; p++)
					frame_clear_flag(z, p, FRAME_HUGE);
			pfns[n++] = pfn;
		}
		if (n == GUEST_CHUNK_FRAMES) {
			release(gm, pfns, n);
			n = 0;
		} else if (step_due(z, NULL, &ticks)) {
			zone_lock_break(z);
		}
	}
	release(gm, pfns, n);
}

/* Puts back what the first half of a discard did, when an unmap failed. */
static void undo_unmap(struct guest_mem *gm, const struct guest_range *ranges, size_t nr)
{
	struct zone *z = &gm->pool->zone;

	for (size_t i = 0; i < nr; i++) {
		for (uint32_t g = ranges[i].gfn; g < ranges[i].gfn + ranges[i].n; g++) {
			uint32_t pfn = p2m_lookup(gm->p2m, g);

			if (pfn != PFN_NONE)
				frame_clear_flag(z, pfn, FRAME_MOVING);
		}
		if (guest_mem_remap(gm, ranges[i].gfn, ranges[i].n)) {
			fprintf(stderr, "vmdefrag: cannot restore guest mappings: %s\n", strerror(errno));
			abort();
		}
	}
}

/* What a walk does with one guest frame (pos: its place in the ranges),
 * zone lock held: claims it into the step, or leaves it; 0, or an error
 * that ends the walk. */
typedef int (*claim_fn)(struct guest_mem *gm, struct step *s, uint32_t gfn, size_t pos,
			void *arg);

/* Walks the frames of the ranges a step at a time: claim() says what each
 * step claims, and a step full or held long enough is mapped with the
 * zone lock given up. Ends at the first error (*bad: its range), or, if
 * interruptible, with -EINTR after a step when the run is ending. What
 * was mapped stays mapped: the caller undoes or finishes it. Zone lock
 * held. */
static int walk_steps(struct guest_mem *gm, const struct guest_range *ranges, size_t nr,
		      claim_fn claim, void *arg, bool release_claim, bool interruptible,
		      size_t *bad)
{
	struct step *s = calloc(1, sizeof(*s));
	unsigned int ticks = 0;
	int err = 0;

	if (!s)
		return -ENOMEM;
	for_each_frame(ranges, nr, i, g, pos) {
		err = claim(gm, s, g, pos, arg);
		if (!err && step_due(&gm->pool->zone, s, &ticks)) {
			err = step_map(gm, s, release_claim);
			if (!err && interruptible && stopping(gm))
				err = -EINTR;
		}
		if (err) {
			/* out of both loops: a break would only end this range */
			*bad = i;
			goto out;
		}
	}
	err = step_map(gm, s, release_claim);
out:
	free(s);
	return err;
}

/* discard: the populated frames the mask chooses (all without one) */
static int claim_to_discard(struct guest_mem *gm, struct step *s, uint32_t gfn, size_t pos,
			    void *mask)
{
	uint32_t pfn = p2m_lookup(gm->p2m, gfn);

	if (pfn != PFN_NONE && chosen(mask, pos)) {
		frame_set_flag(&gm->pool->zone, pfn, FRAME_MOVING);
		step_add(s, gfn, PFN_NONE);
	}
	return 0;
}

/* Discards the populated frames of the ranges (those the mask chooses).
 * Without a mask it is a request, which a run's end may cut short (what
 * is unmapped so far goes, -EINTR); with one it is the undo of a populate,
 * which must finish. */
static int discard(struct guest_mem *gm, const struct guest_range *ranges, size_t nr,
		   const uint8_t *mask, size_t *bad)
{
	int err;

	zone_lock(&gm->pool->zone);
	/* first the guest stops seeing them: a punched frame still mapped
	 * would come back as zeros at its next touch */
	err = walk_steps(gm, ranges, nr, claim_to_discard, (void *)mask, false, !mask, bad);
	if (err && err != -EINTR)
		undo_unmap(gm, ranges, nr);
	else
		free_chosen(gm, ranges, nr, mask);
	zone_unlock(&gm->pool->zone);
	return err;
}

/* ---- populate ---- */

/* populate: a new frame for each hole, marked in fresh[] */
static int claim_to_populate(struct guest_mem *gm, struct step *s, uint32_t gfn, size_t pos,
			     void *fresh)
{
	uint32_t pfn = p2m_lookup(gm->p2m, gfn);
	int err;

	if (pfn != PFN_NONE)
		return 0;
	err = zone_alloc(&gm->pool->zone, 0, MIGRATE_MOVABLE, &pfn);
	if (err)
		return err;
	FAILPOINT("populate-allocated");		/* a frame nobody maps */
	pool_sync_state(gm->pool);		/* sync: the bit before the p2m */
	err = p2m_map(gm->p2m, gfn, pfn);
	if (err)
		bug("map of guest frame", gfn, err);
	/* claimed until it is mapped, which happens before the zone lock
	 * goes: a frame moved before would be mapped from where it was */
	frame_set_flag(&gm->pool->zone, pfn, FRAME_MOVING);
	((uint8_t *)fresh)[pos / 8] |= (uint8_t)(1U << (pos % 8));
	step_add(s, gfn, pfn);
	return 0;
}

/* Backs every hole of the ranges with a new frame, marking in fresh[]
 * those it backed; on an error the caller takes them back. */
static int populate(struct guest_mem *gm, const struct guest_range *ranges, size_t nr,
		    uint8_t *fresh, size_t *bad)
{
	int err;

	zone_lock(&gm->pool->zone);
	err = walk_steps(gm, ranges, nr, claim_to_populate, fresh, true, true, bad);
	zone_unlock(&gm->pool->zone);
	return err;
}

static int populate_all_or_nothing(struct guest_mem *gm, const struct guest_range *ranges,
				   size_t nr, uint64_t need, size_t *bad)
{
	struct zone *z = &gm->pool->zone;
	uint64_t total = 0;
	uint8_t *fresh;
	bool short_of_frames;
	int err;

	zone_lock(z);
	short_of_frames = need > zone_free_frames(z);
	zone_unlock(z);
	if (short_of_frames) {
		*bad = nr - 1;
		return -ENOMEM;
	}
	for (size_t i = 0; i < nr; i++)
		total += ranges[i].n;
	fresh = calloc(total / 8 + 1, 1);
	if (!fresh)
		return -ENOMEM;
	err = populate(gm, ranges, nr, fresh, bad);
	if (err == -EINTR) {
		/* what it populated stays: the run is ending */
	} else if (err) {
		size_t ignored;

		/* others took the frames the count promised, or a mapping
		 * failed: give back what this populate added */
		if (discard(gm, ranges, nr, fresh, &ignored))
			bug("undo of a populate from guest frame", ranges[0].gfn, -ENOMEM);
		err = -ENOMEM;
	}
	free(fresh);
	return err;
}

/* ---- pin ---- */

static void pin(struct guest_mem *gm, enum guest_mem_op op, const struct guest_range *ranges,
		size_t nr)
{
	struct zone *z = &gm->pool->zone;
	unsigned int ticks = 0;

	zone_lock(z);
	for_each_frame(ranges, nr, i, g, pos) {
		uint32_t pfn = p2m_lookup(gm->p2m, g);
		int err = op == GUEST_PIN ? zone_pin(z, pfn) : zone_unpin(z, pfn);

		(void)i;
		(void)pos;
		if (err)
			bug(op == GUEST_PIN ? "pin of guest frame" : "unpin of guest frame", g, err);
		if (step_due(z, NULL, &ticks))
			zone_lock_break(z);
	}
	zone_unlock(z);
}

int guest_mem_apply(struct guest_mem *gm, enum guest_mem_op op, const struct guest_range *ranges,
		    size_t nr, size_t *bad)
{
	uint64_t need;
	int err;

	*bad = 0;
	for (size_t i = 0; i < nr; i++) {
		if (!guest_mem_usable(gm, ranges[i].gfn, ranges[i].n)) {
			*bad = i;
			return -ERANGE;
		}
	}
	err = check_overlap(ranges, nr, bad);
	if (!err)
		err = check_state(gm, op, ranges, nr, bad, &need);
	if (err)
		return err;
	switch (op) {
	case GUEST_POPULATE:
		return populate_all_or_nothing(gm, ranges, nr, need, bad);
	case GUEST_DISCARD:
		return discard(gm, ranges, nr, NULL, bad);
	case GUEST_PIN:
	case GUEST_UNPIN:
		pin(gm, op, ranges, nr);
		return 0;
	}
	return -EINVAL;
}

int guest_mem_request(struct guest_mem *gm, enum guest_mem_op op, const struct guest_range *ranges,
		      size_t nr, size_t *bad)
{
	int err;

	guest_mem_lock(gm);
	err = guest_mem_apply(gm, op, ranges, nr, bad);
	guest_mem_unlock(gm);
	if (err != -ENOMEM || op != GUEST_POPULATE || !gm->alloc || stopping(gm))
		return err;
	/* short of frames: the allocator gives back what it holds back, as
	 * the kernel's allocator waits out compaction and reclaim; without
	 * the lock, so other requests go on meanwhile, and everything is
	 * checked again after */
	alloc_reclaim(gm->alloc, POPULATE_WAIT_MS);
	guest_mem_lock(gm);
	err = guest_mem_apply(gm, op, ranges, nr, bad);
	guest_mem_unlock(gm);
	return err;
}
