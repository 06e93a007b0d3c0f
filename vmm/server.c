/* Control socket server: sockets, sessions, the compaction worker. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "lib/thread.h"
#include "mm/clock.h"
#include "vmm/qmp.h"
#include "vmm/server.h"
#include "vmm/vm.h"

#define CLIENT_READ_CHUNK	16384	/* bytes read from a client at a time */
/* Requests answered per client per poll round: one client pipelining
 * thousands of requests gets its turn like everyone else. */
#define CLIENT_ROUND_REQUESTS	8
/* A client the server closes (request too large, no negotiation) gets this
 * long to take its last reply and close its side. */
#define CLIENT_LINGER_MS	1000

/*
 * A client's queued output is bounded: one that does not read is dropped
 * rather than let it grow without end. The bound must hold the largest
 * single reply, the frame map of the largest pool: --mem 63G and --plug 63G
 * (the most builtin-run.c accepts; the pool has --mem's frames today, the
 * plug area's may join it) are 33,030,144 frames, 4 bits each,
 * 16,515,072 bytes, 22,020,096 in base64, plus the JSON around it (no
 * base64 '/' for json-c to escape: states are at most 5, so every nibble's
 * top bit is 0). On top of that, 10 MiB for the events and smaller
 * replies queued beside it: 31 MiB in all.
 */
#define LARGEST_POOL_FRAMES	((63ULL << 30) * 2 / FRAME_SIZE)
#define LARGEST_REPLY		(((LARGEST_POOL_FRAMES + 1) / 2 + 2) / 3 * 4 + 1024)
#define MAX_OUTPUT		((size_t)LARGEST_REPLY + (10u << 20))

struct client {
	int fd;
	int pollidx;			/* its entry in the poll set, or -1 */
	struct qmp_session qmp;
	struct qmp_outq out;		/* still to send */
	size_t in_head, in_len;		/* [in_head, in_len) read, not yet fed */
	uint64_t deadline_ns;		/* for qmp_capabilities; when closing, to close */
	bool eof;			/* the peer shut its side: nothing more to read */
	bool gone;			/* the peer closed: output goes nowhere */
	bool closing;			/* we close: last output, SHUT_WR, input discarded */
	bool shut;			/* our side is shut */
	bool dead;			/* to be freed at the next sweep */
	bool job_queued;		/* one of its compactions is with the worker */
	struct compact_job *jobs;	/* its other compactions, in order */
	struct client *next;
	char in[CLIENT_READ_CHUNK];
};

static struct server *server_of(struct control *ctl)
{
	return ctl->priv;
}

