/* The frame pool: the host memory behind a guest, as one file of 4 KiB
 * frames (memfd, hugetlbfs memfd, a user's file, or anonymous memory for
 * tests), one linear mapping of it for copying frames, and the zone whose
 * allocator (the buddy or the lock-free one) owns its frames. */
#ifndef MM_POOL_H
#define MM_POOL_H

#include <stdbool.h>
#include <stdint.h>

#include "mm/pmem.h"
#include "mm/zone_alloc.h"

enum pool_backing {
	POOL_ANON,		/* private anonymous memory: no file, tests only */
	POOL_MEMFD,		/* shmem memfd: 4 KiB frames, can move */
	POOL_HUGETLB,		/* hugetlbfs memfd: punches in 2 MiB units */
	POOL_FILE,		/* a file the user names */
};

/* How a POOL_FILE pool treats its file (--backing file:PATH,OPTION...). */
struct pool_file_opts {
	bool keep;		/* leave the file behind at pool_destroy() */
	bool persistent;	/* the pool's state in the file too: an existing
				 * pool file is recovered (mm/pmem.h) */
	bool sync;		/* persistent: each step's stores made durable
				 * before the next step's (pool_sync_state()) */
	uint32_t nr_gfns;	/* persistent: guest frames the p2m covers */
};

struct pool {
	enum pool_backing backing;
	int fd;			/* -1 for POOL_ANON */
	uint8_t *base;		/* linear view of every frame */
	uint64_t size;
	bool shmem;		/* memfd or a file on tmpfs: can be 2 MiB pages */
	bool sync;		/* persistent with sync: see pool_sync_state() */
	_Atomic uint64_t syncs;	/* msyncs made (sync), by any thread */
	struct zone zone;
	/* POOL_FILE: the file's directory and its name there, so that
	 * pool_destroy() removes this file and no other; -1 / NULL otherwise */
	int dir_fd;
	char *file_name;
	bool keep_file;
	/* persistent: the state's mapping of the file, the p2m in it, and
	 * whether the pool was recovered (what recovery did) or is new */
	struct pmem_header pmem;
	uint8_t *pmem_state;
	uint32_t *pmem_p2m;
	bool created;		/* a new file, not one recovered */
	bool recovered;
	struct pmem_recovery recovery;
	char why[256];		/* what was wrong, when a pool could not be had */
};

/* Creates a pool of nr_frames frames (path only for POOL_FILE, as
 * pool_create_file() with no options). Returns 0 or a negative errno:
 * -EINVAL for a size the zone refuses (not a whole number of 2 MiB
 * pageblocks, or too small or too large). */
int pool_create(struct pool *p, enum pool_backing backing, uint64_t nr_frames,
		const char *path);

/* A POOL_FILE pool in a new file at path, created with mode 0600 whatever
 * the umask. A path that exists already (a file, a symlink, anything) is
 * refused with -EEXIST and left as it is: its bytes would become guest
 * memory. pool_destroy() removes the file, unless opts->keep (opts may be
 * NULL); so does a pool_create_file() that fails after creating it. */
int pool_create_file(struct pool *p, uint64_t nr_frames, const char *path,
		     const struct pool_file_opts *opts);

/* Either of the above (opts only for POOL_FILE) on the given allocator:
 * they are this on the buddy. A persistent pool (opts->persistent, on the
 * lock-free allocator) is created at path, or, if path names one already,
 * opened and recovered (pmem_read_header(), pmem_reconcile(),
 * zone_resync(); its frames nobody owned punched); its file is kept at
 * pool_destroy(), and locked against a second process meanwhile (-EBUSY).
 * A file that is no pool of ours or does not fit is refused as
 * pmem_read_header() says, and left as it was; p->why says what is wrong. */
int pool_create_with(struct pool *p, enum pool_backing backing, uint64_t nr_frames,
		     const char *path, const struct pool_file_opts *opts, enum zone_allocator allocator);

/* Unmaps and closes the pool; a POOL_FILE pool's file is removed unless it
 * is kept (only if the path still names that file). */
void pool_destroy(struct pool *p);

static inline void *pool_frame(const struct pool *p, uint32_t pfn)
{
	return p->base + ((uint64_t)pfn << FRAME_SHIFT);
}

/* Gives the memory of count frames from pfn back to the host (a hole in
 * the pool file). The frames read as zeros afterwards. With sync, the
 * punch is durable on return (pool_sync_state()), before the caller frees
 * the frames. */
int pool_punch(struct pool *p, uint32_t pfn, uint32_t count);

/* Punches n frames given by number, in any order: sorts pfns in place and
 * punches each run of consecutive frames with one call (and one sync). */
void pool_punch_frames(struct pool *p, uint32_t *pfns, size_t n);

/*
 * A persistent pool opened with sync (file:PATH,persistent,sync) orders its
 * stores on the disk as a crash of the process finds them ordered in the
 * page cache: each step's stores are made durable before the next step
 * begins, so a power loss too leaves a state recovery can repair. Without
 * sync both calls do nothing.
 *
 * pool_sync_state(): the allocator's bits and the p2m written so far, and
 * the punches and frames written before it (the file system's journal
 * commit and cache flush that msync() makes), reach the disk.
 * pool_write_frames(): count frames' contents from pfn are written to the
 * disk (not yet flushed from its cache: the next pool_sync_state() does).
 */
void pool_sync_state(struct pool *p);
void pool_write_frames(struct pool *p, uint32_t pfn, uint32_t count);

/* Sorts frame numbers in ascending order. */
void sort_pfns(uint32_t *pfns, size_t n);

/* Asks the host for one 2 MiB page behind the pageblock at pfn, as mapped
 * at addr (the pool's view, or another shared mapping of those frames):
 * MADV_COLLAPSE, after allocating the block's holes in the file (it needs
 * pages to gather), retried on EAGAIN as the kernel asks. 0 or a negative
 * errno. A file pool (memfd, user file) only. */
int pool_collapse(struct pool *p, uint32_t pfn, void *addr);

/* Drops the pool view's page tables over count frames from pfn; the data
 * stays in the file. A huge page the view mapped is then the guest's
 * mapping's alone to map. */
void pool_drop_view(struct pool *p, uint32_t pfn, uint32_t count);

/* Replaces whatever maps [addr, addr + len) with an inaccessible
 * reservation that holds no memory: how a mapping of pool frames (a
 * discarded guest frame, a memslot's old side) stops mapping them before
 * they are punched. Reservations made so merge into one mapping. 0 or a
 * negative errno. */
int pool_view_hole(void *addr, uint64_t len);

/* Bytes of the pool the host really holds (the file's allocated blocks;
 * for POOL_ANON, resident pages of the mapping). */
int64_t pool_resident_bytes(const struct pool *p);

const char *pool_backing_name(enum pool_backing backing);

#endif
