/* fragmap: draws a frame map (query-frame-map, saved or live) as a PNG, one
 * pixel per frame laid out pageblock by pageblock, optionally before and
 * after side by side, so fragmentation and what compaction did are visible. */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <png.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "lib/base64.h"
#include "tools/qmp_client.h"

#define ERR_LEN		512
#define MAX_STATES	16		/* a frame's state is one nibble */
#define MAX_FRAMES	(1UL << 26)	/* 256 GiB of frames */
#define MAX_ORDER	18		/* cells up to 512 x 512 pixels */
#define MAX_FILE_BYTES	(128UL << 20)	/* bytes of a map file */
#define MAX_PIXELS	(1UL << 26)	/* 192 MiB of RGB */
#define MAX_TITLE	100
#define ENCODING	"nibbles-base64"
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

#define ROW_CELLS	64		/* cells per grid row, at most */
#define ROW_PIXELS	2113		/* 64 cells of 32 pixels and grid lines */
#define SCALE		2		/* the 5x7 font drawn at 10x14 */
#define GLYPH_W		(6 * SCALE)
#define GLYPH_H		(7 * SCALE)
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

/* Classic 5x7 font, ASCII 32..126: five columns, bit 0 the top row; bit 7
 * is a descender row (g j p q y , ;) drawn into the gap below a line. */
