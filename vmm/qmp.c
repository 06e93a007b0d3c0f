/* QMP sessions: framing, validation, dispatch. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "vmm/qmp.h"

void qmp_session_init(struct qmp_session *s, struct control *ctl, uint64_t id,
		      void (*send)(void *arg, const char *text, size_t len), void *arg)
{
	memset(s, 0, sizeof(*s));
	s->tok = json_tokener_new_ex(32);
	s->ctl = ctl;
	s->id = id;
	s->send = send;
	s->send_arg = arg;
}

void qmp_session_destroy(struct qmp_session *s)
{
	if (s->tok)
		json_tokener_free(s->tok);
	s->tok = NULL;
}

void qmp_send(struct qmp_session *s, struct json_object *msg)
{
	size_t len;
	const char *text = json_object_to_json_string_length(msg, JSON_C_TO_STRING_PLAIN, &len);

	s->send(s->send_arg, text, len);
	s->send(s->send_arg, "\r\n", 2);
	json_object_put(msg);
}

void qmp_id_copy(struct qmp_id *dst, const struct qmp_id *src)
{
	dst->present = src->present;
	dst->value = src->value ? json_object_get(src->value) : NULL;
}

void qmp_id_put(struct qmp_id *id)
{
	json_object_put(id->value);
	id->value = NULL;
	id->present = false;
}

static void add_id(struct json_object *msg, const struct qmp_id *id)
{
	if (id && id->present)
		json_object_object_add(msg, "id", id->value ? json_object_get(id->value) : NULL);
}

struct json_object *qmp_make_return(struct json_object *ret, const struct qmp_id *id)
{
	struct json_object *msg = json_object_new_object();

	json_object_object_add(msg, "return", ret ? ret : json_object_new_object());
	add_id(msg, id);
	return msg;
}

struct json_object *qmp_make_error(const char *cls, const char *desc, const struct qmp_id *id)
{
	struct json_object *msg = json_object_new_object(), *err = json_object_new_object();

	json_object_object_add(err, "class", json_object_new_string(cls));
	json_object_object_add(err, "desc", json_object_new_string(desc));
	json_object_object_add(msg, "error", err);
	add_id(msg, id);
	return msg;
}

struct json_object *qmp_make_event(const char *name, struct json_object *data)
{
	struct json_object *msg = json_object_new_object(), *ts = json_object_new_object();
	struct timeval tv;

	gettimeofday(&tv, NULL);
	json_object_object_add(ts, "seconds", json_object_new_int64(tv.tv_sec));
	json_object_object_add(ts, "microseconds", json_object_new_int64(tv.tv_usec));
	json_object_object_add(msg, "event", json_object_new_string(name));
	json_object_object_add(msg, "data", data ? data : json_object_new_object());
	json_object_object_add(msg, "timestamp", ts);
	return msg;
}

void qmp_set_error(struct qmp_call *call, const char *cls, const char *fmt, ...)
{
	va_list ap;

	call->err_class = cls;
	va_start(ap, fmt);
	vsnprintf(call->err_desc, sizeof(call->err_desc), fmt, ap);
	va_end(ap);
}

/* Without automake's DEFS (the fuzz builds), the version is unknown. */
#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "0.0.0"
#endif

struct json_object *qmp_version(void)
{
	struct json_object *qemu = json_object_new_object(), *version = json_object_new_object();
	int major = 0, minor = 0, micro = 0;

	sscanf(PACKAGE_VERSION, "%d.%d.%d", &major, &minor, &micro);
	json_object_object_add(qemu, "major", json_object_new_int(major));
	json_object_object_add(qemu, "minor", json_object_new_int(minor));
	json_object_object_add(qemu, "micro", json_object_new_int(micro));
	json_object_object_add(version, "qemu", qemu);
	json_object_object_add(version, "package", json_object_new_string("vmdefrag " PACKAGE_VERSION));
	return version;
}

void qmp_send_greeting(struct qmp_session *s)
{
	struct json_object *qmp = json_object_new_object(), *msg = json_object_new_object();

	json_object_object_add(qmp, "version", qmp_version());
	json_object_object_add(qmp, "capabilities", json_object_new_array());
	json_object_object_add(msg, "QMP", qmp);
	qmp_send(s, msg);
}

/* ---- output queue ---- */

#define QMP_OUTQ_KEEP		(64u << 10)	/* an emptied buffer larger than this is freed */

/* Room for len more bytes at the tail: move the queued part to the front
 * when that costs no more than what was sent since it last moved,
 * otherwise grow by doubling (at most to twice max, which suffices: since
 * less than half the buffer is sent, the rest fits). */
