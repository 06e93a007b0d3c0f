/* vmdefrag-ctl: runs one command on a VMM's control socket and prints the
 * reply, or follows the socket's events; key=value words become the
 * command's arguments. */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lib/cli.h"
#include "mm/clock.h"
#include "tools/ctl_watch.h"
#include "tools/qmp_client.h"

#define CTL_JSON_COMPACT	(JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)
#define CTL_JSON_PRETTY		(JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED | \
				 JSON_C_TO_STRING_NOSLASHESCAPE)

struct ctl {
	bool json;
	const char *socket;
	const char *command;		/* NULL with --events */
	char **words;			/* key=value ... */
	int nr_words;
	struct json_object *args;	/* built from words; NULL if none */
	long seconds;			/* --events duration, -1: until interrupted */
	bool watch, once;		/* watch SOCKET [--once] */
};

static volatile sig_atomic_t ctl_stop;

static void usage(FILE *f)
{
	fprintf(f,
		"usage: vmdefrag-ctl [--json] SOCKET COMMAND [key=value ...]\n"
		"       vmdefrag-ctl [--json] SOCKET --events [SECONDS]\n"
		"       vmdefrag-ctl watch SOCKET [--once]\n"
		"       vmdefrag-ctl --help | --version\n"
		"\n"
		"Runs COMMAND on the VMM's control socket and prints its reply, or\n"
		"prints events as they arrive for SECONDS (default: until interrupted).\n"
		"A value that is an integer is sent as a number, true/false as booleans,\n"
		"anything else as a string. --json prints the reply's return value as\n"
		"JSON (events: one JSON object per line).\n"
		"watch redraws the pool's state every second (q quits): free blocks per\n"
		"order, fragmentation indices, memory, huge ranges, compactions.\n"
		"While a compact runs, its progress goes to stderr: a bar on a terminal,\n"
		"a line per progress event otherwise (not with --json).\n");
}

static int __attribute__((format(printf, 1, 2))) usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("vmdefrag-ctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\n", stderr);
	usage(stderr);
	return 2;
}

