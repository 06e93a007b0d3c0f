/* The persistent pool's file format and recovery (mm/pmem.c, lf_recover()):
 * a header read back as written; every kind of damaged or mismatched file
 * refused with its own error, the file's bytes untouched; and recovery
 * from states a process can die in - a move with its destination taken
 * and the p2m not yet switched, a split or a pair in flight, isolation,
 * counters off - keeping every mapped frame and freeing (and punching)
 * every other, with the p2m naming a free or a shared frame refused. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mm/lockfree.h"
#include "mm/p2m.h"
#include "mm/pmem.h"
#include "mm/pool.h"
#include "mm/zone_alloc.h"
#include "tests/check_run.h"

#define FRAMES		(8 * LF_CHUNK_FRAMES)
#define GFNS		4096

/* ---- the header ---- */

static char header_path[] = "/tmp/check_pmem.XXXXXX";

static int new_pool_file(struct pmem_header *h)
{
	int fd = mkstemp(header_path);

	ck_assert_int_ge(fd, 0);
	unlink(header_path);
	ck_assert_int_eq(pmem_layout(FRAMES, GFNS, h), 0);
	ck_assert_int_eq(ftruncate(fd, (off_t)h->file_size), 0);
	ck_assert_int_eq(pmem_write_header(fd, h), 0);
	return fd;
}

/* The whole file's bytes, to compare before and after a refusal. */
static uint8_t *file_bytes(int fd, size_t *n)
{
	off_t size = lseek(fd, 0, SEEK_END);
	uint8_t *b = malloc((size_t)size + 1);

	ck_assert_int_eq(pread(fd, b, (size_t)size, 0), size);
	*n = (size_t)size;
	return b;
}

START_TEST(test_header_round_trip)
{
	struct pmem_header h, got;
	char msg[256] = "";
	int fd = new_pool_file(&h);

	ck_assert_uint_eq(h.chunks_offset, (uint64_t)FRAMES * FRAME_SIZE);
	ck_assert_uint_eq(h.bits_offset % 64, 0);
	ck_assert_uint_eq(h.header_offset % FRAME_SIZE, 0);
	ck_assert_uint_ge(h.bits_offset, h.chunks_offset + FRAMES / LF_CHUNK_FRAMES * 4);
	ck_assert_uint_ge(h.p2m_offset, h.bits_offset + FRAMES / 8);
	ck_assert_uint_ge(h.header_offset, h.p2m_offset + GFNS * 4);
	ck_assert_int_eq(pmem_read_header(fd, FRAMES, GFNS, &got, msg, sizeof(msg)), 0);
	ck_assert(!memcmp(&got, &h, sizeof(h)));
	close(fd);
}
END_TEST

enum damage { TRUNCATED, NOT_A_POOL, BYTE_FLIPPED, OTHER_VERSION, OTHER_ALLOCATOR, OTHER_SIZE,
	      GROWN, NR_DAMAGES };

static const struct {
	const char *what;
	int err;
	const char *says;	/* in the message */
} damages[NR_DAMAGES] = {
	[TRUNCATED] = { "truncated", -ENODATA, "truncated" },
	[NOT_A_POOL] = { "a file of zeros", -ENODATA, "not a vmdefrag pool" },
	[BYTE_FLIPPED] = { "a byte of the header flipped", -EBADMSG, "damaged" },
	[OTHER_VERSION] = { "version 2", -EPROTO, "version 2" },
	[OTHER_ALLOCATOR] = { "the buddy's", -EPROTO, "buddy" },
	[OTHER_SIZE] = { "another --mem", -EINVAL, "asks for" },
	[GROWN] = { "grown by a page", -ENODATA, "not a vmdefrag pool" },
};

