/* Hand-built pools and a byte-copying mover for compaction tests. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/compact_fixture.h"

static void fill(uint8_t *frame, uint32_t gfn)
{
	uint32_t *w = (uint32_t *)frame;

	for (size_t i = 0; i < FRAME_SIZE / 4; i++)
		w[i] = gfn * 2654435761U + (uint32_t)i;
}

static int holds(const uint8_t *frame, uint32_t gfn)
{
	const uint32_t *w = (const uint32_t *)frame;

	for (size_t i = 0; i < FRAME_SIZE / 4; i++)
		if (w[i] != gfn * 2654435761U + (uint32_t)i)
			return 0;
	return 1;
}

static void copy_mover(void *arg, struct migration *batch, unsigned int nr)
{
	struct fixture *fx = arg;

	fx->mover_calls++;
	/* as the VMM's: a turn is owed before the next batch */
	fx->turn_owed = true;
	for (unsigned int i = 0; i < nr; i++) {
		struct migration *m = &batch[i];

		fx->mover_frames++;
		if (fx->fail_every && m->gfn % fx->fail_every == 0) {
			m->result = -EBUSY;
			fx->refused++;
			continue;
		}
		memcpy(fx->data + (size_t)m->dst * FRAME_SIZE, fx->data + (size_t)m->src * FRAME_SIZE,
		       FRAME_SIZE);
		/* the old frame's bytes are gone once it is freed: make a stale
		 * read show up */
		memset(fx->data + (size_t)m->src * FRAME_SIZE, 0xdd, FRAME_SIZE);
		m->result = 0;
	}
}

static bool turn_due(void *arg)
{
	return ((struct fixture *)arg)->turn_owed;
}

/* pace(): must come with the zone lock let go (the VMM waits there for
 * the guest, who may need the lock): taking it here would hang (and time
 * the test out) if this thread still held it */
static void count_pace(void *arg)
{
	struct fixture *fx = arg;

	zone_lock(&fx->zone);
	if (fx->discard_in_turn) {
		uint32_t gfn = p2m_owner(&fx->p2m, fx->discard_in_turn), old;

		ck_assert_uint_ne(gfn, PFN_NONE);
		ck_assert_int_eq(p2m_unmap(&fx->p2m, gfn, &old), 0);
		zone_free(&fx->zone, old, 0);
		fx->nr_mapped--;
		fx->discard_in_turn = 0;
	}
	fx->pace_calls++;
	if (fx->paused_during_turn)
		fx->paused_during_turn--;
	else
		fx->turn_owed = false;
	zone_unlock(&fx->zone);
}

static void setup(struct fixture *fx, enum zone_allocator a, uint32_t n, unsigned int pbo)
{
	memset(fx, 0, sizeof(*fx));
	if (a == ZONE_BUDDY) {
		ck_assert_int_eq(buddy_init_pageblock(&fx->zone, n, pbo), 0);
	} else {
		/* the lock-free allocator's chunks are 2 MiB pageblocks */
		ck_assert_uint_eq(pbo, PAGEBLOCK_ORDER);
		ck_assert_int_eq(zone_init(&fx->zone, n, a), 0);
	}
	ck_assert_int_eq(p2m_init(&fx->p2m, &fx->zone, n), 0);
	fx->data = calloc(n, FRAME_SIZE);
	ck_assert_ptr_nonnull(fx->data);
	compactor_init(&fx->c, &fx->zone, &fx->p2m, copy_mover, fx);
	fx->c.pace_due = turn_due;
	fx->c.pace = count_pace;
	/* every frame allocated; the picture then says what each one is */
	for (uint32_t i = 0; i < n; i++) {
		uint32_t pfn;

		ck_assert_int_eq(zone_alloc(&fx->zone, 0, MIGRATE_MOVABLE, &pfn), 0);
	}
}

/* Gives frame i the state c. */
static void set_frame(struct fixture *fx, uint32_t i, char c)
{
	switch (c) {
	case 'U':
	case 'P':
		ck_assert_int_eq(p2m_map(&fx->p2m, i, i), 0);
		fill(fx->data + (size_t)i * FRAME_SIZE, i);
		fx->nr_mapped++;
		if (c == 'P')
			ck_assert_int_eq(zone_pin(&fx->zone, i), 0);
		break;
	case 'N':
		/* as if allocated unmovable: kernel memory, never moves */
		fx->zone.frames[i].mt = MIGRATE_UNMOVABLE;
		break;
	case 'F':
		ck_assert_int_eq(zone_free(&fx->zone, i, 0), 0);
		break;
	default:
		ck_abort_msg("bad picture character '%c'", c);
	}
}

