/* fragmap: draws a frame map (query-frame-map, saved or live) as a PNG, one
 * pixel per frame laid out pageblock by pageblock, optionally before and
 * after side by side, so fragmentation and what compaction did are visible.
 * cairo draws it: rectangles for cells and grid, its toy font for text. */
#include <cairo.h>
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <fontconfig/fontconfig.h>
#include <json-c/json.h>

#include "lib/base64.h"
#include "lib/cli.h"
#include "tools/qmp_client.h"

#define ERR_LEN		512
#define MAX_STATES	16		/* a frame's state is one nibble */
#define MAX_FRAMES	(1UL << 26)	/* 256 GiB of frames */
#define MAX_ORDER	18		/* cells up to 512 x 512 pixels */
#define MAX_FILE_BYTES	(128UL << 20)	/* bytes of a map file */
#define MAX_PIXELS	(1UL << 26)	/* 256 MiB of cairo's 32-bit pixels */
#define MAX_SIDE	32767		/* cairo's limit for an image surface */
#define MAX_TITLE	100
#define ENCODING	"nibbles-base64"
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

#define ROW_CELLS	64		/* cells per grid row, at most */
#define ROW_PIXELS	2113		/* 64 cells of 32 pixels and grid lines */
#define FONT		"sans-serif"
#define FONT_SIZE	14		/* pixels, as is a line of text: */
#define TEXT_H		14		/* descenders hang into the gap below */
#define BASELINE	12		/* from the top of the line */
#define SWATCH		TEXT_H		/* a legend entry's square */
#define SWATCH_GAP	6		/* from a square to its name */
#define ENTRY_GAP	24		/* from a name to the next square */
#define MARGIN		12
#define PANEL_GAP	16
#define LINE_GAP	8

struct rgb {
	uint8_t r, g, b;
};

static const struct rgb background = { 0xff, 0xff, 0xff };
static const struct rgb grid_colour = { 0x50, 0x50, 0x50 };
static const struct rgb text_colour = { 0x20, 0x20, 0x20 };

/* Colours go by state name, so the VMM may reorder or extend its list. */
static const struct {
	const char *name;
	struct rgb colour;
} state_colours[] = {
	{ "free", { 0xf4, 0xf4, 0xf4 } },
	{ "movable", { 0x3a, 0x6f, 0xd8 } },
	{ "unmovable", { 0xd8, 0x3a, 0x3a } },
	{ "pinned", { 0xf0, 0xa0, 0x20 } },
	{ "huge", { 0x2f, 0xae, 0x4f } },
	{ "isolated", { 0x8e, 0x44, 0xad } },
};

static const struct rgb other_colours[] = {
	{ 0x9a, 0x9a, 0x9a }, { 0x1a, 0xbc, 0x9c }, { 0x8d, 0x6e, 0x63 },
	{ 0xe0, 0x7b, 0xb0 }, { 0x33, 0x33, 0x33 }, { 0xc0, 0xc0, 0x40 },
};

struct frame_map {
	unsigned long frames;
	unsigned int order;		/* pageblock order */
	unsigned int nr_states;
	char *states[MAX_STATES];
	uint8_t *state;			/* state index of each frame */
	unsigned long nr_free;		/* frames in state "free" */
	unsigned long nr_free_blocks;	/* whole pageblocks of them */
};

struct panel {
	const char *source;		/* file, "-" or socket, for messages */
	const char *label;		/* names the stdout summary line */
	const char *caption;
	struct frame_map map;
	struct rgb palette[MAX_STATES];
	char summary[128];
	unsigned int cell_w, cell_h, cols, rows, grid_w, grid_h;
	unsigned int x, w, h;		/* place and size in the image */
};

struct legend {
	unsigned int n, nr_other;
	const char *names[2 * MAX_STATES];
	struct rgb colours[2 * MAX_STATES];
	unsigned int w;
};

/* One run: what was asked for, what was loaded, what is drawn. */
struct fragmap {
	const char *output;
	const char *socket;
	const char *titles[2];
	unsigned int nr_titles;
	struct panel panels[2];
	unsigned int nr_panels;
	struct legend legend;
	unsigned int w, h;		/* of the image */
	cairo_surface_t *surface;	/* the image, made by layout() */
	cairo_t *cr;			/* on it, with the font set */
	char err[ERR_LEN];
};

