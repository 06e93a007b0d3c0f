/* QMP-style control socket client: one blocking UNIX stream, parsed
 * incrementally with json_tokener, requests matched to replies by id and
 * events set aside (or handed to a callback) whenever they arrive. */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "tools/qmp_client.h"

/* Read size only: a message may span any number of reads, json_tokener
 * keeps the partial state. */
#define QMP_READ_CHUNK		65536
/* A socket that accepts but never speaks must not hang a connect. */
#define QMP_CONNECT_TIMEOUT_MS	10000

struct qmp_event {
	struct qmp_event *next;
	struct json_object *obj;
};

struct qmp_client {
	int fd;
	struct json_tokener *tok;
	char *rbuf;			/* [roff, rlen) read, not yet parsed */
	size_t roff;
	size_t rlen;
	struct qmp_event *ev_head;	/* events for qmp_next_event, oldest first */
	struct qmp_event **ev_tail;
	void (*handler)(void *arg, struct json_object *event);
	void *handler_arg;
	int64_t next_id;
	int broken;			/* errno of the failure, 0 while usable */
	char why[256];			/* the failure, for every later call */
};

static void __attribute__((format(printf, 3, 4)))
set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* Records the first failure only: later ones are its consequences. */
static void __attribute__((format(printf, 3, 4)))
qmp_break(struct qmp_client *c, int errnum, const char *fmt, ...)
{
	va_list ap;

	if (c->broken)
		return;
	c->broken = errnum;
	va_start(ap, fmt);
	vsnprintf(c->why, sizeof(c->why), fmt, ap);
	va_end(ap);
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A deadline of -1 means none. */
static int64_t deadline_after(int timeout_ms)
{
	return timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
}

static int poll_timeout(int64_t deadline)
{
	int64_t left;

	if (deadline < 0)
		return -1;
	left = deadline - now_ms();
	if (left < 0)
		return 0;
	return left > INT32_MAX ? INT32_MAX : (int)left;
}

/*
 * Reads more bytes into the empty buffer. Returns 0, or a negative errno:
 * -ETIMEDOUT, -EINTR (only when intr), or the failure that broke c.
 */
static int qmp_fill(struct qmp_client *c, int64_t deadline, bool intr)
{
	struct pollfd pfd = { .fd = c->fd, .events = POLLIN };
	ssize_t n;
	int r;

	for (;;) {
		r = poll(&pfd, 1, poll_timeout(deadline));
		if (r == 0)
			return -ETIMEDOUT;
		if (r < 0 && errno == EINTR) {
			if (intr)
				return -EINTR;
			continue;
		}
		if (r < 0) {
			qmp_break(c, errno, "poll: %s", strerror(errno));
			return -c->broken;
		}
		n = read(c->fd, c->rbuf, QMP_READ_CHUNK);
		if (n > 0)
			break;
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n == 0 || errno == ECONNRESET)
			qmp_break(c, ECONNRESET, "server closed the connection");
		else
			qmp_break(c, errno, "read: %s", strerror(errno));
		return -c->broken;
	}
	c->roff = 0;
	c->rlen = (size_t)n;
	return 0;
}

/* Feeds buffered bytes to the tokener: a whole message, or NULL when more
 * bytes are needed or the stream is broken (c->broken says which). */
static struct json_object *qmp_parse(struct qmp_client *c)
{
	struct json_object *obj;
	enum json_tokener_error e;

	if (c->roff == c->rlen)
		return NULL;
	obj = json_tokener_parse_ex(c->tok, c->rbuf + c->roff, (int)(c->rlen - c->roff));
	c->roff += json_tokener_get_parse_end(c->tok);
	e = json_tokener_get_error(c->tok);
	if (e == json_tokener_continue)
		return NULL;
	if (e != json_tokener_success) {
		qmp_break(c, EPROTO, "bad JSON from server: %s", json_tokener_error_desc(e));
		return NULL;
	}
	if (!json_object_is_type(obj, json_type_object)) {
		qmp_break(c, EPROTO, "message from server is not a JSON object: %.80s",
			  json_object_to_json_string(obj));
		json_object_put(obj);
		return NULL;
	}
	return obj;
}

/* The next message, or NULL with the reason as a negative errno in *rc. */
static struct json_object *qmp_read_msg(struct qmp_client *c, int64_t deadline,
					bool intr, int *rc)
{
	struct json_object *obj;

	for (;;) {
		if (c->broken) {
			*rc = -c->broken;
			return NULL;
		}
		obj = qmp_parse(c);
		if (obj)
			return obj;
		if (c->broken)
			continue;
		*rc = qmp_fill(c, deadline, intr);
		if (*rc)
			return NULL;
	}
}

static bool is_event(struct json_object *msg)
{
	struct json_object *name;

	return json_object_object_get_ex(msg, "event", &name) &&
	       json_object_is_type(name, json_type_string);
}