static void wake(struct server *s)
{
	uint64_t one = 1;

	if (write(s->wake_efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		perror("vmdefrag: eventfd");
}

static struct client *find_client(struct server *s, uint64_t session)
{
	for (struct client *c = s->clients; c; c = c->next)
		if (c->qmp.id == session)
			return c;
	return NULL;
}

static void free_job(struct compact_job *job)
{
	qmp_id_put(&job->id);
	free(job);
}

/* ---- control ops for the VMM ---- */

static bool op_running(struct control *ctl)
{
	struct vm *vm = server_of(ctl)->vm;
	bool running;

	pthread_mutex_lock(&vm->lock);
	running = !vm->user_paused && !vm->stopping;
	pthread_mutex_unlock(&vm->lock);
	return running;
}

static void op_event(struct control *ctl, struct json_object *event)
{
	struct server *s = server_of(ctl);

	pthread_mutex_lock(&s->lock);
	if (s->nr_events == s->cap_events) {
		unsigned int cap = s->cap_events ? s->cap_events * 2 : 16;
		struct json_object **ev = realloc(s->events, cap * sizeof(*ev));

		if (!ev) {
			pthread_mutex_unlock(&s->lock);
			json_object_put(event);
			return;
		}
		s->events = ev;
		s->cap_events = cap;
	}
	s->events[s->nr_events++] = event;
	pthread_mutex_unlock(&s->lock);
	wake(s);
}

static void set_user_paused(struct control *ctl, bool pause)
{
	struct vm *vm = server_of(ctl)->vm;
	bool change;

	pthread_mutex_lock(&vm->lock);
	change = vm->user_paused != pause;
	vm->user_paused = pause;
	pthread_mutex_unlock(&vm->lock);
	if (!change)
		return;
	if (pause)
		vm_pause(vm);
	else
		vm_resume(vm);
	op_event(ctl, qmp_make_event(pause ? "STOP" : "RESUME", NULL));
}

static void op_stop(struct control *ctl)
{
	set_user_paused(ctl, true);
}

static void op_cont(struct control *ctl)
{
	set_user_paused(ctl, false);
}

static void op_quit(struct control *ctl)
{
	vm_stop(server_of(ctl)->vm, 0, VM_STOP_HOST_QMP_QUIT);
}

static void queue_job(struct server *s, struct compact_job *job)
{
	pthread_mutex_lock(&s->lock);
	job->next = NULL;
	if (s->todo_tail)
		s->todo_tail->next = job;
	else
		s->todo = job;
	s->todo_tail = job;
	pthread_cond_signal(&s->work);
	pthread_mutex_unlock(&s->lock);
}

/* The worker's queue holds one job per session at most, so it serves the
 * sessions round-robin: a session's next job joins the queue's tail only
 * when its previous one is done. Main thread only, like all client state. */
static void op_submit(struct control *ctl, struct compact_job *job)
{
	struct server *s = server_of(ctl);
	struct client *c = find_client(s, job->session_id);
	struct compact_job **p;

	if (c && c->job_queued) {
		for (p = &c->jobs; *p; p = &(*p)->next)
			;
		job->next = NULL;
		*p = job;
		return;
	}
	if (c)
		c->job_queued = true;
	queue_job(s, job);
}

static const struct control_ops vmm_ops = {
	.running = op_running,
	.stop = op_stop,
	.cont = op_cont,
	.quit = op_quit,
	.submit = op_submit,
	.event = op_event,
};

/* Runs queued compactions one at a time; replies go through the main loop. */
static void *worker(void *arg)
{
	struct server *s = arg;

	pthread_mutex_lock(&s->lock);
	for (;;) {
		struct compact_job *job;

		while (!s->todo && !s->worker_stop)
			pthread_cond_wait(&s->work, &s->lock);
		if (s->worker_stop)
			break;
		job = s->todo;
		s->todo = job->next;
		if (!s->todo)
			s->todo_tail = NULL;
		pthread_mutex_unlock(&s->lock);
		control_run_job(&s->ctl, job);
		pthread_mutex_lock(&s->lock);
		job->next = s->done;
		s->done = job;
		wake(s);
	}
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

/* A session that has gone: its jobs not yet started are never run. */
static void cancel_jobs(struct server *s, struct client *c)
{
	struct compact_job *prev = NULL;

	while (c->jobs) {
		struct compact_job *job = c->jobs;

		c->jobs = job->next;
		free_job(job);
	}
	if (!c->job_queued)
		return;
	pthread_mutex_lock(&s->lock);
	for (struct compact_job *job = s->todo; job; prev = job, job = job->next) {
		if (job->session_id != c->qmp.id)
			continue;
		if (prev)
			prev->next = job->next;
		else
			s->todo = job->next;
		if (s->todo_tail == job)
			s->todo_tail = prev;
		free_job(job);
		break;
	}
	pthread_mutex_unlock(&s->lock);
}

static void client_send(void *arg, const char *text, size_t len)
{
	struct client *c = arg;
	int err;

	if (c->dead || c->gone)
		return;
	err = qmp_outq_append(&c->out, text, len, MAX_OUTPUT);
	if (!err)
		return;
	if (err == -ENOBUFS)
		fprintf(stderr, "vmdefrag: control socket: dropping session %lu, which does not read: "
			"%zu bytes queued, %zu more would pass the bound of %zu\n",
			(unsigned long)c->qmp.id, qmp_outq_len(&c->out), len, MAX_OUTPUT);
	else
		fprintf(stderr, "vmdefrag: control socket: dropping session %lu: out of memory\n",
			(unsigned long)c->qmp.id);
	c->dead = true;
}

/* The peer has closed: what it sent is still served, but no reply can
 * reach it. */
static void set_gone(struct client *c)
{
	c->gone = true;
	qmp_outq_clear(&c->out);
}

static void write_client(struct client *c)
{
	ssize_t n;

	if (c->dead || c->gone || !qmp_outq_len(&c->out))
		return;
	n = send(c->fd, qmp_outq_data(&c->out), qmp_outq_len(&c->out), MSG_NOSIGNAL | MSG_DONTWAIT);
	if (n < 0) {
		if (errno == EPIPE || errno == ECONNRESET)
			set_gone(c);
		else if (errno != EAGAIN && errno != EINTR)
			c->dead = true;
		return;
	}
	qmp_outq_consume(&c->out, (size_t)n);
}

/* ---- sessions ---- */

static void accept_client(struct server *s)
{
	int fd = accept4(s->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	struct client *c;

	if (fd < 0)
		return;
	if (s->nr_clients >= SERVER_MAX_CLIENTS) {
		static const char busy[] = "{\"error\": {\"class\": \"GenericError\", "
					   "\"desc\": \"Too many clients\"}}\r\n";

		/* it may have gone already; a full buffer just loses the notice */
		if (send(fd, busy, sizeof(busy) - 1, MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
			/* nothing more to do for it */
		}
		close(fd);
		return;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		close(fd);
		return;
	}
	c->fd = fd;
	c->pollidx = -1;
	c->deadline_ns = mono_ns() + SERVER_CAPS_TIMEOUT_MS * 1000000ULL;
	qmp_session_init(&c->qmp, &s->ctl, ++s->next_session, client_send, c);
	qmp_send_greeting(&c->qmp);
	write_client(c);
	c->next = s->clients;
	s->clients = c;
	s->nr_clients++;
}

/* Reads only once what was read before has been fed: a client's input
 * waits in the kernel, not in the VMM. */
static void read_client(struct client *c)
{
	ssize_t n;

	if (c->eof || c->dead || c->in_head < c->in_len)
		return;
	n = recv(c->fd, c->in, sizeof(c->in), MSG_DONTWAIT);
	if (n > 0) {
		c->in_head = 0;
		c->in_len = (size_t)n;
		return;
	}
	if (n == 0)
		c->eof = true;
	else if (errno != EAGAIN && errno != EINTR)
		c->dead = true;
}

static void start_closing(struct client *c)
{
	c->closing = true;
	c->in_head = c->in_len;		/* what it sent is not read any more */
	c->deadline_ns = mono_ns() + CLIENT_LINGER_MS * 1000000ULL;
}

static void serve_requests(struct client *c)
{
	if (c->dead || c->closing) {
		c->in_head = c->in_len;		/* discarded */
		return;
	}
	c->in_head += qmp_session_feed_some(&c->qmp, c->in + c->in_head, c->in_len - c->in_head,
					    CLIENT_ROUND_REQUESTS);
	if (c->qmp.closing)
		start_closing(c);
}

/* Closing as TCP's graceful close does: once the last reply is out, shut
 * our side, then discard what the peer still sends until it closes too
 * (or the linger time ends), so the reply is not lost to a reset. */
static void linger(struct client *c)
{
	if (!c->closing || c->shut || qmp_outq_len(&c->out))
		return;
	shutdown(c->fd, SHUT_WR);
	c->shut = true;
}

static void client_io(struct client *c, short revents)
{
	if (revents & (POLLHUP | POLLERR))
		set_gone(c);
	if (revents & (POLLIN | POLLHUP | POLLERR))
		read_client(c);
	serve_requests(c);
	write_client(c);
	linger(c);
}

static void client_timeouts(struct client *c, uint64_t now)
{
	char desc[96];

	if (c->dead || now < c->deadline_ns)
		return;
	if (c->closing) {
		c->dead = true;
		return;
	}
	if (c->qmp.negotiated)
		return;
	snprintf(desc, sizeof(desc), "No qmp_capabilities within %d s, closing",
		 SERVER_CAPS_TIMEOUT_MS / 1000);
	qmp_send(&c->qmp, qmp_make_error("GenericError", desc, NULL));
	start_closing(c);
	write_client(c);
	linger(c);
}

/* Whether the client is done with: gone, or all said and answered. */
static bool client_finished(const struct client *c)
{
	bool unread = c->in_head < c->in_len;

	if (c->dead)
		return true;
	if (c->closing)
		return c->gone || (c->shut && c->eof);
	if (c->gone)
		return c->eof && !unread;
	return c->eof && !unread && !c->qmp.pending_replies && !qmp_outq_len(&c->out);
}

static void free_client(struct server *s, struct client *c)
{
	cancel_jobs(s, c);
	qmp_session_destroy(&c->qmp);
	close(c->fd);
	qmp_outq_free(&c->out);
	free(c);
	s->nr_clients--;
}

static void sweep(struct server *s)
{
	for (struct client **p = &s->clients; *p;) {
		struct client *c = *p;

		if (client_finished(c)) {
			*p = c->next;
			free_client(s, c);
		} else {
			p = &c->next;
		}
	}
}

/* A session's compaction is done: the next one it asked for goes to the worker. */
static void job_done(struct server *s, struct compact_job *job)
{
	struct client *c = find_client(s, job->session_id);

	/* the asker may have gone meanwhile: then the result goes nowhere */
	if (c) {
		c->qmp.pending_replies--;
		qmp_send(&c->qmp, qmp_make_return(control_job_result(job), &job->id));
		c->job_queued = false;
		if (c->jobs) {
			struct compact_job *next = c->jobs;

			c->jobs = next->next;
			c->job_queued = true;
			queue_job(s, next);
		}
	}
	free_job(job);
}

/* Events and finished jobs from other threads, out to the clients. */
static void deliver(struct server *s)
{
	struct compact_job *done, *order = NULL;
	struct json_object **events;
	unsigned int nr;
	uint64_t junk;

	if (read(s->wake_efd, &junk, sizeof(junk)) < 0) {
		/* nothing pending */
	}
	pthread_mutex_lock(&s->lock);
	events = s->events;
	nr = s->nr_events;
	s->events = NULL;
	s->nr_events = s->cap_events = 0;
	done = s->done;
	s->done = NULL;
	pthread_mutex_unlock(&s->lock);

	for (unsigned int i = 0; i < nr; i++) {
		for (struct client *c = s->clients; c; c = c->next)
			if (c->qmp.negotiated && !c->closing)
				qmp_send(&c->qmp, json_object_get(events[i]));
		json_object_put(events[i]);
	}
	free(events);
	/* done is newest first: answer in the order the jobs ended */
	while (done) {
		struct compact_job *job = done;

		done = job->next;
		job->next = order;
		order = job;
	}
	while (order) {
		struct compact_job *job = order;

		order = job->next;
		job_done(s, job);
	}
}

/* ---- the socket ---- */

static int listen_on(const char *path)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	mode_t old;
	int fd, err;

	if (strlen(path) >= sizeof(addr.sun_path)) {
		fprintf(stderr, "vmdefrag: --socket %s: path too long\n", path);
		return -ENAMETOOLONG;
	}
	strcpy(addr.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* a socket file nobody listens on is left over from a crash: reuse it */
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0) {
		fprintf(stderr, "vmdefrag: --socket %s: another VMM is listening there\n", path);
		close(fd);
		return -EADDRINUSE;
	}
	close(fd);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	{
		struct stat st;

		if (!lstat(path, &st) && S_ISSOCK(st.st_mode))
			unlink(path);
	}
	old = umask(0177);	/* the socket: 0600 */
	err = bind(fd, (struct sockaddr *)&addr, sizeof(addr));
	umask(old);
	if (err || listen(fd, 128)) {
		err = -errno;
		fprintf(stderr, "vmdefrag: --socket %s: %s\n", path, strerror(errno));
		close(fd);
		return err;
	}
	return fd;
}

int server_start(struct server *s, struct vm *vm, const char *path, struct kcompactd *kd,
		 struct compactor *c)
{
	int err;

	memset(s, 0, sizeof(*s));
	s->vm = vm;
	s->listen_fd = -1;
	s->ctl.pool = &vm->pool;
	s->ctl.p2m = &vm->p2m;
	s->ctl.compactor = c;
	s->ctl.kcompactd = kd;
	s->ctl.gm = &vm->gm;
	s->ctl.reserve = &vm->reserve;
	s->ctl.policy = POLICY_TWOSCANNER;
	s->ctl.ops = &vmm_ops;
	s->ctl.priv = s;
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->work, NULL);
	/* every run's events, whoever starts it (no run goes on yet) */
	c->watch = control_watch;
	c->watch_arg = &s->ctl;
	s->wake_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (s->wake_efd < 0)
		return -errno;
	if (path) {
		s->listen_fd = listen_on(path);
		if (s->listen_fd < 0)
			return s->listen_fd;
		s->path = strdup(path);
	}
	err = pthread_create(&s->worker, NULL, worker, s);
	if (err)
		return -err;
	s->worker_running = true;
	return 0;
}

static int ms_left(uint64_t deadline_ns)
{
	uint64_t now = mono_ns();

	if (now >= deadline_ns)
		return 0;
	return (int)((deadline_ns - now + 999999) / 1000000);
}

void server_flush(struct server *s)
{
	uint64_t deadline = mono_ns() + SERVER_FLUSH_MS * 1000000ULL;
	struct pollfd fds[SERVER_MAX_CLIENTS];

	/* why the VM went away, before the socket does (QEMU's SHUTDOWN) */
	if (s->vm) {
		struct json_object *data = json_object_new_object();
		enum vm_stop_reason why;

		pthread_mutex_lock(&s->vm->lock);
		why = s->vm->stop_reason;
		pthread_mutex_unlock(&s->vm->lock);

		json_object_object_add(data, "guest", json_object_new_boolean(why == VM_STOP_GUEST_SHUTDOWN ||
									       why == VM_STOP_GUEST_PANIC));
		json_object_object_add(data, "reason", json_object_new_string(vm_stop_reason_name(why)));
		op_event(&s->ctl, qmp_make_event("SHUTDOWN", data));
	}
	deliver(s);
	for (;;) {
		int n = 0, left;

		for (struct client *c = s->clients; c && n < SERVER_MAX_CLIENTS; c = c->next) {
			write_client(c);
			if (!c->dead && !c->gone && qmp_outq_len(&c->out))
				fds[n++] = (struct pollfd){ c->fd, POLLOUT, 0 };
		}
		left = ms_left(deadline);
		if (!n || !left)
			break;
		if (poll(fds, (nfds_t)n, left) < 0 && errno != EINTR)
			break;
	}
}

void server_stop(struct server *s)
{
	/* a vCPU may still compact for a huge request: its events go nowhere */
	if (s->ctl.compactor) {
		zone_lock(s->ctl.compactor->zone);
		s->ctl.compactor->watch = NULL;
		zone_unlock(s->ctl.compactor->zone);
	}
	if (s->worker_running) {
		thread_stop(s->worker, &s->lock, &s->work, &s->worker_stop);
		s->worker_running = false;
	}
	for (struct client *c = s->clients; c; c = c->next)
		c->dead = true;
	sweep(s);
	while (s->todo) {
		struct compact_job *job = s->todo;

		s->todo = job->next;
		free_job(job);
	}
	s->todo_tail = NULL;
	while (s->done) {
		struct compact_job *job = s->done;

		s->done = job->next;
		free_job(job);
	}
	for (unsigned int i = 0; i < s->nr_events; i++)
		json_object_put(s->events[i]);
	free(s->events);
	s->events = NULL;
	s->nr_events = 0;
	if (s->listen_fd >= 0) {
		close(s->listen_fd);
		unlink(s->path);
	}
	free(s->path);
	s->path = NULL;
	s->listen_fd = -1;
	if (s->wake_efd >= 0)
		close(s->wake_efd);
	s->wake_efd = -1;
}

/* ---- the poll loop's side ---- */

static short client_events(const struct client *c)
{
	short ev = 0;

	if (!c->eof && c->in_head == c->in_len)
		ev |= POLLIN;
	if (!c->gone && qmp_outq_len(&c->out))
		ev |= POLLOUT;
	return ev;
}

int server_pollfds(struct server *s, struct pollfd *fds, int max)
{
	int n = 0;

	if (n < max)
		fds[n++] = (struct pollfd){ s->wake_efd, POLLIN, 0 };
	if (s->listen_fd >= 0 && n < max)
		fds[n++] = (struct pollfd){ s->listen_fd, POLLIN, 0 };
	for (struct client *c = s->clients; c; c = c->next) {
		c->pollidx = -1;
		if (n == max)
			continue;
		c->pollidx = n;
		fds[n++] = (struct pollfd){ c->fd, client_events(c), 0 };
	}
	return n;
}

int server_timeout_ms(struct server *s)
{
	uint64_t next = UINT64_MAX;

	for (struct client *c = s->clients; c; c = c->next) {
		if (!c->closing && c->in_head < c->in_len)
			return 0;
		if ((c->closing || !c->qmp.negotiated) && c->deadline_ns < next)
			next = c->deadline_ns;
	}
	return next == UINT64_MAX ? -1 : ms_left(next);
}

void server_handle(struct server *s, const struct pollfd *fds, int n)
{
	bool accept_one = false;
	uint64_t now;

	for (int i = 0; i < n && i < 2; i++) {
		if (fds[i].fd == s->wake_efd && fds[i].revents)
			deliver(s);
		if (fds[i].fd == s->listen_fd && fds[i].revents)
			accept_one = true;
	}
	for (struct client *c = s->clients; c; c = c->next) {
		short revents = 0;

		if (c->pollidx >= 0 && c->pollidx < n && fds[c->pollidx].fd == c->fd)
			revents = fds[c->pollidx].revents;
		client_io(c, revents);
	}
	if (accept_one)
		accept_client(s);
	now = mono_ns();
	for (struct client *c = s->clients; c; c = c->next)
		client_timeouts(c, now);
	sweep(s);
}