static const uint8_t font5x7[95][5] = {
	{ 0x00, 0x00, 0x00, 0x00, 0x00 }, { 0x00, 0x00, 0x5f, 0x00, 0x00 },
	{ 0x00, 0x07, 0x00, 0x07, 0x00 }, { 0x14, 0x7f, 0x14, 0x7f, 0x14 },
	{ 0x24, 0x2a, 0x7f, 0x2a, 0x12 }, { 0x23, 0x13, 0x08, 0x64, 0x62 },
	{ 0x36, 0x49, 0x55, 0x22, 0x50 }, { 0x00, 0x05, 0x03, 0x00, 0x00 },
	{ 0x00, 0x1c, 0x22, 0x41, 0x00 }, { 0x00, 0x41, 0x22, 0x1c, 0x00 },
	{ 0x08, 0x2a, 0x1c, 0x2a, 0x08 }, { 0x08, 0x08, 0x3e, 0x08, 0x08 },
	{ 0x00, 0x80, 0x60, 0x00, 0x00 }, { 0x08, 0x08, 0x08, 0x08, 0x08 },
	{ 0x00, 0x60, 0x60, 0x00, 0x00 }, { 0x20, 0x10, 0x08, 0x04, 0x02 },
	{ 0x3e, 0x51, 0x49, 0x45, 0x3e }, { 0x00, 0x42, 0x7f, 0x40, 0x00 },
	{ 0x42, 0x61, 0x51, 0x49, 0x46 }, { 0x21, 0x41, 0x45, 0x4b, 0x31 },
	{ 0x18, 0x14, 0x12, 0x7f, 0x10 }, { 0x27, 0x45, 0x45, 0x45, 0x39 },
	{ 0x3c, 0x4a, 0x49, 0x49, 0x30 }, { 0x01, 0x71, 0x09, 0x05, 0x03 },
	{ 0x36, 0x49, 0x49, 0x49, 0x36 }, { 0x06, 0x49, 0x49, 0x29, 0x1e },
	{ 0x00, 0x36, 0x36, 0x00, 0x00 }, { 0x00, 0x80, 0x66, 0x00, 0x00 },
	{ 0x08, 0x14, 0x22, 0x41, 0x00 }, { 0x14, 0x14, 0x14, 0x14, 0x14 },
	{ 0x00, 0x41, 0x22, 0x14, 0x08 }, { 0x02, 0x01, 0x51, 0x09, 0x06 },
	{ 0x32, 0x49, 0x79, 0x41, 0x3e }, { 0x7e, 0x11, 0x11, 0x11, 0x7e },
	{ 0x7f, 0x49, 0x49, 0x49, 0x36 }, { 0x3e, 0x41, 0x41, 0x41, 0x22 },
	{ 0x7f, 0x41, 0x41, 0x22, 0x1c }, { 0x7f, 0x49, 0x49, 0x49, 0x41 },
	{ 0x7f, 0x09, 0x09, 0x09, 0x01 }, { 0x3e, 0x41, 0x49, 0x49, 0x7a },
	{ 0x7f, 0x08, 0x08, 0x08, 0x7f }, { 0x00, 0x41, 0x7f, 0x41, 0x00 },
	{ 0x20, 0x40, 0x41, 0x3f, 0x01 }, { 0x7f, 0x08, 0x14, 0x22, 0x41 },
	{ 0x7f, 0x40, 0x40, 0x40, 0x40 }, { 0x7f, 0x02, 0x0c, 0x02, 0x7f },
	{ 0x7f, 0x04, 0x08, 0x10, 0x7f }, { 0x3e, 0x41, 0x41, 0x41, 0x3e },
	{ 0x7f, 0x09, 0x09, 0x09, 0x06 }, { 0x3e, 0x41, 0x51, 0x21, 0x5e },
	{ 0x7f, 0x09, 0x19, 0x29, 0x46 }, { 0x46, 0x49, 0x49, 0x49, 0x31 },
	{ 0x01, 0x01, 0x7f, 0x01, 0x01 }, { 0x3f, 0x40, 0x40, 0x40, 0x3f },
	{ 0x1f, 0x20, 0x40, 0x20, 0x1f }, { 0x3f, 0x40, 0x38, 0x40, 0x3f },
	{ 0x63, 0x14, 0x08, 0x14, 0x63 }, { 0x07, 0x08, 0x70, 0x08, 0x07 },
	{ 0x61, 0x51, 0x49, 0x45, 0x43 }, { 0x00, 0x7f, 0x41, 0x41, 0x00 },
	{ 0x02, 0x04, 0x08, 0x10, 0x20 }, { 0x00, 0x41, 0x41, 0x7f, 0x00 },
	{ 0x04, 0x02, 0x01, 0x02, 0x04 }, { 0x40, 0x40, 0x40, 0x40, 0x40 },
	{ 0x00, 0x01, 0x02, 0x04, 0x00 }, { 0x20, 0x54, 0x54, 0x54, 0x78 },
	{ 0x7f, 0x48, 0x44, 0x44, 0x38 }, { 0x38, 0x44, 0x44, 0x44, 0x20 },
	{ 0x38, 0x44, 0x44, 0x48, 0x7f }, { 0x38, 0x54, 0x54, 0x54, 0x18 },
	{ 0x08, 0x7e, 0x09, 0x01, 0x02 }, { 0x58, 0xa4, 0xa4, 0xa4, 0x7c },
	{ 0x7f, 0x08, 0x04, 0x04, 0x78 }, { 0x00, 0x44, 0x7d, 0x40, 0x00 },
	{ 0x80, 0x80, 0x84, 0x7d, 0x00 }, { 0x7f, 0x10, 0x28, 0x44, 0x00 },
	{ 0x00, 0x41, 0x7f, 0x40, 0x00 }, { 0x7c, 0x04, 0x18, 0x04, 0x78 },
	{ 0x7c, 0x08, 0x04, 0x04, 0x78 }, { 0x38, 0x44, 0x44, 0x44, 0x38 },
	{ 0xfc, 0x24, 0x24, 0x24, 0x18 }, { 0x18, 0x24, 0x24, 0x24, 0xfc },
	{ 0x7c, 0x08, 0x04, 0x04, 0x08 }, { 0x48, 0x54, 0x54, 0x54, 0x20 },
	{ 0x04, 0x3f, 0x44, 0x40, 0x20 }, { 0x3c, 0x40, 0x40, 0x20, 0x7c },
	{ 0x1c, 0x20, 0x40, 0x20, 0x1c }, { 0x3c, 0x40, 0x30, 0x40, 0x3c },
	{ 0x44, 0x28, 0x10, 0x28, 0x44 }, { 0x1c, 0xa0, 0xa0, 0xa0, 0x7c },
	{ 0x44, 0x64, 0x54, 0x4c, 0x44 }, { 0x00, 0x08, 0x36, 0x41, 0x00 },
	{ 0x00, 0x00, 0x7f, 0x00, 0x00 }, { 0x00, 0x41, 0x36, 0x08, 0x00 },
	{ 0x08, 0x04, 0x08, 0x10, 0x08 },
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

struct image {
	unsigned int w, h;
	uint8_t *px;			/* RGB, row after row */
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
	struct image img;
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

/* ---- layout ---- */

static unsigned int text_width(const char *s)
{
	return strlen(s) * GLYPH_W;
}

static struct rgb state_colour(struct legend *l, const char *name)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(state_colours); i++)
		if (!strcmp(state_colours[i].name, name))
			return state_colours[i].colour;
	return other_colours[l->nr_other++ % ARRAY_SIZE(other_colours)];
}