static bool is_reply(struct json_object *msg)
{
	return json_object_object_get_ex(msg, "return", NULL) ||
	       json_object_object_get_ex(msg, "error", NULL);
}

static void qmp_queue_event(struct qmp_client *c, struct json_object *event)
{
	struct qmp_event *e = malloc(sizeof(*e));

	if (!e) {
		/* Losing one event beats failing the command that is running. */
		json_object_put(event);
		return;
	}
	e->next = NULL;
	e->obj = event;
	*c->ev_tail = e;
	c->ev_tail = &e->next;
}

static struct json_object *qmp_dequeue_event(struct qmp_client *c)
{
	struct qmp_event *e = c->ev_head;
	struct json_object *event;

	if (!e)
		return NULL;
	c->ev_head = e->next;
	if (!c->ev_head)
		c->ev_tail = &c->ev_head;
	event = e->obj;
	free(e);
	return event;
}

/* An event that came while a reply was awaited. */
static void qmp_dispatch_event(struct qmp_client *c, struct json_object *event)
{
	if (!c->handler) {
		qmp_queue_event(c, event);
		return;
	}
	c->handler(c->handler_arg, event);
	json_object_put(event);
}

static int qmp_write_all(struct qmp_client *c, const char *buf, size_t len)
{
	ssize_t n;

	while (len) {
		/* MSG_NOSIGNAL: a server that went away is an error, not SIGPIPE. */
		n = send(c->fd, buf, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			if (errno == EPIPE || errno == ECONNRESET)
				qmp_break(c, ECONNRESET, "server closed the connection");
			else
				qmp_break(c, errno, "send: %s", strerror(errno));
			return -1;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

static int qmp_send(struct qmp_client *c, const char *cmd, struct json_object *args,
		    int64_t id)
{
	struct json_object *req = json_object_new_object();
	const char *text;
	char *line;
	int r = -1;

	if (!req) {
		qmp_break(c, ENOMEM, "out of memory");
		return -1;
	}
	json_object_object_add(req, "execute", json_object_new_string(cmd));
	if (args)
		json_object_object_add(req, "arguments", json_object_get(args));
	json_object_object_add(req, "id", json_object_new_int64(id));
	text = json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN);
	line = text ? malloc(strlen(text) + 3) : NULL;
	if (!line) {
		qmp_break(c, ENOMEM, "out of memory");
	} else {
		/* one write: the server may act on the object (quit) and close
		 * before a separate line end would reach it */
		strcpy(line, text);
		strcat(line, "\r\n");
		r = qmp_write_all(c, line, strlen(line));
	}
	free(line);
	json_object_put(req);
	return r;
}

/* A reply without an id is a server's answer to a request it could not
 * read; with one request outstanding it can only be ours. */
static bool reply_matches(struct qmp_client *c, struct json_object *reply, int64_t id)
{
	struct json_object *rid;

	if (!json_object_object_get_ex(reply, "id", &rid))
		return true;
	if (json_object_is_type(rid, json_type_int) && json_object_get_int64(rid) == id)
		return true;
	qmp_break(c, EPROTO, "reply id %s does not match request id %lld",
		  json_object_to_json_string_ext(rid, JSON_C_TO_STRING_PLAIN), (long long)id);
	return false;
}

static struct json_object *qmp_wait_reply(struct qmp_client *c, int64_t id,
					  int64_t deadline, int *rc)
{
	struct json_object *msg;

	for (;;) {
		msg = qmp_read_msg(c, deadline, false, rc);
		if (!msg)
			return NULL;
		if (is_event(msg)) {
			qmp_dispatch_event(c, msg);
			continue;
		}
		if (is_reply(msg) && reply_matches(c, msg, id))
			return msg;
		if (!c->broken)
			qmp_break(c, EPROTO, "unexpected message from server: %.80s",
				  json_object_to_json_string_ext(msg, JSON_C_TO_STRING_PLAIN));
		json_object_put(msg);
		*rc = -c->broken;
		return NULL;
	}
}

static struct json_object *qmp_transact(struct qmp_client *c, const char *cmd,
					struct json_object *args, int64_t deadline,
					char *err, size_t errlen)
{
	struct json_object *reply;
	int64_t id;
	int rc;

	if (c->broken)
		goto broken;
	if (!cmd || (args && !json_object_is_type(args, json_type_object))) {
		set_err(err, errlen, "%s: arguments must be a JSON object",
			cmd ? cmd : "(null)");
		return NULL;
	}
	id = c->next_id++;
	if (qmp_send(c, cmd, args, id))
		goto broken;
	reply = qmp_wait_reply(c, id, deadline, &rc);
	if (reply)
		return reply;
	if (rc == -ETIMEDOUT) {
		set_err(err, errlen, "%s: no reply within %d ms", cmd, QMP_CONNECT_TIMEOUT_MS);
		return NULL;
	}
broken:
	set_err(err, errlen, "%s", c->why);
	return NULL;
}

struct json_object *qmp_execute(struct qmp_client *c, const char *cmd,
				struct json_object *args, char *err, size_t errlen)
{
	return qmp_transact(c, cmd, args, -1, err, errlen);
}

struct json_object *qmp_next_event(struct qmp_client *c, int timeout_ms)
{
	int64_t deadline = deadline_after(timeout_ms);
	struct json_object *msg;
	int rc;

	msg = qmp_dequeue_event(c);
	if (msg)
		return msg;
	for (;;) {
		msg = qmp_read_msg(c, deadline, true, &rc);
		if (!msg) {
			errno = -rc;
			return NULL;
		}
		if (is_event(msg))
			return msg;
		/* Nothing is outstanding, so no reply may come now. */
		qmp_break(c, EPROTO, "unexpected message from server: %.80s",
			  json_object_to_json_string_ext(msg, JSON_C_TO_STRING_PLAIN));
		json_object_put(msg);
	}
}

void qmp_set_event_handler(struct qmp_client *c,
			   void (*fn)(void *arg, struct json_object *event), void *arg)
{
	c->handler = fn;
	c->handler_arg = arg;
}

int qmp_fd(const struct qmp_client *c)
{
	return c->fd;
}

void qmp_close(struct qmp_client *c)
{
	struct json_object *event;

	if (!c)
		return;
	while ((event = qmp_dequeue_event(c)))
		json_object_put(event);
	if (c->fd >= 0)
		close(c->fd);
	json_tokener_free(c->tok);
	free(c->rbuf);
	free(c);
}

static int unix_connect(const char *path, char *err, size_t errlen)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(addr.sun_path)) {
		set_err(err, errlen, "socket path too long (%zu bytes at most)",
			sizeof(addr.sun_path) - 1);
		return -1;
	}
	strcpy(addr.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		set_err(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		set_err(err, errlen, "connect: %s", strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

static struct qmp_client *qmp_alloc(int fd)
{
	struct qmp_client *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->fd = fd;
	c->ev_tail = &c->ev_head;
	c->next_id = 1;
	c->tok = json_tokener_new();
	c->rbuf = malloc(QMP_READ_CHUNK);
	if (!c->tok || !c->rbuf) {
		c->fd = -1;
		qmp_close(c);
		return NULL;
	}
	return c;
}

/* The "desc" of an error message, for connect's own failures. */
static const char *error_desc(struct json_object *msg)
{
	struct json_object *e, *desc;

	if (!json_object_object_get_ex(msg, "error", &e) ||
	    !json_object_object_get_ex(e, "desc", &desc) ||
	    !json_object_is_type(desc, json_type_string))
		return "(no reason given)";
	return json_object_get_string(desc);
}

static int qmp_read_greeting(struct qmp_client *c, int64_t deadline,
			     char *err, size_t errlen)
{
	struct json_object *msg;
	int rc;

	msg = qmp_read_msg(c, deadline, false, &rc);
	if (!msg) {
		if (rc == -ETIMEDOUT)
			set_err(err, errlen, "no greeting from server within %d ms",
				QMP_CONNECT_TIMEOUT_MS);
		else
			set_err(err, errlen, "reading greeting: %s", c->why);
		return -1;
	}
	if (json_object_object_get_ex(msg, "QMP", NULL)) {
		json_object_put(msg);
		return 0;
	}
	/* A server that turns clients away (too many) says why instead. */
	if (json_object_object_get_ex(msg, "error", NULL))
		set_err(err, errlen, "server refused the connection: %s", error_desc(msg));
	else
		set_err(err, errlen, "not a QMP greeting: %.80s",
			json_object_to_json_string_ext(msg, JSON_C_TO_STRING_PLAIN));
	json_object_put(msg);
	return -1;
}

static int qmp_negotiate(struct qmp_client *c, int64_t deadline, char *err, size_t errlen)
{
	struct json_object *reply;

	reply = qmp_transact(c, "qmp_capabilities", NULL, deadline, err, errlen);
	if (!reply)
		return -1;
	if (json_object_object_get_ex(reply, "return", NULL)) {
		json_object_put(reply);
		return 0;
	}
	set_err(err, errlen, "qmp_capabilities refused: %s", error_desc(reply));
	json_object_put(reply);
	return -1;
}

struct qmp_client *qmp_connect(const char *path, char *err, size_t errlen)
{
	int64_t deadline = deadline_after(QMP_CONNECT_TIMEOUT_MS);
	struct qmp_client *c;
	int fd;

	fd = unix_connect(path, err, errlen);
	if (fd < 0)
		return NULL;
	c = qmp_alloc(fd);
	if (!c) {
		set_err(err, errlen, "out of memory");
		close(fd);
		return NULL;
	}
	if (qmp_read_greeting(c, deadline, err, errlen) ||
	    qmp_negotiate(c, deadline, err, errlen)) {
		qmp_close(c);
		return NULL;
	}
	return c;
}
