/*
 * The huge reserve: a few free pool blocks kept ready as real 2 MiB host
 * pages, and the punching of frames that huge requests gave up - both done
 * by a thread of its own, so a huge request waits for neither. Building a
 * host huge page behind a block (fallocate, then MADV_COLLAPSE on the
 * pool's linear view) takes milliseconds; copying 2 MiB into one that is
 * ready takes ~0.2 ms, and the guest's mapping of it then takes one fault
 * to map with a PMD. The kernel keeps high-order pages at hand for
 * atomic allocations the same way (the highatomic reserve), and frees
 * lazily what it need not free at once.
 *
 * Ready blocks are order-9 allocations without an owner: compaction and
 * the allocator leave them alone until taken or drained. The reserve
 * fills only after a huge request asked for it (wanted), only from blocks
 * already free, and never below a watermark of free memory.
 */
#ifndef MM_HUGE_RESERVE_H
#define MM_HUGE_RESERVE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "mm/pool.h"

#define HUGE_RESERVE_MAX	64
#define HUGE_RESERVE_DEFAULT	4
#define HUGE_RESERVE_RETRY_MS	500	/* re-check when no block was free */

struct huge_reserve {
	struct pool *pool;
	unsigned int target;		/* blocks to keep ready; 0: off */
	pthread_mutex_t lock;		/* the fields below; a leaf: no zone lock under it */
	pthread_cond_t wake;
	pthread_cond_t idle;		/* signalled when the punch queue empties */
	pthread_cond_t build_done;	/* signalled when a build ends */
	pthread_t thread;
	bool running, stop;
	bool wanted;			/* a huge request came: keep it filled */
	bool broken;			/* the host refuses huge pages: stay off */
	unsigned int busy;		/* punch batches being worked on */
	unsigned int building;		/* blocks taken and being built */
	uint32_t ready[HUGE_RESERVE_MAX];	/* first frames of ready blocks */
	unsigned int nr_ready;
	uint32_t *punch;		/* order-0 unowned frames to punch, then free */
	size_t nr_punch, cap_punch;
	struct reserve_unmap {		/* views still mapping them: unmapped first */
		void *addr;
		uint64_t len;
	} *unmap;
	size_t nr_unmap, cap_unmap;
	uint64_t held;			/* frames the reserve has allocated and nobody
					 * owns: ready, being built, queued or being
					 * punched (see count_held()) */
	uint64_t built, taken, missed, build_failed, punched;
};

/* A reserve over pool that keeps target (at most HUGE_RESERVE_MAX) blocks. */
void huge_reserve_init(struct huge_reserve *r, struct pool *pool, unsigned int target);
/* Starts the thread (only for a memfd pool); 0 or a negative errno. */
int huge_reserve_start(struct huge_reserve *r);
/* Stops the thread, punches what is queued and gives the ready blocks back. */
void huge_reserve_stop(struct huge_reserve *r);

/* A ready block, as an order-9 allocation to split and use, or PFN_NONE
 * (counted as missed). Without the zone lock. */
uint32_t huge_reserve_take(struct huge_reserve *r);
/* The same, but when none is ready while the thread builds one, waits
 * for that one (milliseconds): it took a block from the free lists that
 * the caller could have had - maybe the one the caller's direct
 * compaction just freed. PFN_NONE only if no block is ready or coming. */
uint32_t huge_reserve_take_wait(struct huge_reserve *r);

/* Asks the thread to fill the reserve up, now and whenever it runs low
 * from now on (until a drain). Call it after a huge request is done. */
void huge_reserve_refill(struct huge_reserve *r);

/* Hands over n frames (used order-0 frames nobody owns any more) to be
 * punched and freed by the thread, after it made [unmap, unmap +
 * unmap_len) (a view that may still map them; none if unmap_len is 0)
 * inaccessible with pool_view_hole(). False when the thread is not
 * running: then the caller does both itself. Callable under the zone
 * lock. */
bool huge_reserve_defer_free(struct huge_reserve *r, const uint32_t *pfns, unsigned int n,
			     void *unmap, uint64_t unmap_len);

/* Frames the reserve holds now (see held). */
uint64_t huge_reserve_held(struct huge_reserve *r);

/* Waits until everything handed over so far is unmapped, punched and
 * free; true if there was any to wait for. */
bool huge_reserve_flush(struct huge_reserve *r);

/* Gives every ready block back to the pool (memory is short); returns how
 * many. Without the zone lock. */
unsigned int huge_reserve_drain(struct huge_reserve *r);

#endif
