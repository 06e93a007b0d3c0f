/* Client side of the VMM's control socket, which follows QMP's wire rules:
 * greeting, qmp_capabilities, then requests with ids and their replies,
 * with asynchronous events interleaved anywhere. */
#ifndef TOOLS_QMP_CLIENT_H
#define TOOLS_QMP_CLIENT_H

#include <stddef.h>

#include <json-c/json.h>

/*
 * One connection. Not thread-safe: one thread at a time may call into it.
 * Messages from the server are JSON objects separated by whitespace (the
 * server sends "\r\n"); they are parsed incrementally, so no message size
 * is too large and a message may arrive in any number of pieces.
 *
 * After an I/O or protocol failure the connection is broken: every later
 * call fails at once with the same reason. Only qmp_close remains to do.
 */
struct qmp_client;

/* Connects to the UNIX socket at path, reads the greeting and negotiates
 * capabilities. NULL on failure with a readable reason in err. */
struct qmp_client *qmp_connect(const char *path, char *err, size_t errlen);

/* Sends {"execute": cmd, "arguments": args, "id": N} (args may be NULL; not
 * consumed) and waits, without a time limit, for the reply carrying the
 * same id (a reply without an id, which a server sends when it could not
 * read the request, is taken as this request's). Events that arrive
 * meanwhile go to the event handler if one is set, else to the queue that
 * qmp_next_event drains. Returns the whole reply object (has "return" or
 * "error"), to be released with json_object_put, or NULL on an I/O or
 * protocol failure with err filled (e.g. the server closed the connection).
 * An error reply is not a failure: it is returned. */
struct json_object *qmp_execute(struct qmp_client *c, const char *cmd,
				struct json_object *args, char *err, size_t errlen);

/* Waits up to timeout_ms (negative: no limit, 0: only what is already
 * there) for the next event, queued ones first; returns it (caller puts)
 * or NULL on timeout/failure. On NULL errno tells which: ETIMEDOUT, EINTR
 * (a signal arrived; the connection is still usable), ECONNRESET (the
 * server closed the connection) or another code for a broken connection.
 * Events returned here never go through the event handler. */
struct json_object *qmp_next_event(struct qmp_client *c, int timeout_ms);

/* Events arriving during qmp_execute are passed to fn, borrowed: fn takes
 * a reference (json_object_get) to keep one. fn must not call back into
 * the client. fn == NULL queues them again. */
void qmp_set_event_handler(struct qmp_client *c,
			   void (*fn)(void *arg, struct json_object *event), void *arg);

/* The socket, for poll(). Events may already be queued or read but not
 * yet parsed, which poll cannot see: drain with qmp_next_event(c, 0) until
 * it returns NULL before each poll. */
int qmp_fd(const struct qmp_client *c);

/* Closes the socket and frees the client with any queued events. NULL is
 * allowed. */
void qmp_close(struct qmp_client *c);

#endif