START_TEST(test_damaged_refused_untouched)
{
	struct pmem_header h, got;
	char msg[256] = "";
	uint64_t frames = FRAMES, gfns = GFNS;
	int fd = new_pool_file(&h);
	uint8_t *before, *after;
	size_t n, m;

	switch ((enum damage)_i) {
	case TRUNCATED:
		ck_assert_int_eq(ftruncate(fd, (off_t)h.file_size - 100), 0);
		break;
	case NOT_A_POOL:
		ck_assert_int_eq(ftruncate(fd, 0), 0);
		ck_assert_int_eq(ftruncate(fd, (off_t)h.file_size), 0);
		break;
	case BYTE_FLIPPED: {
		uint8_t b;

		ck_assert_int_eq(pread(fd, &b, 1, (off_t)h.header_offset + 20), 1);
		b ^= 0x10;
		ck_assert_int_eq(pwrite(fd, &b, 1, (off_t)h.header_offset + 20), 1);
		break;
	}
	case OTHER_VERSION:
		h.version = 2;
		h.checksum = pmem_checksum(&h);
		ck_assert_int_eq(pmem_write_header(fd, &h), 0);
		break;
	case OTHER_ALLOCATOR:
		h.allocator = ZONE_BUDDY;
		h.checksum = pmem_checksum(&h);
		ck_assert_int_eq(pmem_write_header(fd, &h), 0);
		break;
	case OTHER_SIZE:
		frames = 2 * FRAMES;
		break;
	case GROWN:
		ck_assert_int_eq(ftruncate(fd, (off_t)h.file_size + 4096), 0);
		break;
	default:
		ck_abort();
	}
	before = file_bytes(fd, &n);
	ck_assert_int_eq(pmem_read_header(fd, frames, gfns, &got, msg, sizeof(msg)), damages[_i].err);
	ck_assert_msg(strstr(msg, damages[_i].says), "%s: the message '%s' does not say '%s'",
		      damages[_i].what, msg, damages[_i].says);
	after = file_bytes(fd, &m);
	ck_assert_uint_eq(m, n);
	ck_assert_msg(!memcmp(before, after, n), "%s: reading the header changed the file", damages[_i].what);
	free(before);
	free(after);
	close(fd);
}
END_TEST

/* ---- recovery ---- */

struct state {
	_Atomic uint64_t bits[FRAMES / 64];
	_Atomic uint32_t chunks[FRAMES / LF_CHUNK_FRAMES];
	uint32_t p2m[GFNS];
	struct lf_pool p;
	uint8_t punched[FRAMES];
	unsigned int punched_free;	/* frames punched after their free */
};

/* Counts each frame's punches; a frame is punched while still allocated
 * (a recovery killed after a free and before its punch would leave a
 * free frame with old bytes for the next guest that gets it). */
static void punch(void *arg, uint32_t pfn, uint32_t n)
{
	struct state *s = arg;

	for (uint32_t i = 0; i < n; i++) {
		if (!lf_frame_used(&s->p, pfn + i))
			s->punched_free++;
		s->punched[pfn + i]++;
	}
}

static struct state *state_new(void)
{
	struct state *s = calloc(1, sizeof(*s));

	ck_assert_int_eq(lf_init_on(&s->p, FRAMES, s->bits, s->chunks, true), 0);
	for (uint32_t g = 0; g < GFNS; g++)
		s->p2m[g] = PFN_NONE;
	return s;
}

/* The process died: its volatile state is gone; what the file held comes
 * back on a pool built on the same memory. */
static void die_and_restart(struct state *s)
{
	lf_destroy(&s->p);
	ck_assert_int_eq(lf_init_on(&s->p, FRAMES, s->bits, s->chunks, false), 0);
}

static void map(struct state *s, uint32_t gfn)
{
	struct lf_local l;
	uint32_t pfn;

	lf_local_init(&l);
	ck_assert_int_eq(lf_alloc(&s->p, &l, 0, MIGRATE_MOVABLE, &pfn), 0);
	s->p2m[gfn] = pfn;
	lf_local_release(&s->p, &l);
}

static void assert_recovered(struct state *s, uint64_t owned)
{
	char msg[256];

	ck_assert_msg(!lf_check(&s->p, msg, sizeof(msg)), "lf_check: %s", msg);
	ck_assert_uint_eq(lf_free_frames(&s->p), FRAMES - owned);
	for (uint32_t g = 0; g < GFNS; g++)
		if (s->p2m[g] != PFN_NONE && !lf_frame_used(&s->p, s->p2m[g]))
			ck_abort_msg("guest frame %u lost its pool frame %u", g, s->p2m[g]);
}