void fixture_picture(struct fixture *fx, const char *picture, unsigned int pageblock_order)
{
	char *clean = malloc(strlen(picture) + 1);
	uint32_t n = 0;

	for (const char *p = picture; *p; p++)
		if (*p != ' ' && *p != '|')
			clean[n++] = *p;
	setup(fx, ZONE_BUDDY, n, pageblock_order);
	for (uint32_t i = 0; i < n; i++)
		set_frame(fx, i, clean[i]);
	free(clean);
}

void fixture_random(struct fixture *fx, uint32_t nr_frames, unsigned int pageblock_order,
		    unsigned int free_percent, unsigned int pinned_per_10k, unsigned int seed)
{
	fixture_random_on(fx, ZONE_BUDDY, nr_frames, pageblock_order, free_percent, pinned_per_10k, seed);
}

void fixture_random_on(struct fixture *fx, enum zone_allocator a, uint32_t nr_frames,
		       unsigned int pageblock_order, unsigned int free_percent,
		       unsigned int pinned_per_10k, unsigned int seed)
{
	char *state = malloc(nr_frames);

	srand(seed);
	setup(fx, a, nr_frames, pageblock_order);
	for (uint32_t i = 0; i < nr_frames; i++) {
		unsigned int r = (unsigned int)rand() % 10000;

		state[i] = r < free_percent * 100 ? 'F' :
			   r < free_percent * 100 + pinned_per_10k ? 'P' :
			   r < free_percent * 100 + 2 * pinned_per_10k ? 'N' : 'U';
	}
	for (uint32_t i = 0; i < nr_frames; i++)
		if (state[i] != 'F')
			set_frame(fx, i, state[i]);
	for (uint32_t i = 0; i < nr_frames; i++)
		if (state[i] == 'F')
			set_frame(fx, i, 'F');
	free(state);
}

void fixture_destroy(struct fixture *fx)
{
	p2m_destroy(&fx->p2m);
	zone_destroy(&fx->zone);
	free(fx->data);
}

char *fixture_layout(const struct fixture *fx)
{
	char *s = malloc(fx->zone.nr_frames + 1);

	for (uint32_t i = 0; i < fx->zone.nr_frames; i++) {
		const struct frame *f = &fx->zone.frames[i];

		s[i] = f->state == FRAME_FREE ? 'F' : f->flags & FRAME_PINNED ? 'P' :
		       f->mt == MIGRATE_UNMOVABLE ? 'N' : f->use.gfn != PFN_NONE ? 'U' : '?';
	}
	s[fx->zone.nr_frames] = '\0';
	return s;
}

const char *fixture_verify(struct fixture *fx)
{
	static char msg[128];
	uint32_t mapped = 0;

	for (uint32_t gfn = 0; gfn < fx->p2m.nr_gfns; gfn++) {
		uint32_t pfn = p2m_lookup(&fx->p2m, gfn);

		if (pfn == PFN_NONE)
			continue;
		mapped++;
		if (p2m_owner(&fx->p2m, pfn) != gfn) {
			snprintf(msg, sizeof(msg), "gfn %u -> pfn %u, but pfn %u's owner is %u", gfn,
				 pfn, pfn, p2m_owner(&fx->p2m, pfn));
			return msg;
		}
		if (!holds(fx->data + (size_t)pfn * FRAME_SIZE, gfn)) {
			snprintf(msg, sizeof(msg), "gfn %u's bytes are not in pfn %u", gfn, pfn);
			return msg;
		}
	}
	if (mapped != fx->nr_mapped) {
		snprintf(msg, sizeof(msg), "%u guest frames mapped, expected %u", mapped, fx->nr_mapped);
		return msg;
	}
	for (uint32_t pfn = 0; pfn < fx->zone.nr_frames; pfn++) {
		const struct frame *f = &fx->zone.frames[pfn];

		if (f->state == FRAME_USED && f->use.gfn != PFN_NONE &&
		    p2m_lookup(&fx->p2m, f->use.gfn) != pfn) {
			snprintf(msg, sizeof(msg), "pfn %u says gfn %u, which maps elsewhere", pfn,
				 f->use.gfn);
			return msg;
		}
		if (f->state == FRAME_USED && f->use.gfn == PFN_NONE && f->mt == MIGRATE_MOVABLE) {
			snprintf(msg, sizeof(msg), "pfn %u is used by nobody (leaked)", pfn);
			return msg;
		}
	}
	return NULL;
}
