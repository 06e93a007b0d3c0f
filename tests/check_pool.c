/* Pool storage: frames hold data, punching gives memory back to the host,
 * bad sizes are refused. */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mm/pool.h"
#include "tests/check_run.h"

static const enum pool_backing backings[] = { POOL_ANON, POOL_MEMFD, POOL_FILE };

START_TEST(test_frames_hold_data_and_punch_frees)
{
	enum pool_backing backing = backings[_i];
	char path[] = "/tmp/vmdefrag-pool-XXXXXX";
	const char *file = NULL;
	struct pool p;
	int64_t before, after;

	if (backing == POOL_FILE) {
		int fd = mkstemp(path);

		ck_assert_int_ge(fd, 0);
		close(fd);
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
	if (file)
		unlink(file);
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
	suite_add_tcase(s, tc);
	return check_run(s);
}