__attribute__((format(printf, 2, 3)))
static int fail(char *err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, ERR_LEN, fmt, ap);
	va_end(ap);
	return -1;
}

/* ---- input ---- */

static int read_all(const char *path, char **bufp, size_t *lenp, char *err)
{
	FILE *fp = strcmp(path, "-") ? fopen(path, "r") : stdin;
	size_t len = 0, cap = 0, n;
	char *buf = NULL, *nbuf;
	int ret = -1;

	if (!fp)
		return fail(err, "cannot open: %s", strerror(errno));
	do {
		if (len == cap) {
			cap = cap ? 2 * cap : 65536;
			if (cap > MAX_FILE_BYTES) {
				fail(err, "larger than %lu MiB", MAX_FILE_BYTES >> 20);
				goto out;
			}
			nbuf = realloc(buf, cap + 1);
			if (!nbuf) {
				fail(err, "out of memory");
				goto out;
			}
			buf = nbuf;
		}
		n = fread(buf + len, 1, cap - len, fp);
		len += n;
	} while (n);
	if (ferror(fp)) {
		fail(err, "read error: %s", strerror(errno));
		goto out;
	}
	buf[len] = '\0';
	*bufp = buf;
	*lenp = len;
	buf = NULL;
	ret = 0;
out:
	free(buf);
	if (fp != stdin)
		fclose(fp);
	return ret;
}

static struct json_object *parse_json(const char *buf, size_t len, char *err)
{
	struct json_tokener *tok = json_tokener_new_ex(32);
	struct json_object *obj;
	enum json_tokener_error jerr;
	size_t end;

	if (!tok) {
		fail(err, "out of memory");
		return NULL;
	}
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	obj = json_tokener_parse_ex(tok, buf, len);
	jerr = json_tokener_get_error(tok);
	end = json_tokener_get_parse_end(tok);
	json_tokener_free(tok);
	if (jerr == json_tokener_continue || (!obj && jerr == json_tokener_success)) {
		fail(err, "not valid JSON: unexpected end of input");
		return NULL;
	}
	if (jerr != json_tokener_success) {
		fail(err, "not valid JSON: %s at byte %zu", json_tokener_error_desc(jerr), end);
		return NULL;
	}
	while (end < len && isspace((unsigned char)buf[end]))
		end++;
	if (end < len) {
		json_object_put(obj);
		fail(err, "not valid JSON: trailing data at byte %zu", end);
		return NULL;
	}
	return obj;
}

static struct json_object *load_file(const char *path, char *err)
{
	struct json_object *obj;
	char *buf = NULL;
	size_t len = 0;

	if (read_all(path, &buf, &len, err))
		return NULL;
	obj = parse_json(buf, len, err);
	free(buf);
	return obj;
}

static struct json_object *load_live(const char *path, char *err)
{
	struct qmp_client *c = qmp_connect(path, err, ERR_LEN);
	struct json_object *reply;

	if (!c)
		return NULL;
	reply = qmp_execute(c, "query-frame-map", NULL, err, ERR_LEN);
	qmp_close(c);
	return reply;
}

/* A saved map is the bare object or the whole QMP reply around it. */
static struct json_object *unwrap_reply(struct json_object *obj, char *err)
{
	struct json_object *v, *desc;

	if (!json_object_is_type(obj, json_type_object)) {
		fail(err, "not a JSON object");
		return NULL;
	}
	if (json_object_object_get_ex(obj, "error", &v)) {
		if (!json_object_object_get_ex(v, "desc", &desc))
			desc = v;
		fail(err, "query-frame-map failed: %s", json_object_get_string(desc));
		return NULL;
	}
	if (!json_object_object_get_ex(obj, "return", &v))
		return obj;
	if (!json_object_is_type(v, json_type_object)) {
		fail(err, "\"return\" is not an object");
		return NULL;
	}
	return v;
}

/* ---- validation and decoding ---- */

static struct json_object *member(struct json_object *obj, const char *key,
				  enum json_type type, char *err)
{
	struct json_object *v;

