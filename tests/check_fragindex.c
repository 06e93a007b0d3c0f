/* Fragmentation formulas on hand-computed cases, and the text views byte
 * for byte against the kernel's (samples captured on this machine kind). */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "mm/buddy.h"
#include "mm/fragindex.h"
#include "mm/vmstat.h"
#include "tests/check_run.h"
#include "tools/buddyinfo.h"

static char *slurp(const char *name)
{
	char path[512];
	FILE *f;
	char *buf;
	long n;

	snprintf(path, sizeof(path), "%s/%s", SAMPLES_DIR, name);
	f = fopen(path, "r");
	ck_assert_msg(f != NULL, "cannot open %s", path);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = calloc(1, (size_t)n + 1);
	ck_assert_int_eq(fread(buf, 1, (size_t)n, f), n);
	fclose(f);
	return buf;
}

/* Runs a printer into a string. */
#define capture(buf, call) do { \
	size_t len_; \
	FILE *out = open_memstream(&(buf), &len_); \
	call; \
	fclose(out); \
} while (0)

static const uint64_t four_singles[NR_ORDERS] = { 4 };

START_TEST(test_indices_hand_computed)
{
	struct contig_page_info info;
	/* 4 free order-0 frames: plenty for order 0 */
	fill_contig_page_info(four_singles, NR_ORDERS, 0, &info);
	ck_assert_uint_eq(info.free_pages, 4);
	ck_assert_uint_eq(info.free_blocks_total, 4);
	ck_assert_uint_eq(info.free_blocks_suitable, 4);
	ck_assert_int_eq(fragmentation_index(0, &info), -1000);
	ck_assert_int_eq(unusable_free_index(0, &info), 0);
	/* order 1: 1000 - (1000 + 4*1000/2) / 4 = 250; all 4 frames unusable */
	fill_contig_page_info(four_singles, NR_ORDERS, 1, &info);
	ck_assert_int_eq(fragmentation_index(1, &info), 250);
	ck_assert_int_eq(unusable_free_index(1, &info), 1000);
	/* order 2: 1000 - (1000 + 1000) / 4 = 500 */
	fill_contig_page_info(four_singles, NR_ORDERS, 2, &info);
	ck_assert_int_eq(fragmentation_index(2, &info), 500);
}
END_TEST

START_TEST(test_indices_mixed)
{
	/* 3 x order 0, 1 x order 1, 2 x order 3: 3 + 2 + 16 = 21 frames, 6 blocks */
	static const uint64_t nr_free[NR_ORDERS] = { 3, 1, 0, 2 };
	struct contig_page_info info;

	fill_contig_page_info(nr_free, NR_ORDERS, 2, &info);
	ck_assert_uint_eq(info.free_pages, 21);
	ck_assert_uint_eq(info.free_blocks_total, 6);
	ck_assert_uint_eq(info.free_blocks_suitable, 4);	/* 2 order-3 = 4 order-2 */
	ck_assert_int_eq(fragmentation_index(2, &info), -1000);
	/* unusable at 2: (21 - 4*4) * 1000 / 21 = 238 */
	ck_assert_int_eq(unusable_free_index(2, &info), 238);
	fill_contig_page_info(nr_free, NR_ORDERS, 4, &info);
	/* 1000 - (1000 + 21000/16) / 6 = 1000 - 2312/6 = 1000 - 385 = 615 */
	ck_assert_int_eq(fragmentation_index(4, &info), 615);
	ck_assert_int_eq(unusable_free_index(4, &info), 1000);
	/* percent, as extfrag_for_order: (21 - 0) * 100 / 21 at order 4 */
	ck_assert_uint_eq(extfrag_for_order(nr_free, NR_ORDERS, 4), 100);
	ck_assert_uint_eq(extfrag_for_order(nr_free, NR_ORDERS, 2), 23);
}
END_TEST

START_TEST(test_indices_empty)
{
	static const uint64_t none[NR_ORDERS];
	struct contig_page_info info;

	fill_contig_page_info(none, NR_ORDERS, 3, &info);
	ck_assert_int_eq(fragmentation_index(3, &info), 0);
	ck_assert_int_eq(unusable_free_index(3, &info), 1000);
	ck_assert_uint_eq(extfrag_for_order(none, NR_ORDERS, 9), 0);
	ck_assert_uint_eq(fragmentation_score(none, NR_ORDERS, 1000), 0);
}
END_TEST

/* Less free memory than the request: the kernel's formula goes negative
 * and debugfs prints it as " 0.-500"; we print what the kernel prints. */
START_TEST(test_extfrag_negative_quirk)
{
	static const uint64_t one_order2[NR_ORDERS] = { 0, 0, 1 };
	struct contig_page_info info;
	char *text = NULL;

	fill_contig_page_info(one_order2, NR_ORDERS, 3, &info);
	ck_assert_int_eq(fragmentation_index(3, &info), -500);
	capture(text, print_extfrag_line(out, 0, "Normal", one_order2, 4));
	ck_assert_str_eq(text, "Node 0, zone   Normal -1.000 -1.000 -1.000  0.-500 \n");
	free(text);
}
END_TEST

