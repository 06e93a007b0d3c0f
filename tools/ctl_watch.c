/* vmdefrag-ctl watch: the pool at a glance, redrawn every second - free
 * blocks per order as bars with the kernel's fragmentation indices, memory
 * and huge ranges, the last compaction and the one going on. Plain ANSI:
 * on a terminal the screen is redrawn and q quits; otherwise a frame is
 * printed each second (or once, with --once). */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "tools/ctl_watch.h"

#define BAR_WIDTH	40

struct watch {
	struct qmp_client *c;
	const char *socket;
	struct json_object *last_end;	/* the last COMPACTION_END's data */
	struct json_object *running;	/* the newest BEGIN or PROGRESS of a run going on */
	char err[512];
};

static volatile sig_atomic_t watch_stop;

static void on_signal(int sig)
{
	(void)sig;
	watch_stop = 1;
}

static int64_t get_int(struct json_object *o, const char *key)
{
	struct json_object *v;

	return o && json_object_object_get_ex(o, key, &v) && v ? json_object_get_int64(v) : -1;
}

static const char *get_str(struct json_object *o, const char *key)
{
	struct json_object *v;

	return o && json_object_object_get_ex(o, key, &v) && v ? json_object_get_string(v) : "-";
}

/* A query's return value (a reference of its own), or NULL with w->err. */
static struct json_object *query(struct watch *w, const char *cmd)
{
	struct json_object *reply = qmp_execute(w->c, cmd, NULL, w->err, sizeof(w->err)), *ret;

	if (!reply)
		return NULL;
	if (!json_object_object_get_ex(reply, "return", &ret)) {
		snprintf(w->err, sizeof(w->err), "%s: %s", cmd, json_object_to_json_string(reply));
		json_object_put(reply);
		return NULL;
	}
	json_object_get(ret);
	json_object_put(reply);
	return ret;
}

/* Compaction events seen while waiting: keep the last end and the run going on. */
static void on_event(void *arg, struct json_object *event)
{
	struct watch *w = arg;
	struct json_object *name, *data;
	const char *what;

	if (!json_object_object_get_ex(event, "event", &name) ||
	    !json_object_object_get_ex(event, "data", &data))
		return;
	what = json_object_get_string(name);
	if (!strcmp(what, "COMPACTION_END")) {
		json_object_put(w->last_end);
		w->last_end = json_object_get(data);
		if (w->running && get_int(w->running, "run") == get_int(data, "run")) {
			json_object_put(w->running);
			w->running = NULL;
		}
	} else if (!strcmp(what, "COMPACTION_BEGIN") || !strcmp(what, "COMPACTION_PROGRESS")) {
		json_object_put(w->running);
		w->running = json_object_get(data);
	}
}

static void bar(FILE *out, uint64_t n, uint64_t of)
{
	unsigned int len = of ? (unsigned int)((n * BAR_WIDTH + of - 1) / of) : 0;

	for (unsigned int i = 0; i < BAR_WIDTH; i++)
		fputc(i < len ? '#' : ' ', out);
}

static void describe_run(FILE *out, const char *label, struct json_object *d)
{
	fprintf(out, "%s run %ld: %s, %s, ", label, (long)get_int(d, "run"), get_str(d, "policy"),
		get_str(d, "trigger"));
	if (get_int(d, "order") < 0)
		fputs("whole pool", out);
	else
		fprintf(out, "order %ld", (long)get_int(d, "order"));
}

