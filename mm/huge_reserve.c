/* The huge reserve (see huge_reserve.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/failpoint.h"
#include "lib/thread.h"
#include "mm/zone_alloc.h"
#include "mm/huge_reserve.h"

#define UNMAP_PIECE	(64ULL << 10)	/* at most ~16 mappings: the mmap lock is held
					 * ~40 us at a time, and vCPU faults wait on it */

void huge_reserve_init(struct huge_reserve *r, struct pool *pool, unsigned int target)
{
	memset(r, 0, sizeof(*r));
	r->pool = pool;
	r->target = target < HUGE_RESERVE_MAX ? target : HUGE_RESERVE_MAX;
	pthread_mutex_init(&r->lock, NULL);
	pthread_cond_init(&r->wake, NULL);
	pthread_cond_init(&r->idle, NULL);
	pthread_cond_init(&r->build_done, NULL);
}

/* Counts frames in or out of what the reserve holds, where the frames
 * change hands in the allocator (zone lock held), so that the count agrees
 * with it; a take or a handover changes no allocator state and counts
 * under r->lock alone. */
static void count_held(struct huge_reserve *r, int64_t n)
{
	pthread_mutex_lock(&r->lock);
	r->held += (uint64_t)n;
	pthread_mutex_unlock(&r->lock);
}

/* Punches the frames in runs of consecutive numbers, then frees them:
 * until the punch they stay allocated, so nobody gets a frame whose old
 * bytes are about to vanish under it. */
static void punch_and_free(struct huge_reserve *r, uint32_t *pfns, size_t n)
{
	struct zone *z = &r->pool->zone;

	pool_punch_frames(r->pool, pfns, n);
	FAILPOINT("reserve-punched");		/* zeros nobody owns, still used */
	zone_lock(z);
	for (size_t i = 0; i < n; i++)
		zone_free(z, pfns[i], 0);
	count_held(r, -(int64_t)n);
	zone_unlock(z);
}

static void unmap_views(struct reserve_unmap *u, size_t n)
{
	for (size_t i = 0; i < n; i++)
		for (uint64_t off = 0; off < u[i].len; off += UNMAP_PIECE)
			pool_view_hole((uint8_t *)u[i].addr + off,
					u[i].len - off < UNMAP_PIECE ? u[i].len - off : UNMAP_PIECE);
}

/* Makes the host back the block with one 2 MiB page, through the pool's
 * view; the page stays in the file, the view lets go of it. */
static int build_huge(struct huge_reserve *r, uint32_t pfn)
{
	int err = pool_collapse(r->pool, pfn, pool_frame(r->pool, pfn));

	if (!err)
		pool_drop_view(r->pool, pfn, PAGEBLOCK_FRAMES);
	return err;
}

/* Takes one free block and builds it; false when none may be taken now. */
static bool fill_one(struct huge_reserve *r)
{
	struct zone *z = &r->pool->zone;
	uint32_t pfn = PFN_NONE;
	int err;

	zone_lock(z);
	/* leave the guest a sixteenth of the pool besides the block */
	if (z->free_frames >= PAGEBLOCK_FRAMES + (z->nr_frames >> 4) &&
	    zone_suitable_free_block(z, PAGEBLOCK_ORDER, MIGRATE_MOVABLE) &&
	    zone_alloc(z, PAGEBLOCK_ORDER, MIGRATE_MOVABLE, &pfn))
		pfn = PFN_NONE;
	if (pfn != PFN_NONE) {
		pthread_mutex_lock(&r->lock);
		r->held += PAGEBLOCK_FRAMES;	/* as count_held() */
		r->building++;			/* before the zone lock goes */
		pthread_mutex_unlock(&r->lock);
	}
	zone_unlock(z);
	if (pfn == PFN_NONE)
		return false;
	FAILPOINT("reserve-taken");		/* a block nobody owns */
	err = build_huge(r, pfn);
	if (err) {
		pool_punch(r->pool, pfn, PAGEBLOCK_FRAMES);
		zone_lock(z);
		zone_free(z, pfn, PAGEBLOCK_ORDER);
		count_held(r, -(int64_t)PAGEBLOCK_FRAMES);
		zone_unlock(z);
		pthread_mutex_lock(&r->lock);
		r->build_failed++;
		/* out of host huge pages is worth a retry later; a refusal is not */
		if (err != -ENOMEM && err != -EAGAIN && err != -EBUSY)
			r->broken = true;
		r->building--;
		pthread_cond_broadcast(&r->build_done);
		pthread_mutex_unlock(&r->lock);
		return false;
	}
	pthread_mutex_lock(&r->lock);
	r->ready[r->nr_ready++] = pfn;
	r->built++;
	r->building--;
	pthread_cond_broadcast(&r->build_done);
	pthread_mutex_unlock(&r->lock);
	return true;
}