static int outq_reserve(struct qmp_outq *q, size_t len, size_t max)
{
	size_t live = q->tail - q->head, cap;
	char *buf;

	if (q->tail + len <= q->cap)
		return 0;
	if (q->head && q->head >= live) {
		memmove(q->buf, q->buf + q->head, live);
		q->moved += live;
		q->head = 0;
		q->tail = live;
		if (live + len <= q->cap)
			return 0;
	}
	cap = q->cap ? q->cap * 2 : 4096;
	if (cap > 2 * max)
		cap = 2 * max;
	if (cap < q->tail + len)
		cap = q->tail + len;
	buf = realloc(q->buf, cap);
	if (!buf)
		return -ENOMEM;
	q->buf = buf;
	q->cap = cap;
	return 0;
}

int qmp_outq_append(struct qmp_outq *q, const char *text, size_t len, size_t max)
{
	int err;

	if (qmp_outq_len(q) + len > max)
		return -ENOBUFS;
	err = outq_reserve(q, len, max);
	if (err)
		return err;
	memcpy(q->buf + q->tail, text, len);
	q->tail += len;
	return 0;
}

void qmp_outq_consume(struct qmp_outq *q, size_t n)
{
	q->head += n;
	if (q->head == q->tail)
		qmp_outq_clear(q);
}

void qmp_outq_clear(struct qmp_outq *q)
{
	q->head = q->tail = 0;
	if (q->cap > QMP_OUTQ_KEEP)
		qmp_outq_free(q);
}

void qmp_outq_free(struct qmp_outq *q)
{
	free(q->buf);
	q->buf = NULL;
	q->head = q->tail = q->cap = 0;
}

/* ---- sessions ---- */

static const struct qmp_command *find_command(const char *name)
{
	for (const struct qmp_command *c = qmp_commands; c->name; c++)
		if (!strcmp(c->name, name))
			return c;
	return NULL;
}

static const char *type_name(enum qmp_type t)
{
	return t == QMP_INT ? "integer" : t == QMP_STR ? "string" : "boolean";
}

static bool type_ok(enum qmp_type t, struct json_object *val)
{
	return t == QMP_INT ? json_object_is_type(val, json_type_int) :
	       t == QMP_STR ? json_object_is_type(val, json_type_string) :
	       json_object_is_type(val, json_type_boolean);
}

/* "'a', 'b' or 'c'" */
static void list_values(char *buf, size_t len, const char *const *values)
{
	size_t used = 0;

	buf[0] = '\0';
	for (unsigned int i = 0; values[i] && used < len; i++)
		used += (size_t)snprintf(buf + used, len - used, "%s'%s'",
					 !i ? "" : values[i + 1] ? ", " : " or ", values[i]);
}

/* One argument against its spec. */
static bool check_value(const struct qmp_member *spec, const char *key, struct json_object *val,
			struct qmp_call *call)
{
	char list[160];

	if (!type_ok(spec->type, val)) {
		qmp_set_error(call, "GenericError", "Invalid parameter type for '%s', expected: %s", key,
			      type_name(spec->type));
		return false;
	}
	if (spec->type == QMP_INT) {
		int64_t v = json_object_get_int64(val);

		if (json_object_get_uint64(val) > INT64_MAX || v < spec->min || v > spec->max) {
			qmp_set_error(call, "GenericError", "Parameter '%s' expects a value from %ld to %ld",
				      key, (long)spec->min, (long)spec->max);
			return false;
		}
	}
	if (spec->type == QMP_STR && spec->values) {
		const char *v = json_object_get_string(val);

		for (unsigned int i = 0; spec->values[i]; i++)
			if (!strcmp(spec->values[i], v))
				return true;
		list_values(list, sizeof(list), spec->values);
		qmp_set_error(call, "GenericError", "Parameter '%s' expects %s", key, list);
		return false;
	}
	return true;
}

/* Arguments against the command's spec: unknown, missing, mistyped and
 * out-of-range ones are refused before the handler runs. */
static bool check_args(const struct qmp_command *cmd, struct json_object *args,
		       struct qmp_call *call)
{
	if (args) {
		json_object_object_foreach(args, key, val) {
			const struct qmp_member *spec = NULL;

			for (const struct qmp_member *a = cmd->args; a->name; a++)
				if (!strcmp(a->name, key))
					spec = a;
			if (!spec) {
				qmp_set_error(call, "GenericError", "Parameter '%s' is unexpected", key);
				return false;
			}
			if (!check_value(spec, key, val, call))
				return false;
		}
	}
	for (const struct qmp_member *a = cmd->args; a->name; a++) {
		if (!a->optional && (!args || !json_object_object_get_ex(args, a->name, NULL))) {
			qmp_set_error(call, "GenericError", "Parameter '%s' is missing", a->name);
			return false;
		}
	}
	return true;
}