	if (!json_object_object_get_ex(obj, key, &v)) {
		fail(err, "missing member \"%s\"", key);
		return NULL;
	}
	if (!json_object_is_type(v, type)) {
		fail(err, "member \"%s\" is %s, expected %s", key,
		     json_type_to_name(json_object_get_type(v)), json_type_to_name(type));
		return NULL;
	}
	return v;
}

static int parse_header(struct frame_map *m, struct json_object *obj, char *err)
{
	struct json_object *frames, *order, *enc;
	int64_t n, o;

	frames = member(obj, "frames", json_type_int, err);
	order = frames ? member(obj, "pageblock-order", json_type_int, err) : NULL;
	enc = order ? member(obj, "encoding", json_type_string, err) : NULL;
	if (!enc)
		return -1;
	if (strcmp(json_object_get_string(enc), ENCODING))
		return fail(err, "encoding \"%s\" is not \"" ENCODING "\"",
			    json_object_get_string(enc));
	n = json_object_get_int64(frames);
	if (n <= 0 || (uint64_t)n > MAX_FRAMES)
		return fail(err, "frames %" PRId64 " is not in 1..%lu", n, MAX_FRAMES);
	o = json_object_get_int64(order);
	if (o < 0 || o > MAX_ORDER)
		return fail(err, "pageblock-order %" PRId64 " is not in 0..%d", o, MAX_ORDER);
	m->frames = n;
	m->order = o;
	return 0;
}

static int parse_states(struct frame_map *m, struct json_object *obj, char *err)
{
	struct json_object *states = member(obj, "states", json_type_array, err);
	size_t i, j, n;

	if (!states)
		return -1;
	n = json_object_array_length(states);
	if (n < 1 || n > MAX_STATES)
		return fail(err, "\"states\" has %zu names, expected 1..%d", n, MAX_STATES);
	for (i = 0; i < n; i++) {
		struct json_object *s = json_object_array_get_idx(states, i);
		const char *name = json_object_get_string(s);

		if (!json_object_is_type(s, json_type_string) || !*name)
			return fail(err, "states[%zu] is not a non-empty string", i);
		for (j = 0; j < i; j++)
			if (!strcmp(m->states[j], name))
				return fail(err, "\"states\" lists \"%s\" twice", name);
		m->states[i] = strdup(name);
		if (!m->states[i])
			return fail(err, "out of memory");
		m->nr_states = i + 1;
	}
	return 0;
}

/* Frame 2i is the low nibble of byte i; with an odd count the last high
 * nibble is padding and ignored. */
static int unpack_nibbles(struct frame_map *m, const uint8_t *bytes, char *err)
{
	unsigned long i;

	m->state = malloc(m->frames);
	if (!m->state)
		return fail(err, "out of memory");
	for (i = 0; i < m->frames; i++) {
		unsigned int s = bytes[i / 2] >> (i % 2 * 4) & 0xf;

		if (s >= m->nr_states)
			return fail(err, "frame %lu has state %u, but \"states\" lists only %u",
				    i, s, m->nr_states);
		m->state[i] = s;
	}
	return 0;
}

static int decode_map(struct frame_map *m, struct json_object *obj, char *err)
{
	struct json_object *map = member(obj, "map", json_type_string, err);
	size_t len, want = (m->frames + 1) / 2;
	char why[ERR_LEN / 2];
	uint8_t *bytes;
	long got;
	int ret = 0;

	if (!map)
		return -1;
	len = json_object_get_string_len(map);
	bytes = malloc(base64_decoded_max(len) + 1);
	if (!bytes)
		return fail(err, "out of memory");
	got = base64_decode(json_object_get_string(map), len, bytes, why, sizeof(why));
	if (got < 0)
		ret = fail(err, "bad base64 in \"map\": %s", why);
	else if ((size_t)got != want)
		ret = fail(err, "\"map\" decodes to %ld bytes, but %lu frames need %zu",
			   got, m->frames, want);
	if (!ret)
		ret = unpack_nibbles(m, bytes, err);
	free(bytes);
	return ret;
}