START_TEST(test_recover_a_move_in_flight)
{
	struct state *s = state_new();
	struct pmem_recovery r;
	struct lf_local l;
	char msg[256];
	uint32_t dst;

	for (uint32_t g = 0; g < 1000; g++)
		map(s, g);
	/* a move of guest frame 7: destination taken, bytes copied, then the
	 * kill before the p2m's switch */
	lf_local_init(&l);
	ck_assert_int_eq(lf_alloc(&s->p, &l, 0, MIGRATE_MOVABLE, &dst), 0);
	die_and_restart(s);
	ck_assert_int_eq(pmem_reconcile(&s->p, s->p2m, GFNS, punch, s, &r, msg, sizeof(msg)), 0);
	ck_assert_uint_eq(r.owned, 1000);
	ck_assert_uint_eq(r.freed, 1);
	ck_assert_uint_eq(s->punched[dst], 1);
	assert_recovered(s, 1000);
	/* and after the switch, before the source is freed: the source goes */
	ck_assert_int_eq(lf_alloc(&s->p, &l, 0, MIGRATE_MOVABLE, &dst), 0);
	{
		uint32_t src = s->p2m[7];

		s->p2m[7] = dst;
		die_and_restart(s);
		ck_assert_int_eq(pmem_reconcile(&s->p, s->p2m, GFNS, punch, s, &r, msg, sizeof(msg)), 0);
		ck_assert_uint_eq(r.freed, 1);
		ck_assert_uint_eq(s->punched[src], 1);
		ck_assert(lf_frame_used(&s->p, dst));
	}
	assert_recovered(s, 1000);
	lf_destroy(&s->p);
	free(s);
}
END_TEST

START_TEST(test_recover_blocks_in_flight)
{
	struct state *s = state_new();
	struct pmem_recovery r;
	struct lf_local l;
	char msg[256];
	uint32_t whole, pair, split;

	lf_local_init(&l);
	for (uint32_t g = 0; g < 100; g++)
		map(s, g);
	/* an order-9 block nobody mapped yet, a pair whose build the kill cut
	 * off (head busy, tail taken), and a split cut off half-way */
	ck_assert_int_eq(lf_alloc(&s->p, &l, 9, MIGRATE_MOVABLE, &whole), 0);
	ck_assert_int_eq(lf_alloc(&s->p, &l, 10, MIGRATE_MOVABLE, &pair), 0);
	atomic_store(&s->chunks[pair / LF_CHUNK_FRAMES],
		     atomic_load(&s->chunks[pair / LF_CHUNK_FRAMES]) | LF_CHUNK_PAIR_BUSY);
	ck_assert_int_eq(lf_alloc(&s->p, &l, 9, MIGRATE_MOVABLE, &split), 0);
	atomic_store(&s->chunks[split / LF_CHUNK_FRAMES],
		     atomic_load(&s->chunks[split / LF_CHUNK_FRAMES]) | LF_CHUNK_PAIR_BUSY);
	for (unsigned int i = 0; i < 3; i++)
		atomic_store(&s->bits[split / 64 + i], ~0ULL);
	/* two frames of the split block were mapped already by their owner */
	s->p2m[500] = split + 3;
	s->p2m[501] = split + 200;
	/* and an isolated chunk, and a counter off by one */
	atomic_store(&s->chunks[7], atomic_load(&s->chunks[7]) | LF_CHUNK_ISOLATED);
	atomic_store(&s->chunks[0], atomic_load(&s->chunks[0]) + 1);
	die_and_restart(s);
	ck_assert_int_eq(pmem_reconcile(&s->p, s->p2m, GFNS, punch, s, &r, msg, sizeof(msg)), 0);
	ck_assert_uint_eq(r.busy_chunks, 2);
	ck_assert_uint_eq(r.isolated_chunks, 1);
	ck_assert_uint_ge(r.counts_fixed, 1);
	ck_assert_uint_eq(r.whole_blocks, 1);
	ck_assert_uint_eq(r.owned, 102);
	ck_assert_uint_eq(r.freed, 512 + 1024 + 510);
	ck_assert_uint_eq(s->punched_free, 0);	/* each punched before its free */
	ck_assert_uint_eq(s->punched[whole + 511], 1);
	ck_assert_uint_eq(s->punched[pair + 1023], 1);
	ck_assert_uint_eq(s->punched[split + 3], 0);
	ck_assert(lf_frame_used(&s->p, split + 200));
	assert_recovered(s, 102);
	lf_destroy(&s->p);
	free(s);
}
END_TEST

