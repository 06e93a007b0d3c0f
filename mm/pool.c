/* Pool storage: one file of frames and its linear mapping. */
#include <errno.h>
#include <stdatomic.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>
#include <linux/magic.h>

#include "lib/cmp.h"
#include "mm/pool.h"

#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE	25
#endif

/*
 * Creates the pool file: a new file only (O_EXCL: an existing file's bytes
 * would become guest memory; O_NOFOLLOW: nor a symlink's target), mode
 * 0600 whatever the umask (it holds guest memory). From the moment it
 * exists p->file_name says it is ours to remove. -errno on failure.
 */
static int create_file(struct pool *p, const char *path)
{
	const char *slash = strrchr(path, '/'), *name = slash ? slash + 1 : path;
	char dir[PATH_MAX];
	int fd;

	if (!*name)
		return *path ? -EISDIR : -ENOENT;
	if (!slash)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == path)
		snprintf(dir, sizeof(dir), "/");
	else if ((size_t)(slash - path) < sizeof(dir))
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
	else
		return -ENAMETOOLONG;
	p->dir_fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (p->dir_fd < 0)
		return -errno;
	fd = openat(p->dir_fd, name, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	p->fd = fd;
	p->file_name = strdup(name);
	if (!p->file_name) {
		unlinkat(p->dir_fd, name, 0);
		return -ENOMEM;
	}
	if (fchmod(fd, 0600))
		return -errno;
	return 0;
}

static int open_backing(struct pool *p, const char *path)
{
	switch (p->backing) {
	case POOL_MEMFD:
		p->fd = memfd_create("vmdefrag-pool", MFD_CLOEXEC);
		break;
	case POOL_HUGETLB:
		p->fd = memfd_create("vmdefrag-pool", MFD_CLOEXEC | MFD_HUGETLB);
		break;
	case POOL_FILE:
		return path ? create_file(p, path) : -EINVAL;
	case POOL_ANON:
		return -EINVAL;
	}
	return p->fd < 0 ? -errno : 0;
}

/* Removes the pool file if it is still the one at its name: the name may
 * have been given to another file since. */
static void remove_file(struct pool *p)
{
	struct stat ours, named;

	if (!p->file_name)
		return;
	if (!p->keep_file && p->fd >= 0 && !fstat(p->fd, &ours) &&
	    !fstatat(p->dir_fd, p->file_name, &named, AT_SYMLINK_NOFOLLOW) &&
	    ours.st_dev == named.st_dev && ours.st_ino == named.st_ino)
		unlinkat(p->dir_fd, p->file_name, 0);
	free(p->file_name);
	p->file_name = NULL;
}

/* The linear view at a 2 MiB-aligned address, so a 2 MiB host page of the
 * pool file can be mapped by one PMD here too. */
static uint8_t *map_aligned(int fd, uint64_t size)
{
	uint64_t align = 2ULL << 20;
	uint8_t *area = mmap(NULL, size + align, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
			     -1, 0), *base;

	if (area == MAP_FAILED)
		return MAP_FAILED;
	base = (uint8_t *)(((uintptr_t)area + align - 1) & ~(uintptr_t)(align - 1));
	/* give back the slack on both sides */
	if (base > area)
		munmap(area, (size_t)(base - area));
	if (base + size < area + size + align)
		munmap(base + size, (size_t)(area + size + align - (base + size)));
	area = mmap(base, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 0);
	if (area == MAP_FAILED)
		munmap(base, size);
	return area;
}

/* The persistent pool's file, new or not: locked (one process at a time),
 * its header read or written, its state mapped shared and the zone on it,
 * recovered when it was there before. */
/* Frames recovery frees come in ascending order: punched a run at a time. */
static void punch_run(void *arg, uint32_t pfn, uint32_t n)
{
	pool_punch(arg, pfn, n);
}