/* The legend is the union of both maps' states, so a state has one colour. */
static unsigned int legend_add(struct legend *l, const char *name)
{
	unsigned int i;

	for (i = 0; i < l->n; i++)
		if (!strcmp(l->names[i], name))
			return i;
	l->names[i] = name;
	l->colours[i] = state_colour(l, name);
	l->w += (i ? 2 * GLYPH_W : 0) + GLYPH_H + GLYPH_W / 2 + text_width(name);
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

/* Near-square cells with a power-of-two width: 512 frames are 32 x 16. */
static void panel_layout(struct panel *p, struct legend *l)
{
	struct frame_map *m = &p->map;
	unsigned long blocks = (m->frames + (1UL << m->order) - 1) >> m->order;
	unsigned int s, max_cols;
	char size[16];

	for (s = 0; s < m->nr_states; s++)
		p->palette[s] = l->colours[legend_add(l, m->states[s])];
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
	if (text_width(p->caption) > p->w)
		p->w = text_width(p->caption);
	if (text_width(p->summary) > p->w)
		p->w = text_width(p->summary);
	p->h = GLYPH_H + LINE_GAP + p->grid_h + LINE_GAP + GLYPH_H;
}

static int layout(struct fragmap *f)
{
	unsigned long w = MARGIN, h = 0;
	unsigned int i;

	for (i = 0; i < f->nr_panels; i++) {
		struct panel *p = &f->panels[i];

		panel_layout(p, &f->legend);
		p->x = w;
		w += p->w + PANEL_GAP;
		if (p->h > h)
			h = p->h;
	}
	w += MARGIN - PANEL_GAP;
	if (f->legend.w + 2 * MARGIN > w)
		w = f->legend.w + 2 * MARGIN;
	h += 2 * MARGIN + PANEL_GAP + GLYPH_H;
	if (w * h > MAX_PIXELS)
		return fail(f->err, "a %lu x %lu image is too large to draw (at most %lu pixels)",
			    w, h, MAX_PIXELS);
	f->img.w = w;
	f->img.h = h;
	f->img.px = malloc(w * h * 3);
	if (!f->img.px)
		return fail(f->err, "out of memory");
	return 0;
}

/* ---- drawing ---- */

static void fill_rect(struct image *img, unsigned int x, unsigned int y,
		      unsigned int w, unsigned int h, struct rgb c)
{
	unsigned int i, j;

	for (j = y; j < y + h && j < img->h; j++) {
		uint8_t *px = img->px + ((size_t)j * img->w + x) * 3;

		for (i = x; i < x + w && i < img->w; i++) {
			*px++ = c.r;
			*px++ = c.g;
			*px++ = c.b;
		}
	}
}

static void draw_text(struct image *img, unsigned int x, unsigned int y, const char *s)
{
	unsigned int col, row;

	for (; *s; s++, x += GLYPH_W) {
		unsigned char ch = *s >= 32 && *s <= 126 ? *s : '?';
		const uint8_t *g = font5x7[ch - 32];

		for (col = 0; col < 5; col++)
			for (row = 0; row < 8; row++)
				if (g[col] >> row & 1)
					fill_rect(img, x + col * SCALE, y + row * SCALE,
						  SCALE, SCALE, text_colour);
	}
}

/* Frames row-major inside the cell; frames past the end of a partial
 * last pageblock stay grid coloured. */
static void draw_block(struct image *img, const struct panel *p, unsigned long b,
		       unsigned int gx, unsigned int gy)
{
	const struct frame_map *m = &p->map;
	unsigned long first = b << m->order, n = 1UL << m->order, i;
	unsigned int x0 = gx + 1 + b % p->cols * (p->cell_w + 1);
	unsigned int y0 = gy + 1 + b / p->cols * (p->cell_h + 1);

	fill_rect(img, x0 - 1, y0 - 1, p->cell_w + 2, p->cell_h + 2, grid_colour);
	if (n > m->frames - first)
		n = m->frames - first;
	for (i = 0; i < n; i++)
		fill_rect(img, x0 + i % p->cell_w, y0 + i / p->cell_w, 1, 1,
			  p->palette[m->state[first + i]]);
}

static void draw_panel(struct image *img, const struct panel *p)
{
	unsigned int gy = MARGIN + GLYPH_H + LINE_GAP;
	unsigned long b, blocks = (p->map.frames + (1UL << p->map.order) - 1) >> p->map.order;

	draw_text(img, p->x, MARGIN, p->caption);
	for (b = 0; b < blocks; b++)
		draw_block(img, p, b, p->x, gy);
	draw_text(img, p->x, gy + p->grid_h + LINE_GAP, p->summary);
}

static void draw_legend(struct image *img, const struct legend *l)
{
	unsigned int i, x = MARGIN, y = img->h - MARGIN - GLYPH_H;

	for (i = 0; i < l->n; i++) {
		fill_rect(img, x, y, GLYPH_H, GLYPH_H, grid_colour);
		fill_rect(img, x + 1, y + 1, GLYPH_H - 2, GLYPH_H - 2, l->colours[i]);
		x += GLYPH_H + GLYPH_W / 2;
		draw_text(img, x, y, l->names[i]);
		x += text_width(l->names[i]) + 2 * GLYPH_W;
	}
}

static void draw(struct fragmap *f)
{
	unsigned int i;

	fill_rect(&f->img, 0, 0, f->img.w, f->img.h, background);
	for (i = 0; i < f->nr_panels; i++)
		draw_panel(&f->img, &f->panels[i]);
	draw_legend(&f->img, &f->legend);
}

/* ---- output ---- */

/* Out of write_png(), so no local there changes after its setjmp(). */
static void write_rows(png_structp png, const struct image *img)
{
	unsigned int y;

	for (y = 0; y < img->h; y++)
		png_write_row(png, img->px + (size_t)y * img->w * 3);
}

static int write_png(const struct image *img, const char *path, char *err)
{
	FILE *fp = fopen(path, "wb");
	png_structp png;
	png_infop info;

	if (!fp)
		return fail(err, "cannot create: %s", strerror(errno));
	png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
	info = png ? png_create_info_struct(png) : NULL;
	if (!info)
		goto err_png;
	if (setjmp(png_jmpbuf(png)))
		goto err_png;
	png_init_io(png, fp);
	png_set_IHDR(png, info, img->w, img->h, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
		     PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
	png_write_info(png, info);
	write_rows(png, img);
	png_write_end(png, NULL);
	png_destroy_write_struct(&png, &info);
	if (fclose(fp)) {
		unlink(path);
		return fail(err, "write error: %s", strerror(errno));
	}
	return 0;
err_png:
	/* on a longjmp, libpng has said why on stderr */
	png_destroy_write_struct(&png, &info);
	fclose(fp);
	unlink(path);
	return fail(err, "libpng could not write the image");
}

/* ---- command line ---- */

static void usage(FILE *out)
{
	fprintf(out,
		"usage: fragmap [-o OUT.png] [--title TEXT]... MAP.json [AFTER.json]\n"
		"       fragmap --socket PATH [-o OUT.png] [--title TEXT]\n"
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
	draw(f);
	if (write_png(&f->img, f->output, f->err)) {
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
	free(f.img.px);
	return ret;
}