static bool wants_fill(const struct huge_reserve *r)
{
	return r->wanted && !r->broken && r->nr_ready < r->target;
}

/* Waits up to ms for a wakeup (r->lock held). */
static void wait_ms(struct huge_reserve *r, long ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_nsec += ms * 1000000L;
	ts.tv_sec += ts.tv_nsec / 1000000000L;
	ts.tv_nsec %= 1000000000L;
	pthread_cond_timedwait(&r->wake, &r->lock, &ts);
}

static void *reserve_thread(void *arg)
{
	struct huge_reserve *r = arg;
	bool starved = false;	/* no block could be taken last time */

	pthread_mutex_lock(&r->lock);
	while (!r->stop) {
		if (r->nr_punch || r->nr_unmap) {
			uint32_t *batch = r->punch;
			struct reserve_unmap *views = r->unmap;
			size_t n = r->nr_punch, nv = r->nr_unmap;

			r->punch = NULL;
			r->nr_punch = r->cap_punch = 0;
			r->unmap = NULL;
			r->nr_unmap = r->cap_unmap = 0;
			r->busy++;
			pthread_mutex_unlock(&r->lock);
			unmap_views(views, nv);
			punch_and_free(r, batch, n);
			free(batch);
			free(views);
			pthread_mutex_lock(&r->lock);
			r->punched += n;
			r->busy--;
			if (!r->nr_punch && !r->nr_unmap)
				pthread_cond_broadcast(&r->idle);
			starved = false;	/* that may have freed a block */
		} else if (wants_fill(r) && !starved) {
			pthread_mutex_unlock(&r->lock);
			starved = !fill_one(r);
			pthread_mutex_lock(&r->lock);
		} else if (wants_fill(r)) {
			/* compaction may free a block meanwhile: look again later,
			 * or at the next request */
			wait_ms(r, HUGE_RESERVE_RETRY_MS);
			starved = false;
		} else {
			pthread_cond_wait(&r->wake, &r->lock);
		}
	}
	pthread_mutex_unlock(&r->lock);
	return NULL;
}

int huge_reserve_start(struct huge_reserve *r)
{
	int err;

	if (!r->pool->shmem || !r->target)
		return 0;
	err = pthread_create(&r->thread, NULL, reserve_thread, r);
	if (err)
		return -err;
	/* vCPUs may be asking already: they read it under the lock */
	pthread_mutex_lock(&r->lock);
	r->running = true;
	pthread_mutex_unlock(&r->lock);
	return 0;
}

void huge_reserve_stop(struct huge_reserve *r)
{
	if (!r->pool)
		return;		/* never initialised */
	if (r->running) {
		thread_stop(r->thread, &r->lock, &r->wake, &r->stop);
		pthread_mutex_lock(&r->lock);
		r->running = false;
		pthread_mutex_unlock(&r->lock);
	}
	unmap_views(r->unmap, r->nr_unmap);
	if (r->nr_punch)
		punch_and_free(r, r->punch, r->nr_punch);
	free(r->punch);
	free(r->unmap);
	r->punch = NULL;
	r->unmap = NULL;
	r->nr_punch = r->cap_punch = r->nr_unmap = r->cap_unmap = 0;
	huge_reserve_drain(r);
	pthread_cond_destroy(&r->wake);
	pthread_cond_destroy(&r->idle);
	pthread_cond_destroy(&r->build_done);
	pthread_mutex_destroy(&r->lock);
	r->pool = NULL;
}

