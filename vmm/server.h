/* The control socket: a UNIX socket (mode 0600) serving QMP sessions from
 * the main thread's poll loop, a worker thread that runs compactions so a
 * long one blocks no client, and the queue that carries events and
 * finished jobs from other threads back to the main thread.
 *
 * No client can stop the others from being served: every socket write is
 * non-blocking (MSG_NOSIGNAL), each client's queued output is bounded, a
 * poll round answers at most a few requests per client, compactions are
 * bounded per session and run round-robin across sessions, and a client
 * that never negotiates is dropped after SERVER_CAPS_TIMEOUT_MS. */
#ifndef VMM_SERVER_H
#define VMM_SERVER_H

#include <poll.h>
#include <pthread.h>
#include <stdbool.h>

#include "vmm/control.h"

#define SERVER_MAX_CLIENTS	256
/* A client must send qmp_capabilities this soon after connecting, or it is
 * dropped: idle connections would otherwise lock everyone else out. */
#define SERVER_CAPS_TIMEOUT_MS	5000
/* At exit, the time all clients together get to take what is queued. */
#define SERVER_FLUSH_MS		1000

struct client;
struct vm;

struct server {
	struct control ctl;
	struct vm *vm;
	int listen_fd;
	char *path;
	struct client *clients;
	unsigned int nr_clients;
	uint64_t next_session;
	int wake_efd;			/* other threads -> main loop */

	pthread_t worker;
	bool worker_running;
	pthread_mutex_t lock;		/* protects everything below */
	pthread_cond_t work;
	bool worker_stop;
	struct compact_job *todo, *todo_tail;	/* one job per session at most */
	struct compact_job *done;
	struct json_object **events;
	unsigned int nr_events, cap_events;
};

/* path may be NULL: no socket, but ctl still usable (kcompactd events). */
int server_start(struct server *s, struct vm *vm, const char *path, struct kcompactd *kd,
		 struct compactor *c);
void server_stop(struct server *s);

/* Poll set: fills at most max entries, returns how many. */
int server_pollfds(struct server *s, struct pollfd *fds, int max);
/* The poll timeout the server needs: ms to its next deadline, 0 when a
 * client has requests read but not yet answered, -1 for none. */
int server_timeout_ms(struct server *s);
/* Serves what poll reported (fds as server_pollfds filled them) and the
 * deadlines that have passed. */
void server_handle(struct server *s, const struct pollfd *fds, int n);
/* Before exiting (the VM stopped): sends every client the SHUTDOWN event
 * with the VM's stop reason, then delivers what is queued to the clients
 * that read it, waiting for them SERVER_FLUSH_MS at most, all together. */
void server_flush(struct server *s);

#endif
