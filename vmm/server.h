/* The control socket: a UNIX socket (mode 0600) serving QMP sessions from
 * the main thread's poll loop, a worker thread that runs compactions so a
 * long one blocks no client, and the queue that carries events and
 * finished jobs from other threads back to the main thread. */
#ifndef VMM_SERVER_H
#define VMM_SERVER_H

#include <poll.h>
#include <pthread.h>
#include <stdbool.h>

#include "vmm/control.h"

#define SERVER_MAX_CLIENTS	256

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
	struct compact_job *todo, *todo_tail;
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
void server_handle(struct server *s, const struct pollfd *fds, int n);
/* Writes out what is queued for the clients (before exiting). */
void server_flush(struct server *s);

#endif
