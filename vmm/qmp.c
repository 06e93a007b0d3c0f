/* QMP sessions: framing, validation, dispatch. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
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

struct json_object *qmp_make_return(struct json_object *ret, struct json_object *id)
{
	struct json_object *msg = json_object_new_object();

	json_object_object_add(msg, "return", ret ? ret : json_object_new_object());
	if (id)
		json_object_object_add(msg, "id", json_object_get(id));
	return msg;
}

struct json_object *qmp_make_error(const char *cls, const char *desc, struct json_object *id)
{
	struct json_object *msg = json_object_new_object(), *err = json_object_new_object();

	json_object_object_add(err, "class", json_object_new_string(cls));
	json_object_object_add(err, "desc", json_object_new_string(desc));
	json_object_object_add(msg, "error", err);
	if (id)
		json_object_object_add(msg, "id", json_object_get(id));
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

void qmp_send_greeting(struct qmp_session *s)
{
	struct json_object *qemu = json_object_new_object(), *version = json_object_new_object();
	struct json_object *qmp = json_object_new_object(), *msg = json_object_new_object();

	json_object_object_add(qemu, "major", json_object_new_int(0));
	json_object_object_add(qemu, "minor", json_object_new_int(1));
	json_object_object_add(qemu, "micro", json_object_new_int(0));
	json_object_object_add(version, "qemu", qemu);
	json_object_object_add(version, "package", json_object_new_string("vmdefrag"));
	json_object_object_add(qmp, "version", version);
	json_object_object_add(qmp, "capabilities", json_object_new_array());
	json_object_object_add(msg, "QMP", qmp);
	qmp_send(s, msg);
}

static const struct qmp_command *find_command(const char *name)
{
	for (const struct qmp_command *c = qmp_commands; c->name; c++)
		if (!strcmp(c->name, name))
			return c;
	return NULL;
}

static const char *type_name(enum qmp_arg_type t)
{
	return t == QMP_INT ? "integer" : t == QMP_STR ? "string" : "boolean";
}

/* Arguments against the command's spec: unknown, missing, mistyped and
 * out-of-range ones are refused before the handler runs. */
static bool check_args(const struct qmp_command *cmd, struct json_object *args,
		       struct qmp_call *call)
{
	if (args) {
		json_object_object_foreach(args, key, val) {
			const struct qmp_arg *spec = NULL;
			bool ok;

			for (const struct qmp_arg *a = cmd->args; a->name; a++)
				if (!strcmp(a->name, key))
					spec = a;
			if (!spec) {
				qmp_set_error(call, "GenericError", "Parameter '%s' is unexpected", key);
				return false;
			}
			ok = spec->type == QMP_INT ? json_object_is_type(val, json_type_int) :
			     spec->type == QMP_STR ? json_object_is_type(val, json_type_string) :
			     json_object_is_type(val, json_type_boolean);
			if (!ok) {
				qmp_set_error(call, "GenericError",
					      "Invalid parameter type for '%s', expected: %s", key,
					      type_name(spec->type));
				return false;
			}
			if (spec->type == QMP_INT) {
				int64_t v = json_object_get_int64(val);

				errno = 0;
				if (json_object_get_uint64(val) > INT64_MAX || v < spec->min || v > spec->max) {
					qmp_set_error(call, "GenericError",
						      "Parameter '%s' expects a value from %ld to %ld", key,
						      (long)spec->min, (long)spec->max);
					return false;
				}
			}
		}
	}
	for (const struct qmp_arg *a = cmd->args; a->name; a++) {
		if (!a->optional && (!args || !json_object_object_get_ex(args, a->name, NULL))) {
			qmp_set_error(call, "GenericError", "Parameter '%s' is missing", a->name);
			return false;
		}
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
	json_object_object_get_ex(req, "id", &call.id);
	json_object_object_foreach(req, key, val) {
		(void)val;
		if (strcmp(key, "execute") && strcmp(key, "arguments") && strcmp(key, "id")) {
			char desc[128];

			snprintf(desc, sizeof(desc), "QMP input member '%.64s' is unexpected", key);
			qmp_send(s, qmp_make_error("GenericError", desc, call.id));
			return;
		}
	}
	if (!json_object_object_get_ex(req, "execute", &exec)) {
		qmp_send(s, qmp_make_error("GenericError", "QMP input lacks member 'execute'", call.id));
		return;
	}
	if (!json_object_is_type(exec, json_type_string)) {
		qmp_send(s, qmp_make_error("GenericError", "QMP input member 'execute' must be a string",
					   call.id));
		return;
	}
	if (json_object_object_get_ex(req, "arguments", &args) &&
	    !json_object_is_type(args, json_type_object)) {
		qmp_send(s, qmp_make_error("GenericError",
					   "QMP input member 'arguments' must be an object", call.id));
		return;
	}
	name = json_object_get_string(exec);
	if (!s->negotiated) {
		if (strcmp(name, "qmp_capabilities")) {
			qmp_send(s, qmp_make_error("CommandNotFound",
						   "Expecting capabilities negotiation with 'qmp_capabilities'",
						   call.id));
			return;
		}
		if (args && json_object_object_length(args)) {
			qmp_send(s, qmp_make_error("GenericError", "Parameter 'enable' is unexpected",
						   call.id));
			return;
		}
		s->negotiated = true;
		qmp_send(s, qmp_make_return(NULL, call.id));
		return;
	}
	if (!strcmp(name, "qmp_capabilities")) {
		qmp_send(s, qmp_make_error("CommandNotFound",
					   "Capabilities negotiation is already complete, command ignored",
					   call.id));
		return;
	}
	cmd = find_command(name);
	if (!cmd) {
		char desc[160];

		snprintf(desc, sizeof(desc), "The command %.100s has not been found", name);
		qmp_send(s, qmp_make_error("CommandNotFound", desc, call.id));
		return;
	}
	if (!check_args(cmd, args, &call)) {
		qmp_send(s, qmp_make_error(call.err_class, call.err_desc, call.id));
		return;
	}
	call.args = args;
	outcome = cmd->fn(s->ctl, &call);
	if (outcome == QMP_DONE)
		qmp_send(s, qmp_make_return(call.ret, call.id));
	else if (outcome == QMP_ERROR)
		qmp_send(s, qmp_make_error(call.err_class, call.err_desc, call.id));
}

void qmp_session_feed(struct qmp_session *s, const char *buf, size_t len)
{
	while (len && !s->closing) {
		struct json_object *obj = json_tokener_parse_ex(s->tok, buf, (int)len);
		enum json_tokener_error jerr = json_tokener_get_error(s->tok);
		size_t used = json_tokener_get_parse_end(s->tok);

		if (used > len || !used)
			used = len;
		if (obj) {
			s->pending = 0;
			dispatch(s, obj);
			json_object_put(obj);
			json_tokener_reset(s->tok);
		} else if (jerr == json_tokener_continue) {
			s->pending += used;
			if (s->pending > QMP_MAX_REQUEST) {
				qmp_send(s, qmp_make_error("GenericError",
							   "Request too large (more than 65536 bytes), closing",
							   NULL));
				s->closing = true;
			}
		} else {
			char desc[160];

			/* like QEMU: report, forget this input, keep the connection */
			snprintf(desc, sizeof(desc), "JSON parse error, %s", json_tokener_error_desc(jerr));
			qmp_send(s, qmp_make_error("GenericError", desc, NULL));
			json_tokener_reset(s->tok);
			s->pending = 0;
			return;
		}
		buf += used;
		len -= used;
	}
}