START_TEST(test_score_and_watermarks)
{
	/* 1024 frames free, all as order-0: extfrag at 9 is 100%, weighted by
	 * present/(present+1): 100 * 4096 / 4097 = 99 */
	static const uint64_t scattered[NR_ORDERS] = { 1024 };
	static const uint64_t half[NR_ORDERS] = { 512, 0, 0, 0, 0, 0, 0, 0, 0, 1 };

	ck_assert_uint_eq(extfrag_for_order(scattered, NR_ORDERS, 9), 100);
	ck_assert_uint_eq(fragmentation_score(scattered, NR_ORDERS, 4096), 99);
	ck_assert_uint_eq(extfrag_for_order(half, NR_ORDERS, 9), 50);
	ck_assert_uint_eq(fragmentation_score(half, NR_ORDERS, 4096), 49);
	ck_assert_uint_eq(fragmentation_score_wmark(20, 1), 80);
	ck_assert_uint_eq(fragmentation_score_wmark(20, 0), 90);
	ck_assert_uint_eq(fragmentation_score_wmark(0, 1), 100);
	ck_assert_uint_eq(fragmentation_score_wmark(0, 0), 100);
	ck_assert_uint_eq(fragmentation_score_wmark(100, 1), 5);
	ck_assert_uint_eq(fragmentation_score_wmark(100, 0), 15);
	ck_assert_uint_eq(fragmentation_score_wmark(93, 1), 7);
}
END_TEST

/* The host's own numbers, captured at one moment, reproduced exactly. */
START_TEST(test_kernel_samples)
{
	char *buddy = slurp("buddyinfo"), *extfrag = slurp("extfrag_index");
	char *unusable = slurp("unusable_index");
	char *ours_e = NULL, *ours_u = NULL, *ours_b = NULL;
	size_t le, lu, lb;
	FILE *fe = open_memstream(&ours_e, &le), *fu = open_memstream(&ours_u, &lu);
	FILE *fb = open_memstream(&ours_b, &lb);

	for (char *line = strtok(buddy, "\n"); line; line = strtok(NULL, "\n")) {
		struct buddyinfo_line bl;
		const char *why;

		ck_assert_msg(buddyinfo_parse_line(line, &bl, &why) == 0, "%s: %s", line, why);
		ck_assert_uint_eq(bl.nr_orders, NR_ORDERS);
		print_extfrag_line(fe, bl.node, bl.zone, bl.nr_free, bl.nr_orders);
		print_unusable_line(fu, bl.node, bl.zone, bl.nr_free, bl.nr_orders);
		print_buddyinfo_line(fb, bl.node, bl.zone, bl.nr_free, bl.nr_orders);
	}
	fclose(fe);
	fclose(fu);
	fclose(fb);
	ck_assert_str_eq(ours_e, extfrag);
	ck_assert_str_eq(ours_u, unusable);
	free(buddy);
	buddy = slurp("buddyinfo");
	ck_assert_str_eq(ours_b, buddy);
	free(buddy);
	free(extfrag);
	free(unusable);
	free(ours_e);
	free(ours_u);
	free(ours_b);
}
END_TEST

START_TEST(test_parse_rejects)
{
	struct buddyinfo_line bl;
	const char *why;

	ck_assert_int_eq(buddyinfo_parse_line("Node 0, zone Normal 1 2 x 4\n", &bl, &why), -1);
	ck_assert_int_eq(buddyinfo_parse_line("garbage\n", &bl, &why), -1);
	ck_assert_int_eq(buddyinfo_parse_line("Node 0, zone Normal\n", &bl, &why), -1);
	ck_assert_int_eq(buddyinfo_parse_line("Node 0, zone Normal -1\n", &bl, &why), -1);
	ck_assert_int_eq(buddyinfo_parse_line("Node 1, zone DMA32 5 6\n", &bl, &why), 0);
	ck_assert_int_eq(bl.node, 1);
	ck_assert_str_eq(bl.zone, "DMA32");
	ck_assert_uint_eq(bl.nr_orders, 2);
	ck_assert_uint_eq(bl.nr_free[1], 6);
}
END_TEST

/* The pool's views: one unmovable frame allocated from a fresh 2048-frame
 * pool (which claims the first order-10 block, see check_buddy). */
