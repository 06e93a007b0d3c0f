/* tools/fragmap on maps written here (no KVM): the PNG opens, has the
 * size the layout gives, every frame's pixel has its state's colour, grid
 * lines and the legend are there; bad input is refused with a reason. What
 * the text looks like is the font's business and is not compared. */
#include <cairo.h>
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/base64.h"
#include "tests/check_run.h"

/* fragmap's layout */
#define MARGIN		12
#define TEXT_H		14
#define LINE_GAP	8
#define PANEL_GAP	16
#define GRID_Y		(MARGIN + TEXT_H + LINE_GAP)

#define GRID		0x505050
#define BACKGROUND	0xffffff

enum { FREE, MOVABLE, UNMOVABLE, PINNED, HUGE, ISOLATED, NR_STATES };
static const uint32_t colours[NR_STATES] = {
	0xf4f4f4, 0x3a6fd8, 0xd83a3a, 0xf0a020, 0x2fae4f, 0x8e44ad,
};

/* 40 whole 2 MiB pageblocks and 100 frames of a 41st: one row of 32 x 16
 * cells, 41 * 33 + 1 pixels wide, so wider than any legend */
#define ORDER		9
#define BLOCK		(1U << ORDER)
#define NR_BLOCKS	41
#define FRAMES		((NR_BLOCKS - 1) * BLOCK + 100)
#define CELL_W		32
#define CELL_H		16
#define GRID_W		(NR_BLOCKS * (CELL_W + 1) + 1)
#define GRID_H		(CELL_H + 2)
#define PANEL_H		(TEXT_H + LINE_GAP + GRID_H + LINE_GAP + TEXT_H)
#define IMAGE_H		(PANEL_H + 2 * MARGIN + PANEL_GAP + TEXT_H)

static char dir[64], map_json[96], png[96];

static unsigned int expected(unsigned int pfn)
{
	unsigned int b = pfn / BLOCK, i = pfn % BLOCK;

	switch (b) {
	case 0:
		return FREE;
	case 1:
		return MOVABLE;
	case 2:				/* every state, changing every frame */
		return i % NR_STATES;
	case 3:				/* one frame unlike the rest of its cell */
		return i == CELL_W + 1 ? PINNED : UNMOVABLE;
	case NR_BLOCKS - 1:
		return ISOLATED;
	default:
		return b % 2 ? HUGE : MOVABLE;
	}
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	ck_assert_ptr_nonnull(f);
	ck_assert_int_ge(fputs(text, f), 0);
	ck_assert_int_eq(fclose(f), 0);
}

/* The map as query-frame-map's reply has it; map_text replaces the base64 */
static void write_map(const char *path, const char *map_text)
{
	static uint8_t nibbles[(FRAMES + 1) / 2];
	static char b64[(FRAMES + 1) / 2 / 3 * 4 + 8], json[sizeof(b64) + 512];

	memset(nibbles, 0, sizeof(nibbles));
	for (unsigned int pfn = 0; pfn < FRAMES; pfn++)
		nibbles[pfn / 2] |= expected(pfn) << (pfn % 2 * 4);
	base64_encode(nibbles, sizeof(nibbles), b64);
	snprintf(json, sizeof(json),
		 "{\"return\": {\"frames\": %u, \"pageblock-order\": %u, "
		 "\"encoding\": \"nibbles-base64\", \"states\": [\"free\", \"movable\", "
		 "\"unmovable\", \"pinned\", \"huge\", \"isolated\"], \"map\": \"%s\"}}\n",
		 FRAMES, ORDER, map_text ? map_text : b64);
	write_file(path, json);
}

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/check-fragmap-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(map_json, sizeof(map_json), "%s/map.json", dir);
	snprintf(png, sizeof(png), "%s/map.png", dir);
	write_map(map_json, NULL);
}

static void teardown(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd)) {
		/* scratch only */
	}
}

/* Runs fragmap with args; returns its exit code, stdout and stderr in out. */
static int fragmap(const char *args, char *out, size_t len)
{
	const char *bin = getenv("FRAGMAP");
	char cmd[1024];
	FILE *p;
	size_t n;
	int status;

	ck_assert_msg(bin, "FRAGMAP is not set (make check sets it)");
	snprintf(cmd, sizeof(cmd), "%s %s 2>&1", bin, args);
	p = popen(cmd, "r");
	ck_assert_ptr_nonnull(p);
	n = fread(out, 1, len - 1, p);
	out[n] = '\0';
	status = pclose(p);
	ck_assert_msg(WIFEXITED(status), "%s: status %d", cmd, status);
	return WEXITSTATUS(status);
}