static uint32_t take(struct huge_reserve *r, bool wait)
{
	uint32_t pfn = PFN_NONE;

	pthread_mutex_lock(&r->lock);
	while (wait && !r->nr_ready && r->building)
		pthread_cond_wait(&r->build_done, &r->lock);
	if (r->nr_ready) {
		pfn = r->ready[--r->nr_ready];
		r->taken++;
		r->held -= PAGEBLOCK_FRAMES;
	} else {
		r->missed++;
	}
	pthread_mutex_unlock(&r->lock);
	return pfn;
}

uint32_t huge_reserve_take(struct huge_reserve *r)
{
	return take(r, false);
}

uint32_t huge_reserve_take_wait(struct huge_reserve *r)
{
	return take(r, true);
}

void huge_reserve_refill(struct huge_reserve *r)
{
	pthread_mutex_lock(&r->lock);
	r->wanted = true;
	pthread_cond_signal(&r->wake);
	pthread_mutex_unlock(&r->lock);
}

/* Makes room in the queues for n frames and one view (r->lock held). */
static bool make_room(struct huge_reserve *r, unsigned int n)
{
	if (r->nr_punch + n > r->cap_punch) {
		size_t cap = (r->nr_punch + n) * 2;
		uint32_t *p = realloc(r->punch, cap * sizeof(*p));

		if (!p)
			return false;
		r->punch = p;
		r->cap_punch = cap;
	}
	if (r->nr_unmap == r->cap_unmap) {
		size_t cap = r->cap_unmap * 2 + 4;
		struct reserve_unmap *u = realloc(r->unmap, cap * sizeof(*u));

		if (!u)
			return false;
		r->unmap = u;
		r->cap_unmap = cap;
	}
	return true;
}

bool huge_reserve_defer_free(struct huge_reserve *r, const uint32_t *pfns, unsigned int n,
			     void *unmap, uint64_t unmap_len)
{
	bool queued = false;

	pthread_mutex_lock(&r->lock);
	if (r->running && !r->stop && make_room(r, n)) {
		memcpy(r->punch + r->nr_punch, pfns, n * sizeof(*pfns));
		r->nr_punch += n;
		r->held += n;
		if (unmap_len)
			r->unmap[r->nr_unmap++] = (struct reserve_unmap){ unmap, unmap_len };
		queued = true;
		pthread_cond_signal(&r->wake);
	}
	pthread_mutex_unlock(&r->lock);
	return queued;
}

uint64_t huge_reserve_held(struct huge_reserve *r)
{
	uint64_t held;

	pthread_mutex_lock(&r->lock);
	held = r->held;
	pthread_mutex_unlock(&r->lock);
	return held;
}

bool huge_reserve_flush(struct huge_reserve *r)
{
	bool waited = false;

	pthread_mutex_lock(&r->lock);
	while (r->running && (r->nr_punch || r->nr_unmap || r->busy)) {
		waited = true;
		pthread_cond_wait(&r->idle, &r->lock);
	}
	pthread_mutex_unlock(&r->lock);
	return waited;
}

unsigned int huge_reserve_drain(struct huge_reserve *r)
{
	struct zone *z = &r->pool->zone;
	uint32_t blocks[HUGE_RESERVE_MAX];
	unsigned int n;

	pthread_mutex_lock(&r->lock);
	n = r->nr_ready;
	memcpy(blocks, r->ready, n * sizeof(*blocks));
	r->nr_ready = 0;
	r->wanted = false;	/* until the next huge request */
	pthread_mutex_unlock(&r->lock);
	for (unsigned int i = 0; i < n; i++)
		pool_punch(r->pool, blocks[i], PAGEBLOCK_FRAMES);
	zone_lock(z);
	for (unsigned int i = 0; i < n; i++)
		zone_free(z, blocks[i], PAGEBLOCK_ORDER);
	count_held(r, -(int64_t)n * PAGEBLOCK_FRAMES);
	zone_unlock(z);
	return n;
}