/* One frame: false when a query failed (w->err says why). */
static bool draw(struct watch *w, FILE *out, bool tty)
{
	struct json_object *mem = query(w, "query-memory"), *buddy = NULL, *extfrag = NULL, *unusable = NULL;
	struct json_object *blocks, *ext, *unu;
	uint64_t free_frames[16] = { 0 }, total_free = 0;
	size_t orders = 0;
	char now[32];
	time_t t = time(NULL);
	bool ok = false;

	if (!mem || !(buddy = query(w, "query-buddyinfo")) || !(extfrag = query(w, "query-extfrag")) ||
	    !(unusable = query(w, "query-unusable")))
		goto out;
	if (!json_object_object_get_ex(buddy, "free-blocks", &blocks) ||
	    !json_object_object_get_ex(extfrag, "index", &ext) ||
	    !json_object_object_get_ex(unusable, "index", &unu)) {
		snprintf(w->err, sizeof(w->err), "a query's reply lacks its numbers");
		goto out;
	}
	orders = json_object_array_length(blocks);
	if (orders > 16)
		orders = 16;
	for (size_t o = 0; o < orders; o++) {
		free_frames[o] = (uint64_t)json_object_get_int64(json_object_array_get_idx(blocks, o)) << o;
		total_free += free_frames[o];
	}
	strftime(now, sizeof(now), "%H:%M:%S", localtime(&t));
	if (tty)
		fputs("\033[H\033[2J", out);
	fprintf(out, "vmdefrag  %s  %s%s\n\n", w->socket, now, tty ? "  (q quits)" : "");
	fprintf(out, "memory  %ld of %ld frames used (%ld%%), %ld pinned",
		(long)get_int(mem, "used-frames"), (long)get_int(mem, "pool-frames"),
		get_int(mem, "pool-frames") > 0 ?
		(long)(get_int(mem, "used-frames") * 100 / get_int(mem, "pool-frames")) : 0L,
		(long)get_int(mem, "pinned-frames"));
	if (get_int(mem, "guest-frames") >= 0)
		fprintf(out, "; guest %ld of %ld frames populated, %ld mappings",
			(long)get_int(mem, "guest-populated-frames"), (long)get_int(mem, "guest-frames"),
			(long)get_int(mem, "guest-mappings"));
	fprintf(out, "\nhuge    %ld 2M ranges huge", (long)get_int(mem, "huge-ranges"));
	if (get_int(mem, "host-huge-ranges") >= 0)
		fprintf(out, " (the host's page tables: %ld)", (long)get_int(mem, "host-huge-ranges"));
	fprintf(out, "; %ld free 2M blocks; fragmentation score %ld\n\n",
		(long)get_int(mem, "free-2m-blocks"), (long)get_int(mem, "fragmentation-score"));
	fprintf(out, "order  free blocks  free frames in them%*s  extfrag  unusable\n", BAR_WIDTH - 18, "");
	for (size_t o = 0; o < orders; o++) {
		fprintf(out, "%5zu  %11ld  ", o, (long)json_object_get_int64(json_object_array_get_idx(blocks, o)));
		bar(out, free_frames[o], total_free);
		fprintf(out, "  %7.3f  %8.3f\n", json_object_get_double(json_object_array_get_idx(ext, o)),
			json_object_get_double(json_object_array_get_idx(unu, o)));
	}
	fputc('\n', out);
	if (w->running) {
		describe_run(out, "compacting:", w->running);
		if (get_int(w->running, "percent") >= 0)
			fprintf(out, ", %ld%%, %ld frames moved", (long)get_int(w->running, "percent"),
				(long)get_int(w->running, "frames-moved"));
		fputc('\n', out);
	}
	if (w->last_end) {
		describe_run(out, "last compaction:", w->last_end);
		fprintf(out, ", %s: %ld frames moved in %.2f s, free 2M blocks %ld -> %ld\n",
			get_str(w->last_end, "result"), (long)get_int(w->last_end, "frames-moved"),
			get_int(w->last_end, "duration-us") / 1e6, (long)get_int(w->last_end, "free-2m-blocks-before"),
			(long)get_int(w->last_end, "free-2m-blocks-after"));
	} else {
		fputs("last compaction: none seen yet\n", out);
	}
	if (!tty)
		fputc('\n', out);
	fflush(out);
	ok = true;
out:
	json_object_put(mem);
	json_object_put(buddy);
	json_object_put(extfrag);
	json_object_put(unusable);
	return ok;
}

/* Waits up to ms for the events that come meanwhile and for q on stdin
 * (when it is a terminal); true when q was pressed. */
static bool wait_a_while(struct watch *w, int ms, bool keys)
{
	struct json_object *event;
	struct timespec t0, t1;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		struct pollfd fds[2] = { { qmp_fd(w->c), POLLIN, 0 }, { STDIN_FILENO, POLLIN, 0 } };
		int left;

		while ((event = qmp_next_event(w->c, 0))) {
			on_event(w, event);
			json_object_put(event);
		}
		clock_gettime(CLOCK_MONOTONIC, &t1);
		left = ms - (int)((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000);
		if (left <= 0 || watch_stop)
			return false;
		if (poll(fds, keys ? 2 : 1, left) < 0 && errno != EINTR)
			return false;
		if (keys && (fds[1].revents & POLLIN)) {
			char ch;

			if (read(STDIN_FILENO, &ch, 1) == 1 && (ch == 'q' || ch == 'Q'))
				return true;
		}
		if (fds[0].revents & (POLLHUP | POLLERR))
			return false;
	}
}

int ctl_watch(struct qmp_client *c, const char *socket, bool once)
{
	struct watch w = { .c = c, .socket = socket };
	bool tty = isatty(STDOUT_FILENO) && !once, keys = tty && isatty(STDIN_FILENO);
	struct sigaction sa = { .sa_handler = on_signal };
	struct termios saved, raw;
	int rc = 0;

	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	qmp_set_event_handler(c, on_event, &w);
	if (keys && !tcgetattr(STDIN_FILENO, &saved)) {
		raw = saved;
		raw.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
		raw.c_cc[VMIN] = 0;
		raw.c_cc[VTIME] = 0;
		tcsetattr(STDIN_FILENO, TCSANOW, &raw);
	} else {
		keys = false;
	}
	if (tty)
		fputs("\033[?25l", stdout);	/* no cursor blinking over the bars */
	while (!watch_stop) {
		if (!draw(&w, stdout, tty)) {
			fprintf(stderr, "vmdefrag-ctl: %s\n", w.err);
			rc = 1;
			break;
		}
		if (once || wait_a_while(&w, 1000, keys))
			break;
	}
	if (tty)
		fputs("\033[?25h", stdout);
	if (keys)
		tcsetattr(STDIN_FILENO, TCSANOW, &saved);
	json_object_put(w.last_end);
	json_object_put(w.running);
	return rc;
}