static void count_free(struct frame_map *m)
{
	unsigned long per_block = 1UL << m->order, i, run = 0;
	unsigned int s, free_state = MAX_STATES;

	for (s = 0; s < m->nr_states; s++)
		if (!strcmp(m->states[s], "free"))
			free_state = s;
	/* A pageblock counts when all its frames are free; a partial last
	 * one never does, it cannot back a huge page. */
	for (i = 0; i < m->frames; i++) {
		if (i % per_block == 0)
			run = 0;
		if (m->state[i] != free_state)
			continue;
		m->nr_free++;
		if (++run == per_block)
			m->nr_free_blocks++;
	}
}

static int map_parse(struct frame_map *m, struct json_object *obj, char *err)
{
	obj = unwrap_reply(obj, err);
	if (!obj || parse_header(m, obj, err) || parse_states(m, obj, err) ||
	    decode_map(m, obj, err))
		return -1;
	count_free(m);
	return 0;
}

static void map_free(struct frame_map *m)
{
	unsigned int i;

	for (i = 0; i < m->nr_states; i++)
		free(m->states[i]);
	free(m->state);
}

static int load_panel(struct fragmap *f, struct panel *p)
{
	struct json_object *obj;
	int ret;

	obj = f->socket ? load_live(f->socket, f->err) : load_file(p->source, f->err);
	if (!obj)
		return -1;
	ret = map_parse(&p->map, obj, f->err);
	json_object_put(obj);
	return ret;
}

/* ---- text ---- */

static void set_colour(cairo_t *cr, struct rgb c)
{
	cairo_set_source_rgb(cr, c.r / 255.0, c.g / 255.0, c.b / 255.0);
}

static cairo_t *text_context(cairo_surface_t *surface)
{
	cairo_t *cr = cairo_create(surface);

	cairo_select_font_face(cr, FONT, CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
	cairo_set_font_size(cr, FONT_SIZE);
	/* cells and grid lines sit on whole pixels and must keep exact colours */
	cairo_set_antialias(cr, CAIRO_ANTIALIAS_NONE);
	return cr;
}

/* cairo takes UTF-8 only and stops drawing at the first invalid string, but
 * captions and state names may hold any bytes: they are drawn as printable
 * ASCII, other bytes as '?', a chunk at a time. Returns the width. */
static unsigned int text(cairo_t *cr, const char *s, bool draw)
{
	cairo_text_extents_t ext;
	char chunk[128];
	double w = 0;
	size_t n;

	while (*s) {
		for (n = 0; s[n] && n < sizeof(chunk) - 1; n++)
			chunk[n] = s[n] >= 32 && s[n] <= 126 ? s[n] : '?';
		chunk[n] = '\0';
		s += n;
		cairo_text_extents(cr, chunk, &ext);
		w += ext.x_advance;
		if (draw)
			cairo_show_text(cr, chunk);
	}
	return ceil(w);
}

static unsigned int text_width(cairo_t *cr, const char *s)
{
	return text(cr, s, false);
}

/* x, y: the top left of a TEXT_H line */
static void draw_text(cairo_t *cr, unsigned int x, unsigned int y, const char *s)
{
	set_colour(cr, text_colour);
	cairo_move_to(cr, x, y + BASELINE);
	text(cr, s, true);
}

/* ---- layout ---- */

static struct rgb state_colour(struct legend *l, const char *name)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(state_colours); i++)
		if (!strcmp(state_colours[i].name, name))
			return state_colours[i].colour;
	return other_colours[l->nr_other++ % ARRAY_SIZE(other_colours)];
}

/* The legend is the union of both maps' states, so a state has one colour. */
static unsigned int legend_add(struct legend *l, cairo_t *cr, const char *name)
{
	unsigned int i;

	for (i = 0; i < l->n; i++)
		if (!strcmp(l->names[i], name))
			return i;
	l->names[i] = name;
	l->colours[i] = state_colour(l, name);
	l->w += (i ? ENTRY_GAP : 0) + SWATCH + SWATCH_GAP + text_width(cr, name);
	return l->n++;
}

static void block_size(unsigned int order, char *buf, size_t len)
{
	unsigned long kib = 4UL << order;

	if (kib >= 1024 * 1024)
		snprintf(buf, len, "%luG", kib >> 20);
	else if (kib >= 1024)
		snprintf(buf, len, "%luM", kib >> 10);
	else
		snprintf(buf, len, "%luK", kib);
}

