/* Pool storage: frames hold data, punching gives memory back to the host,
 * bad sizes are refused. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mm/pool.h"
#include "tests/check_run.h"

static const enum pool_backing backings[] = { POOL_ANON, POOL_MEMFD, POOL_FILE };

START_TEST(test_frames_hold_data_and_punch_frees)
{
	enum pool_backing backing = backings[_i];
	char dir[] = "/tmp/vmdefrag-pool-XXXXXX", path[64];
	const char *file = NULL;
	struct pool p;
	int64_t before, after;

	if (backing == POOL_FILE) {
		ck_assert_ptr_nonnull(mkdtemp(dir));
		snprintf(path, sizeof(path), "%s/pool", dir);
		file = path;
	}
	ck_assert_int_eq(pool_create(&p, backing, 2048, file), 0);
	for (uint32_t pfn = 0; pfn < 2048; pfn++)
		memset(pool_frame(&p, pfn), (int)(pfn % 251) + 1, FRAME_SIZE);
	before = pool_resident_bytes(&p);
	ck_assert_msg(before >= 2048 * 4096L, "resident %ld after writing 8 MiB", (long)before);
	ck_assert_int_eq(pool_punch(&p, 1024, 1024), 0);
	after = pool_resident_bytes(&p);
	ck_assert_msg(before - after == 1024 * 4096L,
		      "punching 4 MiB freed %ld bytes (before %ld, after %ld)",
		      (long)(before - after), (long)before, (long)after);
	/* punched frames read as zeros, the others kept their bytes */
	ck_assert_uint_eq(((uint8_t *)pool_frame(&p, 1500))[17], 0);
	ck_assert_uint_eq(((uint8_t *)pool_frame(&p, 1000))[4095], 1000 % 251 + 1);
	ck_assert_int_eq(pool_punch(&p, 2047, 2), -ERANGE);
	pool_destroy(&p);
	if (file) {
		ck_assert_msg(access(file, F_OK) && errno == ENOENT, "%s is still there", file);
		ck_assert_int_eq(rmdir(dir), 0);
	}
}
END_TEST

/* A scratch directory holding "old": a file of known bytes, and "link", a
 * symlink to it. */
struct scratch {
	char dir[32], old[48], link[48], fresh[48];
};

static void scratch_make(struct scratch *s)
{
	int fd;

	snprintf(s->dir, sizeof(s->dir), "/tmp/vmdefrag-pool-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(s->dir));
	snprintf(s->old, sizeof(s->old), "%s/old", s->dir);
	snprintf(s->link, sizeof(s->link), "%s/link", s->dir);
	snprintf(s->fresh, sizeof(s->fresh), "%s/fresh", s->dir);
	fd = open(s->old, O_WRONLY | O_CREAT | O_EXCL, 0644);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, "secret bytes", 12), 12);
	close(fd);
	ck_assert_int_eq(symlink(s->old, s->link), 0);
}

static void scratch_remove(struct scratch *s)
{
	unlink(s->old);
	unlink(s->link);
	unlink(s->fresh);
	ck_assert_int_eq(rmdir(s->dir), 0);
}

/* "old" still holds its 12 bytes with mode 0644, and "link" points to it. */
static void assert_untouched(const struct scratch *s)
{
	struct stat st;
	char target[64];
	ssize_t n;

	ck_assert_int_eq(stat(s->old, &st), 0);
	ck_assert_int_eq(st.st_size, 12);
	ck_assert_int_eq(st.st_mode & 07777, 0644);
	n = readlink(s->link, target, sizeof(target) - 1);
	ck_assert_int_gt(n, 0);
	target[n] = 0;
	ck_assert_str_eq(target, s->old);
}

/* An existing file's bytes would become guest memory, a symlink would send
 * the pool anywhere: both are refused and left as they were. */
START_TEST(test_file_must_be_new)
{
	struct scratch s;
	struct pool p;

	scratch_make(&s);
	ck_assert_int_eq(pool_create_file(&p, 512, s.old, NULL), -EEXIST);
	ck_assert_int_eq(pool_create_file(&p, 512, s.link, NULL), -EEXIST);
	assert_untouched(&s);
	/* a dangling symlink is refused too: it would create its target */
	ck_assert_int_eq(unlink(s.old), 0);
	ck_assert_int_eq(pool_create_file(&p, 512, s.link, NULL), -EEXIST);
	ck_assert_msg(access(s.old, F_OK) && errno == ENOENT, "the symlink's target was created");
	scratch_remove(&s);
}
END_TEST

/* The file is the pool's while it runs, mode 0600 whatever the umask, and
 * is removed at the end unless kept. */
START_TEST(test_file_removed_unless_kept)
{
	struct pool_file_opts keep = { .keep = true };
	struct scratch s;
	struct stat st;
	struct pool p;
	mode_t old_umask;

	scratch_make(&s);
	old_umask = umask(0277);	/* would leave 0400 */
	ck_assert_int_eq(pool_create_file(&p, 512, s.fresh, NULL), 0);
	ck_assert_int_eq(stat(s.fresh, &st), 0);
	ck_assert_int_eq(st.st_mode & 07777, 0600);
	ck_assert_int_eq(st.st_size, 512 * 4096);
	pool_destroy(&p);
	ck_assert_msg(access(s.fresh, F_OK) && errno == ENOENT, "%s is still there", s.fresh);

	ck_assert_int_eq(pool_create_file(&p, 512, s.fresh, &keep), 0);
	memset(pool_frame(&p, 3), 0x5a, FRAME_SIZE);
	pool_destroy(&p);
	umask(old_umask);
	ck_assert_int_eq(stat(s.fresh, &st), 0);
	ck_assert_int_eq(st.st_mode & 07777, 0600);
	ck_assert_int_eq(st.st_size, 512 * 4096);
	assert_untouched(&s);
	scratch_remove(&s);
}
END_TEST

/* A file put at the pool's path meanwhile is not the pool's to remove. */
START_TEST(test_file_replaced_is_left)
{
	struct scratch s;
	struct pool p;
	char moved[64];

	scratch_make(&s);
	snprintf(moved, sizeof(moved), "%s/moved", s.dir);
	ck_assert_int_eq(pool_create_file(&p, 512, s.fresh, NULL), 0);
	ck_assert_int_eq(rename(s.fresh, moved), 0);
	ck_assert_int_eq(link(s.old, s.fresh), 0);
	pool_destroy(&p);
	ck_assert_int_eq(access(s.fresh, F_OK), 0);
	ck_assert_int_eq(unlink(moved), 0);
	assert_untouched(&s);
	scratch_remove(&s);
}
END_TEST

START_TEST(test_bad_sizes)
{
	struct pool p;

	ck_assert_int_eq(pool_create(&p, POOL_MEMFD, 0, NULL), -EINVAL);
	ck_assert_int_eq(pool_create(&p, POOL_MEMFD, 100, NULL), -EINVAL);
	ck_assert_int_eq(pool_create(&p, POOL_MEMFD, 1ULL << 33, NULL), -EINVAL);
	ck_assert_int_eq(pool_create(&p, POOL_FILE, 512, "/nonexistent-dir/pool"), -ENOENT);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("pool");
	TCase *tc = tcase_create("pool");

	tcase_add_loop_test(tc, test_frames_hold_data_and_punch_frees, 0, 3);
	tcase_add_test(tc, test_bad_sizes);
	tcase_add_test(tc, test_file_must_be_new);
	tcase_add_test(tc, test_file_removed_unless_kept);
	tcase_add_test(tc, test_file_replaced_is_left);
	suite_add_tcase(s, tc);
	return check_run(s);
}