static cairo_surface_t *open_png(const char *path)
{
	cairo_surface_t *s = cairo_image_surface_create_from_png(path);

	ck_assert_msg(cairo_surface_status(s) == CAIRO_STATUS_SUCCESS, "%s: %s", path,
		      cairo_status_to_string(cairo_surface_status(s)));
	return s;
}

static uint32_t pixel(cairo_surface_t *s, int x, int y)
{
	const uint8_t *row = cairo_image_surface_get_data(s) + y * cairo_image_surface_get_stride(s);

	ck_assert_int_lt(x, cairo_image_surface_get_width(s));
	ck_assert_int_lt(y, cairo_image_surface_get_height(s));
	return ((const uint32_t *)row)[x] & 0xffffff;
}

/* Each frame's pixel, the grid lines around and between the cells, and
 * grid colour past the end of the partial last pageblock. */
static void check_panel(cairo_surface_t *s, int gx)
{
	for (unsigned int pfn = 0; pfn < NR_BLOCKS * BLOCK; pfn++) {
		unsigned int b = pfn / BLOCK, i = pfn % BLOCK;
		int x = gx + 1 + b * (CELL_W + 1) + i % CELL_W, y = GRID_Y + 1 + i / CELL_W;
		uint32_t want = pfn < FRAMES ? colours[expected(pfn)] : GRID;

		ck_assert_msg(pixel(s, x, y) == want, "frame %u at %d,%d: %06x, expected %06x",
			      pfn, x, y, pixel(s, x, y), want);
	}
	for (int y = GRID_Y; y < GRID_Y + GRID_H; y++)
		for (unsigned int b = 0; b <= NR_BLOCKS; b++)
			ck_assert_uint_eq(pixel(s, gx + b * (CELL_W + 1), y), GRID);
	for (int x = gx; x < gx + GRID_W; x++) {
		ck_assert_uint_eq(pixel(s, x, GRID_Y), GRID);
		ck_assert_uint_eq(pixel(s, x, GRID_Y + GRID_H - 1), GRID);
		ck_assert_uint_eq(pixel(s, x, GRID_Y - 1), BACKGROUND);
		ck_assert_uint_eq(pixel(s, x, GRID_Y + GRID_H), BACKGROUND);
	}
}

/* Pixels of text in the TEXT_H line at y from x on: antialiased, so not
 * one exact colour, but grey and near its 0x202020 (darker than the grid). */
static int has_text(cairo_surface_t *s, int x, int y, int w)
{
	int dark = 0;

	for (int j = y; j < y + TEXT_H; j++)
		for (int i = x; i < x + w; i++) {
			uint32_t c = pixel(s, i, j);

			dark += c % 0x10101 == 0 && (c & 0xff) < 0x48;
		}
	return dark;
}

START_TEST(test_one_map)
{
	char out[512], args[256];
	cairo_surface_t *s;
	int legend_y = IMAGE_H - MARGIN - TEXT_H;
	int found[NR_STATES] = { 0 };

	snprintf(args, sizeof(args), "-o %s %s", png, map_json);
	ck_assert_int_eq(fragmap(args, out, sizeof(out)), 0);
	/* 512 free in block 0, 86 in block 2 (every sixth frame) */
	ck_assert_str_eq(out, "map: 20580 frames, 598 free, 1 free 2M blocks\n");
	s = open_png(png);
	ck_assert_int_eq(cairo_image_surface_get_width(s), MARGIN + GRID_W + MARGIN);
	ck_assert_int_eq(cairo_image_surface_get_height(s), IMAGE_H);
	check_panel(s, MARGIN);
	ck_assert_int_gt(has_text(s, MARGIN, MARGIN, GRID_W), 0);		/* caption */
	ck_assert_int_gt(has_text(s, MARGIN, GRID_Y + GRID_H + LINE_GAP, GRID_W), 0);
	/* the legend: a square of each state's colour, inside a grid line,
	 * the first at the margin, and names beside them */
	ck_assert_uint_eq(pixel(s, MARGIN, legend_y), GRID);
	ck_assert_uint_eq(pixel(s, MARGIN + 1, legend_y + 1), colours[FREE]);
	for (int x = MARGIN; x < MARGIN + GRID_W; x++)
		for (int st = 0; st < NR_STATES; st++)
			found[st] += pixel(s, x, legend_y + TEXT_H / 2) == colours[st];
	for (int st = 0; st < NR_STATES; st++)
		ck_assert_msg(found[st] >= TEXT_H - 2, "state %d: %d pixels in the legend", st,
			      found[st]);
	ck_assert_int_gt(has_text(s, MARGIN + TEXT_H, legend_y, GRID_W - TEXT_H), 0);
	cairo_surface_destroy(s);
}
END_TEST