/* qmp_capabilities' "enable": the capabilities to turn on. The greeting
 * offers none; "oob" is QEMU's only one. */
static bool check_enable(struct json_object *args, struct qmp_call *call)
{
	struct json_object *enable;

	json_object_object_foreach(args, key, val) {
		(void)val;
		if (strcmp(key, "enable")) {
			qmp_set_error(call, "GenericError", "Parameter '%s' is unexpected", key);
			return false;
		}
	}
	if (!json_object_object_get_ex(args, "enable", &enable))
		return true;
	if (!json_object_is_type(enable, json_type_array)) {
		qmp_set_error(call, "GenericError", "Invalid parameter type for 'enable', expected: array");
		return false;
	}
	for (size_t i = 0; i < json_object_array_length(enable); i++) {
		struct json_object *cap = json_object_array_get_idx(enable, i);

		if (!json_object_is_type(cap, json_type_string)) {
			qmp_set_error(call, "GenericError",
				      "Invalid parameter type for 'enable[%zu]', expected: string", i);
			return false;
		}
		if (!strcmp(json_object_get_string(cap), "oob"))
			qmp_set_error(call, "GenericError", "Capability 'oob' not available");
		else
			qmp_set_error(call, "GenericError", "Parameter 'enable[%zu]' does not accept value '%.64s'",
				      i, json_object_get_string(cap));
		return false;
	}
	return true;
}

static void dispatch(struct qmp_session *s, struct json_object *req)
{
	struct qmp_call call = { .session = s };
	struct json_object *exec = NULL, *args = NULL;
	const struct qmp_command *cmd;
	const char *name;
	enum qmp_outcome outcome;

	if (!json_object_is_type(req, json_type_object)) {
		qmp_send(s, qmp_make_error("GenericError", "QMP input must be a JSON object", NULL));
		return;
	}
	call.id.present = json_object_object_get_ex(req, "id", &call.id.value);
	json_object_object_foreach(req, key, val) {
		(void)val;
		if (strcmp(key, "execute") && strcmp(key, "arguments") && strcmp(key, "id")) {
			char desc[128];

			snprintf(desc, sizeof(desc), "QMP input member '%.64s' is unexpected", key);
			qmp_send(s, qmp_make_error("GenericError", desc, &call.id));
			return;
		}
	}
	if (!json_object_object_get_ex(req, "execute", &exec)) {
		qmp_send(s, qmp_make_error("GenericError", "QMP input lacks member 'execute'", &call.id));
		return;
	}
	if (!json_object_is_type(exec, json_type_string)) {
		qmp_send(s, qmp_make_error("GenericError", "QMP input member 'execute' must be a string",
					   &call.id));
		return;
	}
	if (json_object_object_get_ex(req, "arguments", &args) &&
	    !json_object_is_type(args, json_type_object)) {
		qmp_send(s, qmp_make_error("GenericError",
					   "QMP input member 'arguments' must be an object", &call.id));
		return;
	}
	name = json_object_get_string(exec);
	if (!s->negotiated) {
		if (strcmp(name, "qmp_capabilities")) {
			qmp_send(s, qmp_make_error("CommandNotFound",
						   "Expecting capabilities negotiation with 'qmp_capabilities'",
						   &call.id));
			return;
		}
		if (args && !check_enable(args, &call)) {
			qmp_send(s, qmp_make_error(call.err_class, call.err_desc, &call.id));
			return;
		}
		s->negotiated = true;
		qmp_send(s, qmp_make_return(NULL, &call.id));
		return;
	}
	if (!strcmp(name, "qmp_capabilities")) {
		qmp_send(s, qmp_make_error("CommandNotFound",
					   "Capabilities negotiation is already complete, command ignored",
					   &call.id));
		return;
	}
	cmd = find_command(name);
	if (!cmd) {
		char desc[160];

		snprintf(desc, sizeof(desc), "The command %.100s has not been found", name);
		qmp_send(s, qmp_make_error("CommandNotFound", desc, &call.id));
		return;
	}
	if (!check_args(cmd, args, &call)) {
		qmp_send(s, qmp_make_error(call.err_class, call.err_desc, &call.id));
		return;
	}
	call.args = args;
	outcome = cmd->fn(s->ctl, &call);
	if (outcome == QMP_DONE)
		qmp_send(s, qmp_make_return(call.ret, &call.id));
	else if (outcome == QMP_ERROR)
		qmp_send(s, qmp_make_error(call.err_class, call.err_desc, &call.id));
}

