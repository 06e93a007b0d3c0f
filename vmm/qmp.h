/* QMP wire protocol for the control socket (qemu docs/interop/qmp-spec.rst):
 * one session per connection, fed raw bytes, answering through a send
 * callback. Parsing is json-c's; commands come from a table with typed
 * argument specs, so every request is checked before a handler runs.
 * Knows nothing of sockets, so it can be fuzzed alone. */
#ifndef VMM_QMP_H
#define VMM_QMP_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define QMP_MAX_REQUEST		(64 * 1024)	/* bytes of one request */
/* Replies a session may be waiting for (compactions queued or running):
 * QEMU tells clients to keep at most 8 requests in flight, and one client
 * must not hold the single compaction worker for everyone else. */
#define QMP_MAX_PENDING		8

struct control;

struct qmp_session {
	struct json_tokener *tok;
	size_t pending;			/* bytes of the request being read */
	bool skipping;			/* after a parse error: up to the next newline */
	bool negotiated;
	bool closing;			/* close once the output is flushed */
	unsigned int pending_replies;	/* QMP_LATER replies still to come */
	uint64_t id;			/* unique per connection, never reused */
	struct control *ctl;
	void (*send)(void *arg, const char *text, size_t len);
	void *send_arg;
};

/*
 * Bytes queued for a peer: appended at the tail, sent from the head, so
 * sending part of it moves nothing. The unsent part moves to the front
 * only once at least as much has been sent since it last moved: each byte
 * is moved O(1) times on average, however little the peer takes at a time.
 */
struct qmp_outq {
	char *buf;
	size_t head, tail, cap;		/* [head, tail) is queued */
	uint64_t moved;			/* bytes moved to the front, in all */
};

/* Appends len bytes, unless more than max would then be queued (-ENOBUFS);
 * -ENOMEM. The buffer never grows past twice max. */
int qmp_outq_append(struct qmp_outq *q, const char *text, size_t len, size_t max);
/* The first n queued bytes have been sent. */
void qmp_outq_consume(struct qmp_outq *q, size_t n);
/* Drops all that is queued. */
void qmp_outq_clear(struct qmp_outq *q);
void qmp_outq_free(struct qmp_outq *q);

static inline size_t qmp_outq_len(const struct qmp_outq *q)
{
	return q->tail - q->head;
}

static inline const char *qmp_outq_data(const struct qmp_outq *q)
{
	return q->buf + q->head;
}

/*
 * The schema: what a command takes and returns and what an event carries,
 * as members of JSON objects. The same tables check every request before
 * its handler runs and describe the protocol (query-qmp-schema), so the
 * two cannot drift apart.
 */
enum qmp_type {
	QMP_INT, QMP_STR, QMP_BOOL,		/* what arguments can be */
	QMP_NUMBER,
	QMP_INT_OR_NULL,			/* null: "none", e.g. no order */
	QMP_INT_LIST, QMP_NUMBER_LIST, QMP_STR_LIST,
	QMP_ANY,				/* an object of its own */
};

struct qmp_member {
	const char *name;
	enum qmp_type type;
	bool optional;
	int64_t min, max;		/* QMP_INT arguments: the range accepted */
	const char *const *values;	/* QMP_STR: the values accepted, NULL-ended; NULL: any */
};

/* A request's id: any JSON value, null included, echoed as it came. */
struct qmp_id {
	struct json_object *value;	/* NULL for null */
	bool present;
};

/* A reference of its own to src's value (for a reply sent later). */
void qmp_id_copy(struct qmp_id *dst, const struct qmp_id *src);
void qmp_id_put(struct qmp_id *id);

/* What a handler says: a return value (*ret, may stay NULL for {}), an
 * error, or that the reply will come later (a compaction's, when it ends). */
enum qmp_outcome { QMP_DONE, QMP_ERROR, QMP_LATER };

struct qmp_call {
	struct qmp_session *session;
	struct json_object *args;	/* checked against the spec */
	struct qmp_id id;		/* to echo */
	struct json_object *ret;
	const char *err_class;
	char err_desc[256];
};

#define QMP_MAX_ARGS		4

struct qmp_command {
	const char *name;
	enum qmp_outcome (*fn)(struct control *ctl, struct qmp_call *call);
	struct qmp_member args[QMP_MAX_ARGS + 1];	/* ends at a NULL name */
	const struct qmp_member *returns;	/* the object returned (NULL name ends),
						 * NULL for {} */
	bool returns_list;			/* a list of such objects */
};

struct qmp_event {
	const char *name;
	const struct qmp_member *data;		/* NULL name ends; NULL: {} */
};

void qmp_session_init(struct qmp_session *s, struct control *ctl, uint64_t id,
		      void (*send)(void *arg, const char *text, size_t len), void *arg);
void qmp_session_destroy(struct qmp_session *s);
void qmp_send_greeting(struct qmp_session *s);
/*
 * Feeds bytes from the peer; parses and answers every complete request,
 * in order. After a JSON parse error (answered with an error, no id) the
 * rest of that line is skipped and parsing starts afresh after its '\n'.
 * A reset byte (0xFE, 0xFF, or an ASCII control character other than tab,
 * CR and LF: qmp-spec.rst's way to force the parser into a known state)
 * drops a request read only in part, answering it with an error, and ends
 * the skipping. A request longer than QMP_MAX_REQUEST is answered with an
 * error and the session is closing: nothing more is read.
 */
void qmp_session_feed(struct qmp_session *s, const char *buf, size_t len);
/* The same, stopping once max requests (parse errors and dropped requests
 * included) were answered; 0 is no limit. Returns the bytes used: the rest
 * is for a later call, unless the session is closing. */
size_t qmp_session_feed_some(struct qmp_session *s, const char *buf, size_t len,
			     unsigned int max);

/* Sends a message object (consumed) as one line. */
void qmp_send(struct qmp_session *s, struct json_object *msg);
/* Builds {"return": ret, "id": id} (ret consumed, NULL = {}; id NULL or
 * not present: no id). */
struct json_object *qmp_make_return(struct json_object *ret, const struct qmp_id *id);
struct json_object *qmp_make_error(const char *cls, const char *desc, const struct qmp_id *id);
/* {"event": name, "data": data, "timestamp": ...} (data consumed). */
struct json_object *qmp_make_event(const char *name, struct json_object *data);

void qmp_set_error(struct qmp_call *call, const char *cls, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* The package's version as QMP gives it: {"qemu": {"major", "minor",
 * "micro"}, "package"} (the greeting, query-version). */
struct json_object *qmp_version(void);

/* The command and event tables (vmm/commands.c), ending at a NULL name. */
extern const struct qmp_command qmp_commands[];
extern const struct qmp_event qmp_events[];

/* vmm/qmp_schema.c: query-qmp-schema's answer, QEMU's SchemaInfo list
 * (commands, events, and the types they name), and query-commands'. */
struct json_object *qmp_schema(void);
struct json_object *qmp_command_names(void);

#endif