START_TEST(test_pool_views)
{
	static const char buddyinfo[] =
		"Node 0, zone   Normal      1      1      1      1      1      1      1      1      1      1      1 \n";
	static const char extfrag[] =
		"Node 0, zone   Normal -1.000 -1.000 -1.000 -1.000 -1.000 -1.000 -1.000 -1.000 -1.000 -1.000 -1.000 \n";
	/* 2047 free; at order k the blocks below k, 2^k - 1 frames, are
	 * unusable: (2^k - 1) * 1000 / 2047 */
	static const char unusable[] =
		"Node 0, zone   Normal 0.000 0.000 0.001 0.003 0.007 0.015 0.030 0.062 0.124 0.249 0.499 \n";
	static const char pagetypeinfo[] =
		"Page block order: 9\n"
		"Pages per block:  512\n"
		"\n"
		"Free pages count per migrate type at order       0      1      2      3      4      5      6      7      8      9     10 \n"
		"Node    0, zone   Normal, type    Unmovable      1      1      1      1      1      1      1      1      1      1      0 \n"
		"Node    0, zone   Normal, type      Movable      0      0      0      0      0      0      0      0      0      0      1 \n"
		"Node    0, zone   Normal, type  Reclaimable      0      0      0      0      0      0      0      0      0      0      0 \n"
		"Node    0, zone   Normal, type   HighAtomic      0      0      0      0      0      0      0      0      0      0      0 \n"
		"Node    0, zone   Normal, type      Isolate      0      0      0      0      0      0      0      0      0      0      0 \n"
		"\n"
		"Number of blocks type     Unmovable      Movable  Reclaimable   HighAtomic      Isolate \n"
		"Node 0, zone   Normal            2            2            0            0            0 \n";
	struct zone z;
	uint32_t pfn;
	char *text = NULL;

	ck_assert_int_eq(buddy_init(&z, 2048), 0);
	ck_assert_int_eq(buddy_alloc(&z, 0, MIGRATE_UNMOVABLE, &pfn), 0);
	capture(text, vmstat_buddyinfo(out, &z));
	ck_assert_str_eq(text, buddyinfo);
	free(text);
	capture(text, vmstat_extfrag_index(out, &z));
	ck_assert_str_eq(text, extfrag);
	free(text);
	capture(text, vmstat_unusable_index(out, &z));
	ck_assert_str_eq(text, unusable);
	free(text);
	capture(text, vmstat_pagetypeinfo(out, &z));
	ck_assert_str_eq(text, pagetypeinfo);
	free(text);
	buddy_destroy(&z);
}
END_TEST

/* The zone-independent lines of pagetypeinfo equal the kernel's. */
START_TEST(test_pagetypeinfo_headers)
{
	char *sample = slurp("pagetypeinfo"), *ours = NULL;
	struct zone z;
	const char *lines[] = {
		"Page block order: 9\n", "Pages per block:  512\n",
		"Free pages count per migrate type at order       0      1      2      3      4      5      6      7      8      9     10 \n",
		"Number of blocks type     Unmovable      Movable  Reclaimable   HighAtomic      Isolate \n",
	};

	ck_assert_int_eq(buddy_init(&z, 512), 0);
	capture(ours, vmstat_pagetypeinfo(out, &z));
	for (unsigned int i = 0; i < 4; i++) {
		ck_assert_msg(strstr(sample, lines[i]), "kernel sample lacks %s", lines[i]);
		ck_assert_msg(strstr(ours, lines[i]), "our pagetypeinfo lacks %s", lines[i]);
	}
	buddy_destroy(&z);
	free(sample);
	free(ours);
}
END_TEST

START_TEST(test_pagetypeinfo_overflow)
{
	/* more than 100000 free blocks on one list print as ">100000" */
	struct zone z;
	uint32_t pfn;
	char *text = NULL;

	ck_assert_int_eq(buddy_init(&z, 262144), 0);
	for (uint32_t i = 0; i < 262144; i++)
		ck_assert_int_eq(buddy_alloc(&z, 0, MIGRATE_MOVABLE, &pfn), 0);
	for (uint32_t i = 0; i < 262144; i += 2)
		ck_assert_int_eq(buddy_free(&z, i, 0), 0);
	capture(text, vmstat_pagetypeinfo(out, &z));
	ck_assert_msg(strstr(text, "type      Movable >100000      0 "), "%s", text);
	free(text);
	buddy_destroy(&z);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("fragindex");
	TCase *tc = tcase_create("formulas");

	tcase_add_test(tc, test_indices_hand_computed);
	tcase_add_test(tc, test_indices_mixed);
	tcase_add_test(tc, test_indices_empty);
	tcase_add_test(tc, test_extfrag_negative_quirk);
	tcase_add_test(tc, test_score_and_watermarks);
	suite_add_tcase(s, tc);
	tc = tcase_create("formats");
	tcase_add_test(tc, test_kernel_samples);
	tcase_add_test(tc, test_parse_rejects);
	tcase_add_test(tc, test_pool_views);
	tcase_add_test(tc, test_pagetypeinfo_headers);
	tcase_add_test(tc, test_pagetypeinfo_overflow);
	tcase_set_timeout(tc, 30);
	suite_add_tcase(s, tc);
	return check_run(s);
}