START_TEST(test_recover_refuses_a_bad_p2m)
{
	struct state *s = state_new();
	struct pmem_recovery r;
	char msg[256] = "";
	uint64_t bits0[FRAMES / 64];
	uint32_t chunks0[FRAMES / LF_CHUNK_FRAMES];

	for (uint32_t g = 0; g < 10; g++)
		map(s, g);
	die_and_restart(s);
	memcpy(bits0, (void *)s->bits, sizeof(bits0));
	memcpy(chunks0, (void *)s->chunks, sizeof(chunks0));
	/* a free frame */
	s->p2m[20] = FRAMES - 1;
	ck_assert_int_eq(pmem_reconcile(&s->p, s->p2m, GFNS, punch, s, &r, msg, sizeof(msg)), -EUCLEAN);
	ck_assert_msg(strstr(msg, "guest frame 20 maps pool frame 4095, which the allocator has free"), "%s", msg);
	/* a frame twice */
	s->p2m[20] = s->p2m[3];
	ck_assert_int_eq(pmem_reconcile(&s->p, s->p2m, GFNS, punch, s, &r, msg, sizeof(msg)), -EUCLEAN);
	ck_assert_msg(strstr(msg, "guest frames 3 and 20 both map"), "%s", msg);
	/* outside the pool */
	s->p2m[20] = FRAMES;
	ck_assert_int_eq(pmem_reconcile(&s->p, s->p2m, GFNS, punch, s, &r, msg, sizeof(msg)), -EUCLEAN);
	ck_assert_msg(strstr(msg, "outside the pool"), "%s", msg);
	/* a chunk entry no allocator writes */
	s->p2m[20] = PFN_NONE;
	atomic_store(&s->chunks[5], 0xdead0000U | atomic_load(&s->chunks[5]));
	ck_assert_int_eq(pmem_reconcile(&s->p, s->p2m, GFNS, punch, s, &r, msg, sizeof(msg)), -EUCLEAN);
	ck_assert_msg(strstr(msg, "chunk 5's entry"), "%s", msg);
	chunks0[5] = atomic_load(&s->chunks[5]);
	/* and nothing changed */
	ck_assert(!memcmp(bits0, (void *)s->bits, sizeof(bits0)));
	ck_assert(!memcmp(chunks0, (void *)s->chunks, sizeof(chunks0)));
	for (uint32_t pfn = 0; pfn < FRAMES; pfn++)
		if (s->punched[pfn])
			ck_abort_msg("frame %u punched", pfn);
	lf_destroy(&s->p);
	free(s);
}
END_TEST

/* ---- a pool file killed and opened again ---- */

#define POOL_FRAMES	4096	/* 16 MiB */
#define POOL_GFNS	3000
#define MAPPED		1000

static void fill(struct pool *p, uint32_t pfn, uint32_t gfn)
{
	uint32_t *w = pool_frame(p, pfn);

	for (size_t i = 0; i < FRAME_SIZE / sizeof(*w); i++)
		w[i] = gfn * 2654435761U + (uint32_t)i;
}

static bool holds(struct pool *p, uint32_t pfn, uint32_t gfn)
{
	const uint32_t *w = pool_frame(p, pfn);

	for (size_t i = 0; i < FRAME_SIZE / sizeof(*w); i++)
		if (w[i] != gfn * 2654435761U + (uint32_t)i)
			return false;
	return true;
}

static int open_pool(struct pool *p, const char *path)
{
	struct pool_file_opts o = { .persistent = true, .nr_gfns = POOL_GFNS };

	return pool_create_with(p, POOL_FILE, POOL_FRAMES, path, &o, ZONE_LOCKFREE);
}

/* The child: a new pool, MAPPED guest frames populated and written, a
 * move of guest frame 5 cut off after the copy, before the p2m's switch,
 * then SIGKILL: no cleanup, no unmapping, no header rewritten. */
static void child_writes_then_dies(const char *path)
{
	struct pool p;
	struct p2m m;
	uint32_t pfn, dst;

	if (open_pool(&p, path) || p2m_init_on(&m, &p.zone, POOL_GFNS, p.pmem_p2m, true))
		_exit(2);
	for (uint32_t g = 0; g < MAPPED; g++) {
		if (zone_alloc(&p.zone, 0, MIGRATE_MOVABLE, &pfn) || p2m_map(&m, g, pfn))
			_exit(3);
		fill(&p, pfn, g);
	}
	if (zone_alloc(&p.zone, 0, MIGRATE_MOVABLE, &dst))
		_exit(4);
	memcpy(pool_frame(&p, dst), pool_frame(&p, p2m_lookup(&m, 5)), FRAME_SIZE);
	raise(SIGKILL);
	_exit(5);
}