/* Bytes checked for reset bytes at a time: each byte is checked once,
 * however many requests a read holds. */
#define QMP_SCAN_WINDOW		4096

/* qmp-spec.rst: a byte that is never part of UTF-8 JSON text, or an ASCII
 * control character other than tab, CR and LF, forces the parser back
 * into a known state. */
static bool is_reset_byte(unsigned char c)
{
	return c >= 0xfe || (c < 0x20 && c != '\t' && c != '\r' && c != '\n');
}

/* Returns how many requests were answered: 1 when a partly read request
 * was dropped (its sender learns it will get no other reply), else 0. */
static unsigned int parser_reset(struct qmp_session *s)
{
	bool dropped = s->pending;

	json_tokener_reset(s->tok);
	s->pending = 0;
	s->skipping = false;
	if (dropped)
		qmp_send(s, qmp_make_error("GenericError",
					   "JSON parse error, request dropped at a reset byte", NULL));
	return dropped;
}

static void parse_error(struct qmp_session *s, enum json_tokener_error jerr)
{
	char desc[160];

	snprintf(desc, sizeof(desc), "JSON parse error, %s", json_tokener_error_desc(jerr));
	qmp_send(s, qmp_make_error("GenericError", desc, NULL));
	json_tokener_reset(s->tok);
	s->pending = 0;
	s->skipping = true;
}

static size_t skip_line(struct qmp_session *s, const char *buf, size_t len)
{
	const char *nl = memchr(buf, '\n', len);

	if (!nl)
		return len;
	s->skipping = false;
	return (size_t)(nl - buf) + 1;
}

/* Whitespace between requests: not part of any request's size. */
static size_t skip_space(const char *buf, size_t len)
{
	size_t n = 0;

	while (n < len && (buf[n] == ' ' || buf[n] == '\t' || buf[n] == '\r' || buf[n] == '\n'))
		n++;
	return n;
}

/* One step over buf, which holds no reset byte: skips, or parses up to the
 * end of one request and answers it (after a parse error, also skips the
 * rest of the line). Returns the bytes used, at least 1; counts answered
 * requests in *answered. */
static size_t parse_step(struct qmp_session *s, const char *buf, size_t len,
			 unsigned int *answered)
{
	struct json_object *obj;
	enum json_tokener_error jerr;
	size_t used;

	if (s->skipping)
		return skip_line(s, buf, len);
	if (!s->pending && (used = skip_space(buf, len)))
		return used;
	obj = json_tokener_parse_ex(s->tok, buf, (int)len);
	jerr = json_tokener_get_error(s->tok);
	used = json_tokener_get_parse_end(s->tok);
	if (obj) {
		json_tokener_reset(s->tok);
		s->pending = 0;
		(*answered)++;
		dispatch(s, obj);
		json_object_put(obj);
		return used ? used : len;
	}
	if (jerr == json_tokener_continue) {
		s->pending += len;
		if (s->pending > QMP_MAX_REQUEST) {
			qmp_send(s, qmp_make_error("GenericError",
						   "Request too large (more than 65536 bytes), closing",
						   NULL));
			s->closing = true;
		}
		return len;
	}
	parse_error(s, jerr);
	(*answered)++;
	if (used > len)
		used = len;
	return used + skip_line(s, buf + used, len - used);
}

/* Bytes from buf up to the first reset byte, looking at most a window ahead. */
static size_t clean_span(const char *buf, size_t len)
{
	size_t n = 0, max = len < QMP_SCAN_WINDOW ? len : QMP_SCAN_WINDOW;

	while (n < max && !is_reset_byte((unsigned char)buf[n]))
		n++;
	return n;
}

size_t qmp_session_feed_some(struct qmp_session *s, const char *buf, size_t len,
			     unsigned int max)
{
	unsigned int answered = 0;
	size_t done = 0;

	while (done < len && !s->closing && (!max || answered < max)) {
		size_t end = done + clean_span(buf + done, len - done);

		if (end == done) {
			answered += parser_reset(s);
			done++;
			continue;
		}
		while (done < end && !s->closing && (!max || answered < max))
			done += parse_step(s, buf + done, end - done, &answered);
	}
	return done;
}

void qmp_session_feed(struct qmp_session *s, const char *buf, size_t len)
{
	qmp_session_feed_some(s, buf, len, 0);
}
