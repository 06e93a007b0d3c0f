/* The persistent pool's file format (see pmem.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mm/lockfree.h"
#include "mm/pmem.h"
#include "mm/zone_alloc.h"

#define SECTION_ALIGN	64ULL		/* each section on cache lines of its own */

static uint64_t align_up(uint64_t v, uint64_t a)
{
	return (v + a - 1) / a * a;
}

uint64_t pmem_checksum(const struct pmem_header *h)
{
	struct pmem_header copy = *h;
	const uint8_t *b = (const uint8_t *)&copy;
	uint64_t sum = 0xcbf29ce484222325ULL;

	copy.checksum = 0;
	for (size_t i = 0; i < sizeof(copy); i++)
		sum = (sum ^ b[i]) * 0x100000001b3ULL;
	return sum;
}

int pmem_layout(uint64_t nr_frames, uint64_t nr_gfns, struct pmem_header *h)
{
	uint64_t nr_chunks = nr_frames / LF_CHUNK_FRAMES, at;

	if (!nr_frames || nr_frames % LF_CHUNK_FRAMES || nr_frames > ZONE_MAX_FRAMES || !nr_gfns ||
	    nr_gfns > UINT32_MAX)
		return -EINVAL;
	memset(h, 0, sizeof(*h));
	memcpy(h->magic, PMEM_MAGIC, sizeof(h->magic));
	h->version = PMEM_VERSION;
	h->allocator = ZONE_LOCKFREE;
	h->nr_frames = nr_frames;
	h->nr_gfns = nr_gfns;
	at = nr_frames * FRAME_SIZE;
	h->chunks_offset = at;
	h->chunks_bytes = align_up(nr_chunks * sizeof(uint32_t), SECTION_ALIGN);
	at += h->chunks_bytes;
	h->bits_offset = at;
	h->bits_bytes = nr_chunks * LF_WORDS_PER_CHUNK * sizeof(uint64_t);
	at += h->bits_bytes;
	h->p2m_offset = at;
	h->p2m_bytes = align_up(nr_gfns * sizeof(uint32_t), SECTION_ALIGN);
	at += h->p2m_bytes;
	h->header_offset = align_up(at, FRAME_SIZE);
	h->file_size = h->header_offset + PMEM_HEADER_BYTES;
	h->checksum = pmem_checksum(h);
	return 0;
}

#define FAIL(err, ...) do { snprintf(msg, len, __VA_ARGS__); return (err); } while (0)

int pmem_read_header(int fd, uint64_t nr_frames, uint64_t nr_gfns, struct pmem_header *h,
		     char *msg, size_t len)
{
	struct pmem_header want;
	struct stat st;
	ssize_t n;

	if (fstat(fd, &st) < 0)
		FAIL(-errno, "cannot stat the file: %s", strerror(errno));
	if ((uint64_t)st.st_size < PMEM_HEADER_BYTES)
		FAIL(-ENODATA, "the file is %lld bytes, too short for a persistent pool's header",
		     (long long)st.st_size);
	n = pread(fd, h, sizeof(*h), st.st_size - PMEM_HEADER_BYTES);
	if (n < 0)
		FAIL(-errno, "cannot read the header: %s", strerror(errno));
	if ((size_t)n != sizeof(*h) || memcmp(h->magic, PMEM_MAGIC, sizeof(h->magic)))
		FAIL(-ENODATA, "no persistent pool header in the file's last 4 KiB (the file is %lld "
		     "bytes): not a vmdefrag pool, or truncated", (long long)st.st_size);
	/* the version first: another version may sum its header otherwise */
	if (h->version != PMEM_VERSION)
		FAIL(-EPROTO, "the pool is version %u; this vmdefrag reads version %u", h->version,
		     PMEM_VERSION);
	if (h->checksum != pmem_checksum(h))
		FAIL(-EBADMSG, "the header's checksum does not match: the header is damaged");
	if (h->allocator != ZONE_LOCKFREE)
		FAIL(-EPROTO, "the pool's allocator is %s (%u); persistent pools are lockfree",
		     h->allocator < NR_ZONE_ALLOCATORS ? zone_allocator_names[h->allocator] : "unknown",
		     h->allocator);
	if (h->file_size != (uint64_t)st.st_size || h->header_offset != h->file_size - PMEM_HEADER_BYTES)
		FAIL(-EINVAL, "the header says the file is %llu bytes, it is %lld",
		     (unsigned long long)h->file_size, (long long)st.st_size);
	if (h->nr_frames != nr_frames || h->nr_gfns != nr_gfns)
		FAIL(-EINVAL, "the pool holds %llu MiB of frames for %llu MiB of guest memory; this VM "
		     "asks for %llu MiB for %llu MiB",
		     (unsigned long long)(h->nr_frames >> 8), (unsigned long long)(h->nr_gfns >> 8),
		     (unsigned long long)(nr_frames >> 8), (unsigned long long)(nr_gfns >> 8));
	/* the layout this vmdefrag would give those sizes, and no other */
	if (pmem_layout(nr_frames, nr_gfns, &want) || memcmp(&want, h, sizeof(want)))
		FAIL(-EINVAL, "the header's layout is not the one for its sizes");
	return 0;
}