START_TEST(test_pool_killed_and_recovered)
{
	char dir[] = "/tmp/check_pmem.XXXXXX", path[64], msg[256];
	struct pool p;
	struct p2m m;
	struct stat st;
	int status;
	pid_t pid;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/pool", dir);
	pid = fork();
	if (!pid)
		child_writes_then_dies(path);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, "the child ended with %#x", status);
	ck_assert_int_eq(open_pool(&p, path), 0);
	ck_assert(p.recovered);
	ck_assert_uint_eq(p.recovery.owned, MAPPED);
	ck_assert_uint_eq(p.recovery.freed, 1);		/* the move's destination */
	ck_assert_int_eq(p2m_init_on(&m, &p.zone, POOL_GFNS, p.pmem_p2m, false), 0);
	ck_assert_uint_eq(m.nr_mapped, MAPPED);
	for (uint32_t g = 0; g < MAPPED; g++)
		if (!holds(&p, p2m_lookup(&m, g), g))
			ck_abort_msg("guest frame %u lost its bytes", g);
	ck_assert_msg(!zone_check(&p.zone, msg, sizeof(msg)), "zone_check: %s", msg);
	ck_assert_msg(!p2m_check(&m, msg, sizeof(msg)), "p2m_check: %s", msg);
	ck_assert_uint_eq(zone_free_frames(&p.zone), POOL_FRAMES - MAPPED);
	/* a second process cannot have it meanwhile */
	{
		struct pool q;

		ck_assert_int_eq(open_pool(&q, path), -EBUSY);
		ck_assert_msg(strstr(q.why, "in use"), "%s", q.why);
	}
	p2m_destroy(&m);
	pool_destroy(&p);
	/* kept at the end, and opened again as it was */
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(open_pool(&p, path), 0);
	ck_assert_uint_eq(p.recovery.freed, 0);
	ck_assert_uint_eq(p.recovery.owned, MAPPED);
	pool_destroy(&p);
	unlink(path);
	rmdir(dir);
}
END_TEST

/* A file that is not such a pool, or not this size, is refused with what
 * is wrong, and left as it was; so is a symlink. */
START_TEST(test_pool_file_refused)
{
	char dir[] = "/tmp/check_pmem.XXXXXX", path[64], link[64];
	struct pool p;
	uint8_t junk[8192], back[8192];
	int fd;

	memset(junk, 0x6b, sizeof(junk));
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/pool", dir);
	snprintf(link, sizeof(link), "%s/link", dir);
	fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
	ck_assert_int_eq(write(fd, junk, sizeof(junk)), sizeof(junk));
	close(fd);
	ck_assert_int_eq(open_pool(&p, path), -ENODATA);
	ck_assert_msg(strstr(p.why, "not a vmdefrag pool"), "%s", p.why);
	fd = open(path, O_RDONLY);
	ck_assert_int_eq(read(fd, back, sizeof(back)), sizeof(back));
	ck_assert_int_eq(read(fd, back, 1), 0);
	close(fd);
	ck_assert(!memcmp(junk, back, sizeof(junk)));
	ck_assert_int_eq(symlink(path, link), 0);
	ck_assert_int_eq(open_pool(&p, link), -ELOOP);
	unlink(link);
	unlink(path);
	/* a pool of another size */
	{
		struct pool_file_opts o = { .persistent = true, .nr_gfns = POOL_GFNS };

		ck_assert_int_eq(open_pool(&p, path), 0);
		pool_destroy(&p);
		ck_assert_int_eq(pool_create_with(&p, POOL_FILE, 2 * POOL_FRAMES, path, &o, ZONE_LOCKFREE),
				 -EINVAL);
		ck_assert_msg(strstr(p.why, "asks for"), "%s", p.why);
		ck_assert_int_eq(pool_create_with(&p, POOL_FILE, POOL_FRAMES, path, &o, ZONE_BUDDY), -EINVAL);
		ck_assert_msg(strstr(p.why, "lockfree"), "%s", p.why);
	}
	unlink(path);
	rmdir(dir);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("pmem");
	TCase *tc = tcase_create("pmem");

	tcase_add_test(tc, test_header_round_trip);
	tcase_add_loop_test(tc, test_damaged_refused_untouched, 0, NR_DAMAGES);
	tcase_add_test(tc, test_recover_a_move_in_flight);
	tcase_add_test(tc, test_recover_blocks_in_flight);
	tcase_add_test(tc, test_recover_refuses_a_bad_p2m);
	tcase_add_test(tc, test_pool_killed_and_recovered);
	tcase_add_test(tc, test_pool_file_refused);
	suite_add_tcase(s, tc);
	return check_run(s);
}