/* Before and after side by side, captioned by --title; stdin as a source. */
START_TEST(test_two_maps)
{
	char out[512], args[512];
	cairo_surface_t *s;
	int x2 = MARGIN + GRID_W + PANEL_GAP;

	snprintf(args, sizeof(args), "-o %s --title one --title two %s - < %s", png, map_json,
		 map_json);
	ck_assert_int_eq(fragmap(args, out, sizeof(out)), 0);
	ck_assert_str_eq(out, "before: 20580 frames, 598 free, 1 free 2M blocks\n"
			      "after: 20580 frames, 598 free, 1 free 2M blocks\n");
	s = open_png(png);
	ck_assert_int_eq(cairo_image_surface_get_width(s), x2 + GRID_W + MARGIN);
	ck_assert_int_eq(cairo_image_surface_get_height(s), IMAGE_H);
	check_panel(s, MARGIN);
	check_panel(s, x2);
	ck_assert_int_gt(has_text(s, x2, MARGIN, GRID_W), 0);
	for (int y = 0; y < IMAGE_H - MARGIN - TEXT_H; y++)	/* the gap between */
		for (int x = MARGIN + GRID_W; x < x2; x++)
			ck_assert_uint_eq(pixel(s, x, y), BACKGROUND);
	cairo_surface_destroy(s);
}
END_TEST

static const struct {
	const char *map, *why;
} bad_maps[] = {
	{ "QUJD!", "bad base64 in \"map\": length 5 is not a multiple of 4" },
	{ "QU=D", "bad base64 in \"map\": unexpected 'D' at offset 3" },
	{ "QUJD QUJD", "bad base64 in \"map\": length 9 is not a multiple of 4" },
	{ "QUJD-UJD", "bad base64 in \"map\": unexpected '-' at offset 4" },
	{ "QUJD", "\"map\" decodes to 3 bytes, but 20580 frames need 10290" },
};

START_TEST(test_bad_map)
{
	char out[512], args[256], want[256], path[128];

	snprintf(path, sizeof(path), "%s/bad.json", dir);
	write_map(path, bad_maps[_i].map);
	snprintf(args, sizeof(args), "-o %s %s", png, path);
	ck_assert_int_eq(fragmap(args, out, sizeof(out)), 1);
	snprintf(want, sizeof(want), "fragmap: %s: %s\n", path, bad_maps[_i].why);
	ck_assert_str_eq(out, want);
	ck_assert_int_ne(access(png, F_OK), 0);
}
END_TEST

START_TEST(test_bad_output)
{
	char out[512], args[256], want[256];

	snprintf(args, sizeof(args), "-o %s/no/such.png %s", dir, map_json);
	ck_assert_int_eq(fragmap(args, out, sizeof(out)), 1);
	snprintf(want, sizeof(want), "map: 20580 frames, 598 free, 1 free 2M blocks\n"
		 "fragmap: %s/no/such.png: cannot create: No such file or directory\n", dir);
	ck_assert_str_eq(out, want);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("fragmap");
	TCase *tc = tcase_create("fragmap");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_one_map);
	tcase_add_test(tc, test_two_maps);
	tcase_add_loop_test(tc, test_bad_map, 0, sizeof(bad_maps) / sizeof(bad_maps[0]));
	tcase_add_test(tc, test_bad_output);
	suite_add_tcase(s, tc);
	return check_run(s);
}