int pmem_write_header(int fd, const struct pmem_header *h)
{
	uint8_t page[PMEM_HEADER_BYTES] = { 0 };
	ssize_t n;

	memcpy(page, h, sizeof(*h));
	n = pwrite(fd, page, sizeof(page), (off_t)h->header_offset);
	if (n < 0)
		return -errno;
	return (size_t)n == sizeof(page) ? 0 : -EIO;
}

/* Every chunk entry one a crash can leave: a kind there is, a free count
 * of at most a chunk (a damaged file can say anything). */
static int check_entries(const struct lf_pool *p, char *msg, size_t len)
{
	for (uint32_t c = 0; c < p->nr_chunks; c++) {
		uint32_t e = lf_chunk_entry(p, c);

		if (lf_entry_kind(e) >= LF_NR_KINDS || lf_entry_free(e) > LF_CHUNK_FRAMES ||
		    e >> (LF_CHUNK_KIND_SHIFT + 2))
			FAIL(-EUCLEAN, "chunk %u's entry 0x%x is damaged", c, e);
	}
	return 0;
}

/* Every mapped guest frame names an allocated pool frame of its own. */
static int check_owners(const struct lf_pool *p, const uint32_t *p2m, uint32_t nr_gfns,
			uint32_t *owner, char *msg, size_t len)
{
	for (uint32_t g = 0; g < nr_gfns; g++) {
		uint32_t pfn = p2m[g];

		if (pfn == PFN_NONE)
			continue;
		if (pfn >= p->nr_frames)
			FAIL(-EUCLEAN, "guest frame %u maps pool frame %u, outside the pool of %u frames",
			     g, pfn, p->nr_frames);
		if (!lf_frame_used(p, pfn))
			FAIL(-EUCLEAN, "guest frame %u maps pool frame %u, which the allocator has free",
			     g, pfn);
		if (owner[pfn] != PFN_NONE)
			FAIL(-EUCLEAN, "guest frames %u and %u both map pool frame %u", owner[pfn], g, pfn);
		owner[pfn] = g;
	}
	return 0;
}

int pmem_reconcile(struct lf_pool *p, const uint32_t *p2m, uint32_t nr_gfns,
		   void (*punch)(void *arg, uint32_t pfn, uint32_t n), void *arg, struct pmem_recovery *r,
		   char *msg, size_t len)
{
	uint32_t *owner = malloc((size_t)p->nr_frames * sizeof(*owner));
	struct lf_recovery lr;
	int err;

	memset(r, 0, sizeof(*r));
	if (!owner)
		FAIL(-ENOMEM, "no memory for the reverse map");
	memset(owner, 0xff, (size_t)p->nr_frames * sizeof(*owner));
	err = check_entries(p, msg, len);
	if (!err)
		err = check_owners(p, p2m, nr_gfns, owner, msg, len);
	if (err) {
		free(owner);
		return err;
	}
	lf_recover(p, &lr);
	r->busy_chunks = lr.busy_chunks;
	r->broken_pairs = lr.broken_pairs;
	r->isolated_chunks = lr.isolated_chunks;
	r->counts_fixed = lr.counts_fixed;
	for (uint32_t c = 0; c < p->nr_chunks; c++) {
		uint32_t e = lf_chunk_entry(p, c);

		/* a whole block: its head (a pair's second half goes with it) */
		if ((e & LF_CHUNK_HUGE) && !(e & LF_CHUNK_PAIR_TAIL)) {
			err = lf_split(p, c * LF_CHUNK_FRAMES);
			if (err) {
				free(owner);
				FAIL(err, "chunk %u: cannot make its block frames: %s", c, strerror(-err));
			}
			r->whole_blocks++;
		}
	}
	for (uint32_t pfn = 0, n; pfn < p->nr_frames; pfn += n ? n : 1) {
		/* a run of allocated frames nobody owns */
		for (n = 0; pfn + n < p->nr_frames && owner[pfn + n] == PFN_NONE && lf_frame_used(p, pfn + n); n++)
			;
		r->owned += !n && owner[pfn] != PFN_NONE;
		if (n && punch)
			punch(arg, pfn, n);
		for (uint32_t i = 0; i < n; i++) {
			err = lf_free(p, pfn + i, 0);
			if (err) {
				free(owner);
				FAIL(err, "pool frame %u: cannot free it: %s", pfn + i, strerror(-err));
			}
		}
		r->freed += n;
	}
	free(owner);
	return 0;
}