static bool is_integer(const char *s)
{
	if (*s == '-')
		s++;
	if (!*s)
		return false;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

/* NULL only when an integer does not fit in 64 bits. */
static struct json_object *parse_value(const char *s)
{
	long long v;

	if (!strcmp(s, "true"))
		return json_object_new_boolean(1);
	if (!strcmp(s, "false"))
		return json_object_new_boolean(0);
	if (!is_integer(s))
		return json_object_new_string(s);
	errno = 0;
	v = strtoll(s, NULL, 10);
	if (errno == ERANGE)
		return NULL;
	return json_object_new_int64(v);
}

/* Adds one key=value word to args; 0, or the exit code of a usage error. */
static int add_argument(struct json_object *args, const char *word)
{
	const char *eq = strchr(word, '=');
	struct json_object *value;
	char *key;

	if (!eq || eq == word)
		return usage_error("expected key=value, got \"%s\"", word);
	key = strndup(word, (size_t)(eq - word));
	if (!key) {
		fprintf(stderr, "vmdefrag-ctl: out of memory\n");
		return 1;
	}
	if (json_object_object_get_ex(args, key, NULL)) {
		free(key);
		return usage_error("argument given twice: \"%s\"", word);
	}
	value = parse_value(eq + 1);
	if (!value) {
		free(key);
		return usage_error("integer out of range: \"%s\"", word);
	}
	json_object_object_add(args, key, value);
	free(key);
	return 0;
}

/* Before connecting, so a typo never reaches the server. No words, no
 * "arguments" in the request. */
static int build_arguments(struct ctl *ctl)
{
	struct json_object *args;
	int i, rc;

	if (!ctl->nr_words)
		return 0;
	args = json_object_new_object();
	for (i = 0; i < ctl->nr_words; i++) {
		rc = add_argument(args, ctl->words[i]);
		if (rc) {
			json_object_put(args);
			return rc;
		}
	}
	ctl->args = args;
	return 0;
}

/* Strings bare, anything else as compact JSON. */
static void print_value(struct json_object *v)
{
	if (json_object_is_type(v, json_type_string))
		fwrite(json_object_get_string(v), 1, (size_t)json_object_get_string_len(v), stdout);
	else
		fputs(json_object_to_json_string_ext(v, CTL_JSON_COMPACT), stdout);
}

static void print_readable(struct json_object *ret)
{
	struct json_object *text;

	/* Kernel-format views come as {"text": ...}: shown exactly as the
	 * kernel would, so existing parsers of /proc files work on them. */
	if (json_object_object_get_ex(ret, "text", &text) &&
	    json_object_is_type(text, json_type_string)) {
		print_value(text);
		return;
	}
	if (!json_object_is_type(ret, json_type_object)) {
		print_value(ret);
		putchar('\n');
		return;
	}
	json_object_object_foreach(ret, key, val) {
		printf("%s: ", key);
		print_value(val);
		putchar('\n');
	}
}

static int report_error(const struct ctl *ctl, struct json_object *error)
{
	struct json_object *cls = NULL, *desc = NULL;

	if (ctl->json) {
		struct json_object *wrap = json_object_new_object();

		json_object_object_add(wrap, "error", json_object_get(error));
		printf("%s\n", json_object_to_json_string_ext(wrap, CTL_JSON_PRETTY));
		json_object_put(wrap);
	}
	json_object_object_get_ex(error, "class", &cls);
	json_object_object_get_ex(error, "desc", &desc);
	fprintf(stderr, "vmdefrag-ctl: %s: %s\n",
		cls ? json_object_get_string(cls) : "GenericError",
		desc ? json_object_get_string(desc) : "(no description)");
	return 1;
}

static int print_reply(const struct ctl *ctl, struct json_object *reply)
{
	struct json_object *ret, *error;

	if (json_object_object_get_ex(reply, "error", &error))
		return report_error(ctl, error);
	json_object_object_get_ex(reply, "return", &ret);
	if (ctl->json)
		printf("%s\n", json_object_to_json_string_ext(ret, CTL_JSON_PRETTY));
	else
		print_readable(ret);
	return 0;
}

/* ---- a compaction's progress ---- */

/* Which run is ours: the first command run to begin after we asked (the
 * server runs commands one at a time, in turn). */
struct progress {
	bool tty;
	int64_t run;			/* -1 until its BEGIN */
	bool drawn;			/* a bar is on the line */
};

static int64_t data_int(struct json_object *data, const char *key)
{
	struct json_object *v;

	return json_object_object_get_ex(data, key, &v) ? json_object_get_int64(v) : 0;
}

static void on_compaction_event(void *arg, struct json_object *event)
{
	struct progress *p = arg;
	struct json_object *name, *data, *trigger;
	const char *what;

	if (!json_object_object_get_ex(event, "event", &name) ||
	    !json_object_object_get_ex(event, "data", &data))
		return;
	what = json_object_get_string(name);
	if (!strcmp(what, "COMPACTION_BEGIN") && p->run < 0 &&
	    json_object_object_get_ex(data, "trigger", &trigger) &&
	    !strcmp(json_object_get_string(trigger), "command")) {
		p->run = data_int(data, "run");
		return;
	}
	if (data_int(data, "run") != p->run)
		return;
	if (!strcmp(what, "COMPACTION_PROGRESS")) {
		int64_t pct = data_int(data, "percent"), width = 30, full = pct * width / 100;
		char bar[64];

		memset(bar, '#', (size_t)full);
		memset(bar + full, '.', (size_t)(width - full));
		bar[width] = '\0';
		fprintf(stderr, p->tty ? "\r[%s] %3ld%%  %ld frames moved  %ld free 2M blocks  %.1f s " :
			"%.0s%ld%% %ld frames moved, %ld free 2M blocks, %.1f s\n",
			bar, (long)pct, (long)data_int(data, "frames-moved"), (long)data_int(data, "free-2m-blocks"),
			data_int(data, "duration-us") / 1e6);
		p->drawn = p->tty;
	} else if (!strcmp(what, "COMPACTION_END") && p->drawn) {
		fputs("\r\033[K", stderr);	/* the result is printed next */
		p->drawn = false;
	}
}

static int run_command(const struct ctl *ctl, struct qmp_client *c)
{
	struct progress progress = { isatty(STDERR_FILENO), -1, false };
	struct json_object *reply;
	char err[512];
	int rc;

	if (!strcmp(ctl->command, "compact") && !ctl->json)
		qmp_set_event_handler(c, on_compaction_event, &progress);
	reply = qmp_execute(c, ctl->command, ctl->args, err, sizeof(err));
	if (progress.drawn)
		fputs("\r\033[K", stderr);
	if (!reply) {
		fprintf(stderr, "vmdefrag-ctl: %s\n", err);
		return 1;
	}
	rc = print_reply(ctl, reply);
	json_object_put(reply);
	return rc;
}

/* A bare word for plain strings; JSON where spaces or quotes would make
 * the line ambiguous. */
static void print_event_value(struct json_object *v)
{
	const char *s = json_object_get_string(v);

	if (json_object_is_type(v, json_type_string) && *s && !strpbrk(s, " \t\r\n\"="))
		fputs(s, stdout);
	else
		fputs(json_object_to_json_string_ext(v, CTL_JSON_COMPACT), stdout);
}

static void print_event(const struct ctl *ctl, struct json_object *event)
{
	struct json_object *name, *data;

	if (ctl->json) {
		printf("%s\n", json_object_to_json_string_ext(event, CTL_JSON_COMPACT));
		return;
	}
	json_object_object_get_ex(event, "event", &name);
	fputs(json_object_get_string(name), stdout);
	if (!json_object_object_get_ex(event, "data", &data)) {
		putchar('\n');
		return;
	}
	if (!json_object_is_type(data, json_type_object)) {
		printf(" %s\n", json_object_to_json_string_ext(data, CTL_JSON_COMPACT));
		return;
	}
	json_object_object_foreach(data, key, val) {
		printf(" %s=", key);
		print_event_value(val);
	}
	putchar('\n');
}

static int64_t now_ms(void)
{
	return (int64_t)(mono_ns() / 1000000);
}

static void on_signal(int sig)
{
	(void)sig;
	ctl_stop = 1;
}

/* No SA_RESTART, so the wait returns EINTR; SA_RESETHAND, so a second
 * signal kills us even if the first one raced with the wait. */
static void catch_signals(void)
{
	struct sigaction sa = { .sa_handler = on_signal, .sa_flags = SA_RESETHAND };

	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

/* How long the next wait may be: -1 no limit, 0 when time is up. */
static int wait_ms(int64_t deadline)
{
	int64_t left;

	if (deadline < 0)
		return -1;
	left = deadline - now_ms();
	if (left <= 0)
		return 0;
	return left > INT32_MAX ? INT32_MAX : (int)left;
}

static int run_events(const struct ctl *ctl, struct qmp_client *c)
{
	int64_t deadline = ctl->seconds < 0 ? -1 : now_ms() + ctl->seconds * 1000;
	struct json_object *event;
	int timeout;

	catch_signals();
	while (!ctl_stop) {
		timeout = wait_ms(deadline);
		if (!timeout)
			break;
		event = qmp_next_event(c, timeout);
		if (!event) {
			if (errno == ETIMEDOUT || errno == EINTR)
				continue;
			fprintf(stderr, "vmdefrag-ctl: %s\n",
				errno == ECONNRESET ? "server closed the connection" :
				errno == EPROTO ? "protocol error from server" : strerror(errno));
			return 1;
		}
		print_event(ctl, event);
		json_object_put(event);
		/* Someone may be watching through a pipe. */
		fflush(stdout);
	}
	return 0;
}

static int parse_seconds(const char *s, long *out)
{
	char *end;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	*out = strtol(s, &end, 10);
	if (errno || *end || *out > INT32_MAX / 1000)
		return -1;
	return 0;
}

static int parse_events(struct ctl *ctl, int argc, char **argv, int i)
{
	ctl->seconds = -1;
	if (i == argc)
		return 0;
	if (i + 1 < argc)
		return usage_error("--events takes at most one argument, got \"%s\"", argv[i + 1]);
	if (parse_seconds(argv[i], &ctl->seconds))
		return usage_error("--events: not a number of seconds: \"%s\"", argv[i]);
	return 0;
}

/* 0, or the exit code (help: 0 after printing; errors: 2). */
static int parse_args(struct ctl *ctl, int argc, char **argv, bool *done)
{
	int i = 1;

	*done = false;
	for (; i < argc && argv[i][0] == '-'; i++) {
		if (!strcmp(argv[i], "--json")) {
			ctl->json = true;
		} else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			usage(stdout);
			*done = true;
			return 0;
		} else if (!strcmp(argv[i], "--version")) {
			*done = true;
			return cli_version("vmdefrag-ctl");
		} else {
			return usage_error("unknown option \"%s\"", argv[i]);
		}
	}
	if (i < argc && !strcmp(argv[i], "watch")) {
		if (i + 1 == argc)
			return usage_error("watch: missing SOCKET");
		ctl->watch = true;
		ctl->socket = argv[i + 1];
		for (i += 2; i < argc; i++) {
			if (strcmp(argv[i], "--once"))
				return usage_error("watch: unknown argument \"%s\"", argv[i]);
			ctl->once = true;
		}
		return 0;
	}
	if (argc - i < 2)
		return usage_error("missing SOCKET or COMMAND");
	ctl->socket = argv[i++];
	if (!strcmp(argv[i], "--events"))
		return parse_events(ctl, argc, argv, i + 1);
	if (argv[i][0] == '-')
		return usage_error("unknown option \"%s\"", argv[i]);
	ctl->command = argv[i++];
	ctl->words = argv + i;
	ctl->nr_words = argc - i;
	return 0;
}

int main(int argc, char **argv)
{
	struct ctl ctl = { 0 };
	struct qmp_client *c;
	char err[512];
	bool done;
	int rc;

	rc = parse_args(&ctl, argc, argv, &done);
	if (rc || done)
		return rc;
	rc = build_arguments(&ctl);
	if (rc)
		return rc;
	c = qmp_connect(ctl.socket, err, sizeof(err));
	if (!c) {
		fprintf(stderr, "vmdefrag-ctl: cannot connect to %s: %s\n", ctl.socket, err);
		json_object_put(ctl.args);
		return 1;
	}
	rc = ctl.watch ? ctl_watch(c, ctl.socket, ctl.once) :
	     ctl.command ? run_command(&ctl, c) : run_events(&ctl, c);
	qmp_close(c);
	json_object_put(ctl.args);
	return rc;
}