static unsigned long nr_blocks(const struct frame_map *m)
{
	return (m->frames + (1UL << m->order) - 1) >> m->order;
}

/* Near-square cells with a power-of-two width: 512 frames are 32 x 16. */
static void panel_layout(struct panel *p, struct legend *l, cairo_t *cr)
{
	struct frame_map *m = &p->map;
	unsigned long blocks = nr_blocks(m);
	unsigned int s, max_cols;
	char size[16];

	for (s = 0; s < m->nr_states; s++)
		p->palette[s] = l->colours[legend_add(l, cr, m->states[s])];
	block_size(m->order, size, sizeof(size));
	snprintf(p->summary, sizeof(p->summary), "%lu frames, %lu free, %lu free %s blocks",
		 m->frames, m->nr_free, m->nr_free_blocks, size);

	p->cell_w = 1U << ((m->order + 1) / 2);
	p->cell_h = 1U << (m->order / 2);
	max_cols = (ROW_PIXELS - 1) / (p->cell_w + 1);
	if (max_cols > ROW_CELLS)
		max_cols = ROW_CELLS;
	p->cols = blocks < max_cols ? blocks : max_cols;
	p->rows = (blocks + p->cols - 1) / p->cols;
	p->grid_w = p->cols * (p->cell_w + 1) + 1;
	p->grid_h = p->rows * (p->cell_h + 1) + 1;

	p->w = p->grid_w;
	if (text_width(cr, p->caption) > p->w)
		p->w = text_width(cr, p->caption);
	if (text_width(cr, p->summary) > p->w)
		p->w = text_width(cr, p->summary);
	p->h = TEXT_H + LINE_GAP + p->grid_h + LINE_GAP + TEXT_H;
}

/* Text is measured on a 0 x 0 surface, then the image's is made. */
static int layout(struct fragmap *f)
{
	cairo_surface_t *none = cairo_image_surface_create(CAIRO_FORMAT_RGB24, 0, 0);
	cairo_t *cr = text_context(none);
	unsigned long w = MARGIN, h = 0;
	unsigned int i;

	for (i = 0; i < f->nr_panels; i++) {
		struct panel *p = &f->panels[i];

		panel_layout(p, &f->legend, cr);
		p->x = w;
		w += p->w + PANEL_GAP;
		if (p->h > h)
			h = p->h;
	}
	w += MARGIN - PANEL_GAP;
	if (f->legend.w + 2 * MARGIN > w)
		w = f->legend.w + 2 * MARGIN;
	h += 2 * MARGIN + PANEL_GAP + TEXT_H;
	cairo_destroy(cr);
	cairo_surface_destroy(none);
	if (w * h > MAX_PIXELS || w > MAX_SIDE || h > MAX_SIDE)
		return fail(f->err, "a %lu x %lu image is too large to draw "
			    "(at most %lu pixels, %d a side)", w, h, MAX_PIXELS, MAX_SIDE);
	f->w = w;
	f->h = h;
	f->surface = cairo_image_surface_create(CAIRO_FORMAT_RGB24, w, h);
	f->cr = text_context(f->surface);
	if (cairo_status(f->cr))
		return fail(f->err, "cairo: %s", cairo_status_to_string(cairo_status(f->cr)));
	return 0;
}

/* ---- drawing ---- */

static void fill_rect(cairo_t *cr, unsigned int x, unsigned int y,
		      unsigned int w, unsigned int h, struct rgb c)
{
	set_colour(cr, c);
	cairo_rectangle(cr, x, y, w, h);
	cairo_fill(cr);
}

/* The state most frames of a whole block are in: its cell is filled with
 * that first, so only the others' runs need rectangles of their own.
 * MAX_STATES for a partial last block, whose frames do not fill a cell. */
static unsigned int main_state(const struct frame_map *m, unsigned long b)
{
	unsigned long count[MAX_STATES] = { 0 }, n = 1UL << m->order, i;
	const uint8_t *state = m->state + (b << m->order);
	unsigned int s, most = 0;

	if ((b << m->order) + n > m->frames)
		return MAX_STATES;
	for (i = 0; i < n; i++)
		count[state[i]]++;
	for (s = 1; s < m->nr_states; s++)
		if (count[s] > count[most])
			most = s;
	return most;
}

