/* Control socket server: sockets, sessions, the compaction worker. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "vmm/qmp.h"
#include "vmm/server.h"
#include "vmm/vm.h"

#define MAX_OUTPUT	(32u << 20)	/* a client that reads nothing is dropped */

struct client {
	int fd;
	struct qmp_session qmp;
	char *out;
	size_t out_len, out_cap;
	bool eof;			/* the peer shut its side: answer, then close */
	bool dead;
	struct client *next;
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
	vm_stop(server_of(ctl)->vm, 0);
}

static void op_submit(struct control *ctl, struct compact_job *job)
{
	struct server *s = server_of(ctl);

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

/* ---- sessions ---- */

static void client_send(void *arg, const char *text, size_t len)
{
	struct client *c = arg;

	if (c->dead)
		return;
	if (c->out_len + len > MAX_OUTPUT) {
		c->dead = true;
		return;
	}
	if (c->out_len + len > c->out_cap) {
		size_t cap = (c->out_len + len) * 2;
		char *out = realloc(c->out, cap);

		if (!out) {
			c->dead = true;
			return;
		}
		c->out = out;
		c->out_cap = cap;
	}
	memcpy(c->out + c->out_len, text, len);
	c->out_len += len;
}

static void accept_client(struct server *s)
{
	int fd = accept4(s->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	struct client *c;

	if (fd < 0)
		return;
	if (s->nr_clients >= SERVER_MAX_CLIENTS) {
		static const char busy[] = "{\"error\": {\"class\": \"GenericError\", "
					   "\"desc\": \"Too many clients\"}}\r\n";

		if (write(fd, busy, sizeof(busy) - 1) < 0) {
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
	qmp_session_init(&c->qmp, &s->ctl, ++s->next_session, client_send, c);
	qmp_send_greeting(&c->qmp);
	c->next = s->clients;
	s->clients = c;
	s->nr_clients++;
}

static void read_client(struct client *c)
{
	char buf[65536];
	ssize_t n = read(c->fd, buf, sizeof(buf));

	if (n == 0) {
		c->eof = true;
		return;
	}
	if (n < 0 && errno != EAGAIN && errno != EINTR) {
		c->dead = true;
		return;
	}
	if (n > 0)
		qmp_session_feed(&c->qmp, buf, (size_t)n);
}

static void write_client(struct client *c)
{
	ssize_t n;

	if (!c->out_len)
		return;
	n = send(c->fd, c->out, c->out_len, MSG_NOSIGNAL);
	if (n < 0) {
		if (errno != EAGAIN && errno != EINTR)
			c->dead = true;
		return;
	}
	memmove(c->out, c->out + n, c->out_len - (size_t)n);
	c->out_len -= (size_t)n;
}

static void drop_dead(struct server *s)
{
	for (struct client **p = &s->clients; *p;) {
		struct client *c = *p;

		bool finished = (c->qmp.closing || (c->eof && !c->qmp.pending_replies)) && !c->out_len;

		if (c->dead || finished) {
			*p = c->next;
			qmp_session_destroy(&c->qmp);
			close(c->fd);
			free(c->out);
			free(c);
			s->nr_clients--;
		} else {
			p = &c->next;
		}
	}
}

/* Events and finished jobs from other threads, out to the clients. */
static void deliver(struct server *s)
{
	struct compact_job *done;
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
			if (c->qmp.negotiated && !c->dead)
				qmp_send(&c->qmp, json_object_get(events[i]));
		json_object_put(events[i]);
	}
	free(events);
	while (done) {
		struct compact_job *job = done;

		done = job->next;
		/* the asker may have gone meanwhile: then the result goes nowhere */
		for (struct client *c = s->clients; c; c = c->next) {
			if (c->qmp.id != job->session_id)
				continue;
			c->qmp.pending_replies--;
			if (!c->dead)
				qmp_send(&c->qmp, qmp_make_return(control_job_result(job), job->id));
		}
		json_object_put(job->id);
		free(job);
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

void server_flush(struct server *s)
{
	deliver(s);
	for (struct client *c = s->clients; c; c = c->next) {
		int flags = fcntl(c->fd, F_GETFL);

		/* a last, blocking write: the reply to quit must get out */
		fcntl(c->fd, F_SETFL, flags & ~O_NONBLOCK);
		while (c->out_len && !c->dead)
			write_client(c);
	}
}

void server_stop(struct server *s)
{
	if (s->worker_running) {
		pthread_mutex_lock(&s->lock);
		s->worker_stop = true;
		pthread_cond_signal(&s->work);
		pthread_mutex_unlock(&s->lock);
		pthread_join(s->worker, NULL);
		s->worker_running = false;
	}
	for (struct client *c = s->clients; c; c = c->next)
		c->dead = true;
	drop_dead(s);
	while (s->todo) {
		struct compact_job *job = s->todo;

		s->todo = job->next;
		json_object_put(job->id);
		free(job);
	}
	while (s->done) {
		struct compact_job *job = s->done;

		s->done = job->next;
		json_object_put(job->id);
		free(job);
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

int server_pollfds(struct server *s, struct pollfd *fds, int max)
{
	int n = 0;

	if (n < max)
		fds[n++] = (struct pollfd){ s->wake_efd, POLLIN, 0 };
	if (s->listen_fd >= 0 && n < max)
		fds[n++] = (struct pollfd){ s->listen_fd, POLLIN, 0 };
	for (struct client *c = s->clients; c && n < max; c = c->next)
		fds[n++] = (struct pollfd){ c->fd,
					    (short)((c->eof ? 0 : POLLIN) | (c->out_len ? POLLOUT : 0)), 0 };
	return n;
}

void server_handle(struct server *s, const struct pollfd *fds, int n)
{
	for (int i = 0; i < n; i++) {
		if (!fds[i].revents)
			continue;
		if (fds[i].fd == s->wake_efd) {
			deliver(s);
			continue;
		}
		if (fds[i].fd == s->listen_fd) {
			accept_client(s);
			continue;
		}
		for (struct client *c = s->clients; c; c = c->next) {
			if (c->fd != fds[i].fd)
				continue;
			if (fds[i].revents & (POLLIN | POLLHUP | POLLERR))
				read_client(c);
			if (!c->dead)
				write_client(c);
		}
	}
	drop_dead(s);
}
