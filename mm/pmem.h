/* The persistent pool's file format: guest frames first, at the offsets
 * every pool gives them (pfn x 4096), then the state that says what they
 * hold - the lock-free allocator's chunk entries and bits, and the p2m
 * (guest frame -> pool frame) - and last, in the file's final 4 KiB, the
 * header that describes the layout (at the end, so a frame's offset does
 * not depend on the metadata's size, and a truncated file has no header).
 *
 *   [ frames: nr_frames x 4 KiB ][ chunk entries ][ bits ][ p2m ][ header ]
 *
 * The header and layout are covered by a checksum; the state sections
 * change with every allocation and are not (recovery checks them against
 * each other instead: docs/DESIGN.md, section 9). Everything is in the
 * host's byte order: the file belongs to this machine's VMM, as a memfd
 * would. */
#ifndef MM_PMEM_H
#define MM_PMEM_H

#include <stddef.h>
#include <stdint.h>

#define PMEM_MAGIC		"VMDPMEM\n"
#define PMEM_VERSION		1
#define PMEM_HEADER_BYTES	4096

struct pmem_header {
	char magic[8];
	uint32_t version;
	uint32_t allocator;		/* enum zone_allocator: ZONE_LOCKFREE */
	uint64_t nr_frames;		/* pool frames */
	uint64_t nr_gfns;		/* guest frames (RAM and plug area) */
	uint64_t chunks_offset, chunks_bytes;
	uint64_t bits_offset, bits_bytes;
	uint64_t p2m_offset, p2m_bytes;
	uint64_t header_offset;		/* where this header is: the file's size - 4096 */
	uint64_t file_size;
	uint64_t checksum;		/* FNV-1a over this struct, with this field 0 */
};

/* The layout of a pool of nr_frames frames (a whole number of 2 MiB
 * chunks) for nr_gfns guest frames, checksum included. 0, or -EINVAL for
 * sizes no pool can have. */
int pmem_layout(uint64_t nr_frames, uint64_t nr_gfns, struct pmem_header *h);

/* The checksum a header must carry. */
uint64_t pmem_checksum(const struct pmem_header *h);

/* Reads and checks the header of the open file fd for a pool of nr_frames
 * frames and nr_gfns guest frames. 0 and the header in *h; or, the file
 * untouched, a negative errno and what is wrong in msg:
 *   -ENODATA  no header at the file's end (not a persistent pool, or
 *             truncated: the file's size says which);
 *   -EPROTO   another version, or another allocator;
 *   -EBADMSG  the header's checksum does not match (damaged);
 *   -EINVAL   a layout that does not fit the file, or sizes other than
 *             asked (naming both). */
int pmem_read_header(int fd, uint64_t nr_frames, uint64_t nr_gfns, struct pmem_header *h,
		     char *msg, size_t len);

/* Writes the header to fd (a new file already sized to h->file_size). */
int pmem_write_header(int fd, const struct pmem_header *h);

struct lf_pool;

/* What pmem_reconcile() found and did. */
struct pmem_recovery {
	uint32_t busy_chunks, broken_pairs, isolated_chunks, counts_fixed;	/* lf_recover() */
	uint64_t whole_blocks;		/* order-9/10 blocks nobody had mapped yet: made frames */
	uint64_t owned;			/* frames the p2m maps */
	uint64_t freed;			/* allocated frames nobody owned: freed */
};

/* Recovery without a log: the allocator's state (p) and the p2m (p2m,
 * nr_gfns entries, PFN_NONE for a hole) as a process left them when it
 * died, reconciled. First, reading only, every mapped guest frame must
 * name a frame inside the pool that the allocator has allocated, and no
 * frame may be mapped twice: else -EUCLEAN, nothing changed, and msg names
 * the guest frame and the pool frame. Then lf_recover(), whole blocks made
 * frames (the VMM maps only single frames), and every allocated frame no
 * guest frame maps freed, each run of them first given to punch(arg, pfn,
 * n) (their bytes are nobody's): punched before they are free, so that a
 * recovery killed in the middle leaves no free frame with old bytes (the
 * next one finds the rest still allocated). On return the allocator's
 * counters equal its bits. */
int pmem_reconcile(struct lf_pool *p, const uint32_t *p2m, uint32_t nr_gfns,
		   void (*punch)(void *arg, uint32_t pfn, uint32_t n), void *arg, struct pmem_recovery *r,
		   char *msg, size_t len);

#endif