/* Adds a rectangle for each run of frames in state s along a pixel row of
 * block b's cell at x0, y0 (frames go row-major in a cell). Returns how
 * many. */
static unsigned long add_runs(cairo_t *cr, const struct panel *p, unsigned long b,
			      unsigned int s, unsigned int x0, unsigned int y0)
{
	const struct frame_map *m = &p->map;
	unsigned long first = b << m->order, n = 1UL << m->order, i, j, eol, runs = 0;
	const uint8_t *state = m->state + first;

	if (n > m->frames - first)
		n = m->frames - first;
	for (i = 0; i < n; i = j) {
		j = i + 1;
		if (state[i] != s)
			continue;
		eol = (i / p->cell_w + 1) * p->cell_w;
		while (j < n && j < eol && state[j] == s)
			j++;
		cairo_rectangle(cr, x0 + i % p->cell_w, y0 + i / p->cell_w, j - i, 1);
		runs++;
	}
	return runs;
}

/* A cell on its grid lines; frames past the end of a partial last
 * pageblock stay grid coloured. */
static void draw_block(cairo_t *cr, const struct panel *p, unsigned long b,
		       unsigned int gx, unsigned int gy)
{
	unsigned int x0 = gx + 1 + b % p->cols * (p->cell_w + 1);
	unsigned int y0 = gy + 1 + b / p->cols * (p->cell_h + 1);
	unsigned int s, most = main_state(&p->map, b);

	fill_rect(cr, x0 - 1, y0 - 1, p->cell_w + 2, p->cell_h + 2, grid_colour);
	if (most < MAX_STATES)
		fill_rect(cr, x0, y0, p->cell_w, p->cell_h, p->palette[most]);
	for (s = 0; s < p->map.nr_states; s++) {
		if (s == most || !add_runs(cr, p, b, s, x0, y0))
			continue;
		set_colour(cr, p->palette[s]);
		cairo_fill(cr);
	}
}

static void draw_panel(cairo_t *cr, const struct panel *p)
{
	unsigned int gy = MARGIN + TEXT_H + LINE_GAP;
	unsigned long b, blocks = nr_blocks(&p->map);

	draw_text(cr, p->x, MARGIN, p->caption);
	for (b = 0; b < blocks; b++)
		draw_block(cr, p, b, p->x, gy);
	draw_text(cr, p->x, gy + p->grid_h + LINE_GAP, p->summary);
}

static void draw_legend(cairo_t *cr, const struct legend *l, unsigned int h)
{
	unsigned int i, x = MARGIN, y = h - MARGIN - TEXT_H;

	for (i = 0; i < l->n; i++) {
		fill_rect(cr, x, y, SWATCH, SWATCH, grid_colour);
		fill_rect(cr, x + 1, y + 1, SWATCH - 2, SWATCH - 2, l->colours[i]);
		x += SWATCH + SWATCH_GAP;
		draw_text(cr, x, y, l->names[i]);
		x += text_width(cr, l->names[i]) + ENTRY_GAP;
	}
}

static int draw(struct fragmap *f)
{
	unsigned int i;

	fill_rect(f->cr, 0, 0, f->w, f->h, background);
	for (i = 0; i < f->nr_panels; i++)
		draw_panel(f->cr, &f->panels[i]);
	draw_legend(f->cr, &f->legend, f->h);
	if (cairo_status(f->cr))
		return fail(f->err, "cairo: %s", cairo_status_to_string(cairo_status(f->cr)));
	return 0;
}

/* ---- output ---- */

/* cairo's writer says only that it failed: the file is created here
 * first, for the reason it cannot be, and removed if writing fails. */
static int write_png(struct fragmap *f)
{
	FILE *fp = fopen(f->output, "wb");
	cairo_status_t st;

	if (!fp || fclose(fp))
		return fail(f->err, "cannot create: %s", strerror(errno));
	cairo_surface_flush(f->surface);
	st = cairo_surface_write_to_png(f->surface, f->output);
	if (st != CAIRO_STATUS_SUCCESS) {
		unlink(f->output);
		return fail(f->err, "cannot write the PNG: %s", cairo_status_to_string(st));
	}
	return 0;
}

/* ---- command line ---- */