static int open_persistent(struct pool *p, const char *path, const struct pool_file_opts *opts)
{
	uint64_t nr_frames = p->size >> FRAME_SHIFT, state_len;
	bool fresh;
	int err = create_file(p, path);

	fresh = p->created = !err;
	if (err == -EEXIST) {
		struct stat st;

		/* a pool of ours; the checks below say if it is one */
		p->fd = open(path, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
		if (p->fd < 0)
			return -errno;
		if (fstat(p->fd, &st) || !S_ISREG(st.st_mode)) {
			snprintf(p->why, sizeof(p->why), "not a regular file");
			return -EINVAL;
		}
		err = 0;
	}
	if (err)
		return err;
	if (flock(p->fd, LOCK_EX | LOCK_NB)) {
		err = -errno;
		snprintf(p->why, sizeof(p->why), "%s", err == -EWOULDBLOCK ?
			 "in use by another process (it holds the file's lock)" : strerror(-err));
		return err == -EWOULDBLOCK ? -EBUSY : err;
	}
	if (fresh) {
		err = pmem_layout(nr_frames, opts->nr_gfns, &p->pmem);
		if (err)
			return err;
		if (ftruncate(p->fd, (off_t)p->pmem.file_size) < 0)
			return -errno;
	} else {
		err = pmem_read_header(p->fd, nr_frames, opts->nr_gfns, &p->pmem, p->why, sizeof(p->why));
		if (err)
			return err;
	}
	state_len = p->pmem.header_offset - p->pmem.chunks_offset;
	p->pmem_state = mmap(NULL, state_len, PROT_READ | PROT_WRITE, MAP_SHARED, p->fd,
			     (off_t)p->pmem.chunks_offset);
	if (p->pmem_state == MAP_FAILED) {
		p->pmem_state = NULL;
		return -errno;
	}
	p->pmem_p2m = (uint32_t *)(p->pmem_state + (p->pmem.p2m_offset - p->pmem.chunks_offset));
	err = zone_init_on(&p->zone, nr_frames,
			   (_Atomic uint64_t *)(p->pmem_state + (p->pmem.bits_offset - p->pmem.chunks_offset)),
			   (_Atomic uint32_t *)p->pmem_state, fresh);
	if (err)
		return err;
	if (fresh) {
		memset(p->pmem_p2m, 0xff, (size_t)opts->nr_gfns * sizeof(*p->pmem_p2m));
		/* the header last: a file cut off before it is no pool */
		return pmem_write_header(p->fd, &p->pmem);
	}
	return 0;
}

/* After the frames are mapped: a recovered pool's frames nobody owns go
 * back, punched, and the descriptors follow the bits. */
static int recover_persistent(struct pool *p, const struct pool_file_opts *opts)
{
	int err = pmem_reconcile(p->zone.lf, p->pmem_p2m, opts->nr_gfns, punch_run, p, &p->recovery,
				 p->why, sizeof(p->why));

	if (err)
		return err;
	zone_resync(&p->zone);
	p->recovered = true;
	return 0;
}

/* A memfd, or a file on tmpfs: shmem, whose page cache MADV_COLLAPSE can
 * make 2 MiB pages of under every shmem_enabled setting but deny. */
static bool is_shmem(const struct pool *p)
{
	struct statfs fs;

	if (p->backing == POOL_MEMFD)
		return true;
	return p->backing == POOL_FILE && !fstatfs(p->fd, &fs) && fs.f_type == TMPFS_MAGIC;
}

int pool_create_with(struct pool *p, enum pool_backing backing, uint64_t nr_frames,
		     const char *path, const struct pool_file_opts *opts, enum zone_allocator allocator)
{
	bool persistent = backing == POOL_FILE && opts && opts->persistent;
	int err;

	memset(p, 0, sizeof(*p));
	p->fd = p->dir_fd = -1;
	p->backing = backing;
	p->keep_file = opts && (opts->keep || opts->persistent);
	p->size = nr_frames << FRAME_SHIFT;
	if (persistent && allocator != ZONE_LOCKFREE) {
		snprintf(p->why, sizeof(p->why), "a persistent pool needs the lockfree allocator");
		return -EINVAL;
	}
	if (nr_frames % PAGEBLOCK_FRAMES || !nr_frames || nr_frames > ZONE_MAX_FRAMES)
		return -EINVAL;
	err = persistent ? open_persistent(p, path, opts) : zone_init(&p->zone, nr_frames, allocator);
	if (err) {
		if (persistent)
			goto fail;
		return err;
	}
	if (backing == POOL_ANON) {
		p->base = mmap(NULL, p->size, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	} else {
		if (!persistent) {
			err = open_backing(p, path);
			if (err)
				goto fail;
			if (ftruncate(p->fd, (off_t)p->size) < 0)
				goto fail_errno;
		}
		p->base = map_aligned(p->fd, p->size);
	}
	if (p->base == MAP_FAILED)
		goto fail_errno;
	p->shmem = is_shmem(p);
	p->sync = persistent && opts->sync;
	if (persistent && !p->created) {
		err = recover_persistent(p, opts);
		if (err)
			goto fail;
	}
	return 0;
fail_errno:
	err = -errno;
fail:
	if (p->base == MAP_FAILED)
		p->base = NULL;
	/* a pool that never was leaves no file (one opened, not created,
	 * is not ours to remove: remove_file() knows only created ones) */
	p->keep_file = false;
	pool_destroy(p);
	return err;
}

int pool_create(struct pool *p, enum pool_backing backing, uint64_t nr_frames,
		const char *path)
{
	return pool_create_with(p, backing, nr_frames, path, NULL, ZONE_BUDDY);
}

int pool_create_file(struct pool *p, uint64_t nr_frames, const char *path,
		     const struct pool_file_opts *opts)
{
	return pool_create_with(p, POOL_FILE, nr_frames, path, opts, ZONE_BUDDY);
}

void pool_destroy(struct pool *p)
{
	if (p->base)
		munmap(p->base, p->size);
	if (p->pmem_state)
		munmap(p->pmem_state, p->pmem.header_offset - p->pmem.chunks_offset);
	p->pmem_state = NULL;
	p->pmem_p2m = NULL;
	remove_file(p);
	if (p->fd >= 0)
		close(p->fd);
	if (p->dir_fd >= 0)
		close(p->dir_fd);
	if (p->zone.frames)
		zone_destroy(&p->zone);
	p->base = NULL;
	p->fd = p->dir_fd = -1;
}

int pool_view_hole(void *addr, uint64_t len)
{
	void *got = mmap(addr, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED,
			 -1, 0);

	return got == MAP_FAILED ? -errno : 0;
}

static int punch_range(struct pool *p, uint32_t pfn, uint32_t count)
{
	uint64_t off = (uint64_t)pfn << FRAME_SHIFT, len = (uint64_t)count << FRAME_SHIFT;

	if ((uint64_t)pfn + count > p->zone.nr_frames)
		return -ERANGE;
	if (p->backing == POOL_ANON)
		return madvise(p->base + off, len, MADV_DONTNEED) ? -errno : 0;
	if (fallocate(p->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)off, (off_t)len))
		return -errno;
	return 0;
}

int pool_punch(struct pool *p, uint32_t pfn, uint32_t count)
{
	int err = punch_range(p, pfn, count);

	pool_sync_state(p);
	return err;
}

void pool_sync_state(struct pool *p)
{
	if (!p->sync)
		return;
	/* the state and, by the journal commit it makes, every punch before */
	if (msync(p->pmem_state, p->pmem.header_offset - p->pmem.chunks_offset, MS_SYNC))
		perror("vmdefrag: msync of the pool's state");
	atomic_fetch_add_explicit(&p->syncs, 1, memory_order_relaxed);
}

void pool_write_frames(struct pool *p, uint32_t pfn, uint32_t count)
{
	if (p->sync && sync_file_range(p->fd, (off_t)pfn << FRAME_SHIFT, (off_t)count << FRAME_SHIFT,
				       SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE |
				       SYNC_FILE_RANGE_WAIT_AFTER))
		perror("vmdefrag: sync_file_range of pool frames");
}

static int cmp_pfn(const void *a, const void *b)
{
	return cmp_u64(*(const uint32_t *)a, *(const uint32_t *)b);
}

void sort_pfns(uint32_t *pfns, size_t n)
{
	qsort(pfns, n, sizeof(*pfns), cmp_pfn);
}

void pool_punch_frames(struct pool *p, uint32_t *pfns, size_t n)
{
	sort_pfns(pfns, n);
	for (size_t i = 0, j; i < n; i = j) {
		for (j = i + 1; j < n && pfns[j] == pfns[j - 1] + 1; j++)
			;
		punch_range(p, pfns[i], (uint32_t)(j - i));
	}
	pool_sync_state(p);
}

int pool_collapse(struct pool *p, uint32_t pfn, void *addr)
{
	off_t off = (off_t)pfn << FRAME_SHIFT, len = (off_t)PAGEBLOCK_FRAMES << FRAME_SHIFT;

	if (fallocate(p->fd, FALLOC_FL_KEEP_SIZE, off, len))
		return -errno;
	for (int tries = 0; tries < 3; tries++) {
		if (!madvise(addr, (size_t)len, MADV_COLLAPSE))
			return 0;
		if (errno != EAGAIN)
			break;
	}
	return -errno;
}

void pool_drop_view(struct pool *p, uint32_t pfn, uint32_t count)
{
	madvise(pool_frame(p, pfn), (size_t)count << FRAME_SHIFT, MADV_DONTNEED);
}

static int64_t anon_resident_bytes(const struct pool *p)
{
	long page = sysconf(_SC_PAGESIZE);
	size_t n = p->size / (size_t)page, resident = 0;
	unsigned char *vec = malloc(n);

	if (!vec)
		return -ENOMEM;
	if (mincore(p->base, p->size, vec)) {
		free(vec);
		return -errno;
	}
	for (size_t i = 0; i < n; i++)
		resident += vec[i] & 1;
	free(vec);
	return (int64_t)(resident * (size_t)page);
}

int64_t pool_resident_bytes(const struct pool *p)
{
	struct stat st;

	if (p->backing == POOL_ANON)
		return anon_resident_bytes(p);
	if (fstat(p->fd, &st))
		return -errno;
	return (int64_t)st.st_blocks * 512;
}

const char *pool_backing_name(enum pool_backing backing)
{
	static const char *const names[] = {
		[POOL_ANON] = "anon", [POOL_MEMFD] = "memfd",
		[POOL_HUGETLB] = "hugetlb", [POOL_FILE] = "file",
	};
	return names[backing];
}