static void usage(FILE *out)
{
	fprintf(out,
		"usage: fragmap [-o OUT.png] [--title TEXT]... MAP.json [AFTER.json]\n"
		"       fragmap --socket PATH [-o OUT.png] [--title TEXT]\n"
		"       fragmap --help | --version\n"
		"Draws a frame map from query-frame-map (a saved reply or bare object,\n"
		"- for stdin, or fetched live from the control socket) as a PNG: one pixel\n"
		"per frame, one cell per pageblock. Two maps are drawn side by side as\n"
		"before and after. --title captions the maps in order. The default output\n"
		"is fragmap.png; a summary line per map goes to stdout.\n");
}

static int parse_args(struct fragmap *f, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "title", required_argument, NULL, 't' },
		{ "socket", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	int c, nr_files;

	while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'o':
			f->output = optarg;
			break;
		case 't':
			if (f->nr_titles == 2 || strlen(optarg) > MAX_TITLE) {
				fprintf(stderr, "fragmap: at most two --title, of %d characters\n",
					MAX_TITLE);
				return -1;
			}
			f->titles[f->nr_titles++] = optarg;
			break;
		case 's':
			f->socket = optarg;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		case 'V':
			exit(cli_version("fragmap"));
		default:
			usage(stderr);
			return -1;
		}
	}
	nr_files = argc - optind;
	if (f->socket ? nr_files != 0 : (nr_files < 1 || nr_files > 2)) {
		usage(stderr);
		return -1;
	}
	f->nr_panels = f->socket ? 1 : nr_files;
	if (f->nr_titles > f->nr_panels) {
		fprintf(stderr, "fragmap: more --title than maps\n");
		return -1;
	}
	if (nr_files == 2 && !strcmp(argv[optind], "-") && !strcmp(argv[optind + 1], "-")) {
		fprintf(stderr, "fragmap: only one map can come from stdin\n");
		return -1;
	}
	if (!strcmp(f->output, "-")) {
		fprintf(stderr, "fragmap: the PNG cannot go to stdout, the summary does\n");
		return -1;
	}
	return 0;
}

/* Two maps are before and after; one is captioned by where it came from. */
static void name_panels(struct fragmap *f, char **files)
{
	static const char *const labels[2] = { "before", "after" };
	unsigned int i;

	for (i = 0; i < f->nr_panels; i++) {
		struct panel *p = &f->panels[i];

		p->source = f->socket ? f->socket : files[i];
		p->label = f->nr_panels == 2 ? labels[i] : "map";
		p->caption = f->nr_panels == 2 ? labels[i] : p->source;
		if (f->nr_panels == 1 && !strcmp(p->source, "-"))
			p->caption = "stdin";
		if (i < f->nr_titles)
			p->caption = f->titles[i];
	}
}

static int run(struct fragmap *f)
{
	unsigned int i;

	for (i = 0; i < f->nr_panels; i++) {
		if (load_panel(f, &f->panels[i])) {
			fprintf(stderr, "fragmap: %s: %s\n", f->panels[i].source, f->err);
			return -1;
		}
	}
	if (layout(f)) {
		fprintf(stderr, "fragmap: %s\n", f->err);
		return -1;
	}
	for (i = 0; i < f->nr_panels; i++)
		printf("%s: %s\n", f->panels[i].label, f->panels[i].summary);
	fflush(stdout);
	if (draw(f)) {
		fprintf(stderr, "fragmap: %s\n", f->err);
		return -1;
	}
	if (write_png(f)) {
		fprintf(stderr, "fragmap: %s: %s\n", f->output, f->err);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct fragmap f = { .output = "fragmap.png" };
	unsigned int i;
	int ret;

	if (parse_args(&f, argc, argv))
		return 2;
	name_panels(&f, argv + optind);
	ret = run(&f) ? 1 : 0;
	for (i = 0; i < f.nr_panels; i++)
		map_free(&f.panels[i].map);
	cairo_destroy(f.cr);			/* both take NULL */
	cairo_surface_destroy(f.surface);
	/* cairo's font caches and fontconfig's: LeakSanitizer cannot follow
	 * fontconfig's own pointers and would fail every ASan build run */
	cairo_debug_reset_static_data();
	FcFini();
	return ret;
}
