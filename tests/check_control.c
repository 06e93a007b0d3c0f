/* Integration: host-side defrag behind running guests, driven through the
 * control socket, and the socket's behaviour under bad input. */
#include <check.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "guest/include/vmdefrag_abi.h"
#include "tests/check_run.h"
#include "tests/vmm_harness.h"
#include "tools/qmp_client.h"

static char sock[96], out[96];
static pid_t vmm;

static void start(const char *guest, const char *args, const char *mem)
{
	snprintf(sock, sizeof(sock), "/tmp/vmdefrag-test-%d.sock", getpid());
	snprintf(out, sizeof(out), "/tmp/vmdefrag-test-%d.out", getpid());
	vmm = spawn_vmm(out, "run", guest_path(guest), "--mem", mem, "--socket", sock,
			"--proactiveness", "0", "--args", args, NULL);
	ck_assert_msg(wait_for_socket(sock, 60) == 0, "no control socket at %s", sock);
}

static void finish(int expect_code)
{
	int code = wait_vmm(vmm, 120);

	ck_assert_msg(code == expect_code, "vmdefrag exited %d, expected %d", code, expect_code);
	unlink(out);
}

static struct qmp_client *connect_ok(void)
{
	char err[256];
	struct qmp_client *c = qmp_connect(sock, err, sizeof(err));

	ck_assert_msg(c != NULL, "connect: %s", err);
	return c;
}

/* Executes cmd (args as JSON text or NULL); returns the "return" value,
 * failing the test on an error reply. Caller puts the reply. */
static struct json_object *exec_ok(struct qmp_client *c, const char *cmd, const char *args,
				   struct json_object **reply)
{
	struct json_object *a = args ? json_tokener_parse(args) : NULL, *ret;
	char err[256];

	*reply = qmp_execute(c, cmd, a, err, sizeof(err));
	json_object_put(a);
	ck_assert_msg(*reply != NULL, "%s: %s", cmd, err);
	ck_assert_msg(json_object_object_get_ex(*reply, "return", &ret), "%s: %s", cmd,
		      json_object_to_json_string(*reply));
	return ret;
}

static int64_t member(struct json_object *o, const char *key)
{
	struct json_object *v;

	ck_assert_msg(json_object_object_get_ex(o, key, &v), "no %s in %s", key, json_object_to_json_string(o));
	return json_object_get_int64(v);
}

static int64_t free_2m_blocks(struct qmp_client *c)
{
	struct json_object *reply, *ret = exec_ok(c, "query-buddyinfo", NULL, &reply), *fb;
	int64_t n;

	json_object_object_get_ex(ret, "free-blocks", &fb);
	n = json_object_get_int64(json_object_array_get_idx(fb, 9)) +
	    2 * json_object_get_int64(json_object_array_get_idx(fb, 10));
	json_object_put(reply);
	return n;
}

/* Acceptance: a 1 GiB guest fragments its memory, then writes and checks
 * every kept page round after round (re-fragmenting between rounds) while
 * the test drives compactions - full and order 9, both policies - moving
 * at least 100,000 frames; the guest sees no bad page. */
START_TEST(test_defrag_under_memtest)
{
	static const char *const modes[][2] = {
		{ NULL, "twoscanner" }, { "{\"order\":9}", "twoscanner" },
		{ NULL, "minmove" }, { "{\"order\":9}", "minmove" },
	};
	struct qmp_client *c;
	struct json_object *reply, *ret;
	int64_t moved = 0;
	int compactions = 0, rounds;

	start("fragment", "loops=0 churn=1 seed=5", "1G");
	ck_assert_int_ge(wait_for_output(out, "fragment_discarded_pages", 1, 120), 1);
	c = connect_ok();
	ck_assert_int_eq(free_2m_blocks(c), 0);
	while (compactions < 10 || moved < 100000) {
		char args[64];

		ck_assert_msg(compactions < 40, "only %ld frames moved in 40 compactions", (long)moved);
		snprintf(args, sizeof(args), "{%s%s\"policy\":\"%s\"}",
			 modes[compactions % 4][0] ? "\"order\":9" : "",
			 modes[compactions % 4][0] ? "," : "", modes[compactions % 4][1]);
		ret = exec_ok(c, "compact", args, &reply);
		moved += member(ret, "frames-moved");
		json_object_put(reply);
		compactions++;
		/* let the guest churn (and so fragment) between some of them */
		if (compactions % 2 == 0) {
			rounds = wait_for_output(out, "memtest_round_bad_pages", 0, 0);
			wait_for_output(out, "memtest_round_bad_pages", rounds + 1, 120);
		}
	}
	/* two full rounds after the last move, all pages checked */
	rounds = wait_for_output(out, "memtest_round_bad_pages", 0, 0);
	ck_assert_int_ge(wait_for_output(out, "memtest_round_bad_pages", rounds + 2, 180), rounds + 2);
	ck_assert_int_eq(wait_for_output(out, "memtest_round_bad_pages 0", 0, 0),
			 wait_for_output(out, "memtest_round_bad_pages", 0, 0));
	ck_assert_int_eq(wait_for_output(out, "expected 0x", 0, 0), 0);
	ret = exec_ok(c, "compact", NULL, &reply);
	json_object_put(reply);
	ck_assert_int_gt(free_2m_blocks(c), 0);
	ret = exec_ok(c, "query-vmstat", NULL, &reply);
	ck_assert_int_ge(member(ret, "pgmigrate_success"), 100000);
	json_object_put(reply);
	exec_ok(c, "quit", NULL, &reply);
	json_object_put(reply);
	qmp_close(c);
	finish(0);
}
END_TEST

/* ---- bad input on a live socket ---- */

static int raw_connect(void)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", sock);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
	return fd;
}

/* Reads until needle shows up (returns 1), EOF (0) or timeout (-1). */
static int raw_expect(int fd, const char *needle, int timeout_ms)
{
	static char buf[1 << 20];
	size_t len = 0;

	while (len < sizeof(buf) - 1) {
		struct pollfd p = { fd, POLLIN, 0 };
		ssize_t n;

		if (poll(&p, 1, timeout_ms) <= 0)
			return -1;
		n = read(fd, buf + len, sizeof(buf) - 1 - len);
		if (n <= 0)
			return 0;
		len += (size_t)n;
		buf[len] = '\0';
		if (strstr(buf, needle))
			return 1;
	}
	return -1;
}

static void raw_send_n(int fd, const char *text, size_t len)
{
	ssize_t n = send(fd, text, len, MSG_NOSIGNAL);

	ck_assert_msg(n == (ssize_t)len, "sent %zd of %zu bytes: %s", n, len, n < 0 ? strerror(errno) : "");
}

static void raw_send(int fd, const char *text)
{
	raw_send_n(fd, text, strlen(text));
}

/* Reads and drops until the peer's orderly EOF (0), a reset or other
 * error (-errno), or timeout (-ETIMEDOUT). */
static int raw_eof(int fd, int timeout_ms)
{
	char buf[65536];

	for (;;) {
		struct pollfd p = { fd, POLLIN, 0 };
		ssize_t n;

		if (poll(&p, 1, timeout_ms) <= 0)
			return -ETIMEDOUT;
		n = read(fd, buf, sizeof(buf));
		if (n == 0)
			return 0;
		if (n < 0)
			return -errno;
	}
}

/* Everything the peer sends until needle shows up, or NULL (EOF, timeout).
 * The caller frees it. */
static char *raw_read_until(int fd, const char *needle, int timeout_ms)
{
	size_t len = 0, cap = 1 << 16;
	char *buf = malloc(cap);

	for (;;) {
		struct pollfd p = { fd, POLLIN, 0 };
		ssize_t n;

		if (len + 4096 > cap)
			buf = realloc(buf, cap *= 2);
		if (poll(&p, 1, timeout_ms) <= 0)
			break;
		n = read(fd, buf + len, cap - len - 1);
		if (n <= 0)
			break;
		len += (size_t)n;
		buf[len] = '\0';
		if (strstr(buf, needle))
			return buf;
	}
	free(buf);
	return NULL;
}

static int count(const char *text, const char *needle)
{
	int n = 0;

	for (const char *p = text; (p = strstr(p, needle)); p++)
		n++;
	return n;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* A negotiated raw connection. */
static int raw_session(void)
{
	int fd = raw_connect();

	ck_assert_int_eq(raw_expect(fd, "\"QMP\"", 10000), 1);
	raw_send(fd, "{\"execute\":\"qmp_capabilities\"}\r\n");
	ck_assert_int_eq(raw_expect(fd, "{\"return\":{}}", 10000), 1);
	return fd;
}

static void quit_and_finish(void)
{
	struct qmp_client *c = connect_ok();
	struct json_object *reply;

	exec_ok(c, "quit", NULL, &reply);
	json_object_put(reply);
	qmp_close(c);
	finish(0);
}

START_TEST(test_bad_input_live)
{
	struct qmp_client *watch;
	struct json_object *reply, *ret;
	struct stat st;
	int fd, fds[100];
	size_t big = 1 << 20;
	char *line;

	start("fragment", "loops=0", "256M");
	ck_assert_int_eq(stat(sock, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0600);
	watch = connect_ok();

	fd = raw_connect();
	ck_assert_int_eq(raw_expect(fd, "\"QMP\"", 5000), 1);
	raw_send(fd, "{\"execute\":\"query-status\"}\r\n");
	ck_assert_int_eq(raw_expect(fd, "Expecting capabilities negotiation", 5000), 1);
	raw_send(fd, "{\"execute\":\"qmp_capabilities\"}\r\n{ this is not json\r\n");
	ck_assert_int_eq(raw_expect(fd, "JSON parse error", 5000), 1);
	raw_send(fd, "{\"execute\":\"no-such-command\"}\r\n");
	ck_assert_int_eq(raw_expect(fd, "The command no-such-command has not been found", 5000), 1);
	raw_send(fd, "{\"execute\":\"compact\",\"arguments\":{\"order\":\"nine\"}}\r\n");
	ck_assert_int_eq(raw_expect(fd, "Invalid parameter type for 'order', expected: integer", 5000), 1);
	raw_send(fd, "{\"execute\":\"set-compaction\",\"arguments\":{\"proactiveness\":1000}}\r\n");
	ck_assert_int_eq(raw_expect(fd, "Parameter 'proactiveness' expects a value from 0 to 100", 5000), 1);
	/* a line over 64 KiB: refused, then an orderly close, not a reset that
	 * would lose the reply (as it does on TCP) */
	line = malloc(big);
	memset(line, 'x', big);
	line[0] = '"';
	raw_send_n(fd, line, 160 << 10);
	ck_assert_int_eq(raw_expect(fd, "Request too large", 5000), 1);
	ck_assert_int_eq(raw_eof(fd, 5000), 0);
	close(fd);
	/* the same with 1 MiB: the VMM takes and drops the rest of the line */
	fd = raw_session();
	raw_send_n(fd, line, big);
	ck_assert_int_eq(raw_expect(fd, "Request too large", 5000), 1);
	ck_assert_int_eq(raw_eof(fd, 5000), 0);
	close(fd);
	free(line);

	/* a client that shuts its side after a request still gets the reply */
	fd = raw_connect();
	raw_send(fd, "{\"execute\":\"qmp_capabilities\"}\r\n{\"execute\":\"compact\",\"arguments\":{\"order\":9},\"id\":\"half\"}\r\n");
	ck_assert_int_eq(shutdown(fd, SHUT_WR), 0);
	ck_assert_int_eq(raw_expect(fd, "\"id\":\"half\"}", 10000), 1);
	ck_assert_int_eq(raw_eof(fd, 5000), 0);
	close(fd);

	/* 100 clients at once, each greeted and answered */
	for (int i = 0; i < 100; i++) {
		fds[i] = raw_connect();
		raw_send(fds[i], "{\"execute\":\"qmp_capabilities\"}\r\n{\"execute\":\"query-status\",\"id\":1}\r\n");
	}
	for (int i = 0; i < 100; i++) {
		ck_assert_int_eq(raw_expect(fds[i], "\"status\":\"running\"},\"id\":1}", 10000), 1);
		close(fds[i]);
	}

	/* a client that leaves in the middle of a compaction */
	fd = raw_connect();
	raw_send(fd, "{\"execute\":\"qmp_capabilities\"}\r\n{\"execute\":\"compact\"}\r\n");
	ck_assert_int_eq(raw_expect(fd, "COMPACTION_BEGIN", 10000), 1);
	close(fd);
	ret = exec_ok(watch, "compact", "{\"order\":9}", &reply);
	ck_assert_str_eq(json_object_get_string(json_object_object_get(ret, "trigger")), "command");
	json_object_put(reply);
	ret = exec_ok(watch, "query-status", NULL, &reply);
	ck_assert_str_eq(json_object_get_string(json_object_object_get(ret, "status")), "running");
	json_object_put(reply);
	/* stop and cont */
	exec_ok(watch, "stop", NULL, &reply);
	json_object_put(reply);
	ret = exec_ok(watch, "query-status", NULL, &reply);
	ck_assert_str_eq(json_object_get_string(json_object_object_get(ret, "status")), "paused");
	json_object_put(reply);
	exec_ok(watch, "cont", NULL, &reply);
	json_object_put(reply);
	exec_ok(watch, "quit", NULL, &reply);
	json_object_put(reply);
	qmp_close(watch);
	finish(0);
}
END_TEST

/* ---- clients that misbehave must not hurt the VMM or the others ---- */

#define MAX_CLIENTS	256	/* README: up to 256 clients at once */

/* 256 clients: one negotiated and quiet, one whose qmp_capabilities
 * failed, 254 that say nothing. One more connects and leaves at once
 * (writing it "Too many clients" used to kill the VMM with SIGPIPE), then
 * one waits for that answer. Those that never negotiated are dropped once
 * the capabilities deadline (5 s) has passed, not before; the quiet
 * negotiated one is not; then a new client is served too. */
START_TEST(test_too_many_clients)
{
	static int fds[MAX_CLIENTS - 1];
	struct qmp_client *quiet;
	struct json_object *reply;
	uint64_t t0;
	int fd;

	start("fragment", "loops=0", "64M");
	quiet = connect_ok();
	t0 = now_ms();
	fds[0] = raw_connect();
	raw_send(fds[0], "{\"execute\":\"qmp_capabilities\",\"arguments\":{\"enable\":[\"oob\"]}}\r\n");
	ck_assert_int_eq(raw_expect(fds[0], "Capability 'oob' not available", 10000), 1);
	for (int i = 1; i < MAX_CLIENTS - 1; i++) {
		fds[i] = raw_connect();
		ck_assert_msg(raw_expect(fds[i], "\"QMP\"", 10000) == 1, "client %d got no greeting", i);
	}
	/* stopped, the VMM cannot take the connection before its client has gone */
	ck_assert_int_eq(kill(vmm, SIGSTOP), 0);
	ck_assert_int_eq(waitpid(vmm, NULL, WUNTRACED), vmm);
	fd = raw_connect();
	close(fd);
	ck_assert_int_eq(kill(vmm, SIGCONT), 0);
	fd = raw_connect();
	ck_assert_int_eq(raw_expect(fd, "\"desc\": \"Too many clients\"", 10000), 1);
	ck_assert_int_eq(raw_eof(fd, 5000), 0);
	close(fd);
	ck_assert_msg(waitpid(vmm, NULL, WNOHANG) == 0, "the VMM has died");
	for (int i = 0; i < MAX_CLIENTS - 1; i++) {
		ck_assert_msg(raw_expect(fds[i], "\"desc\":\"No qmp_capabilities within 5 s, closing\"",
					 30000) == 1, "client %d that never negotiated was not dropped", i);
		if (!i)
			ck_assert_uint_ge(now_ms() - t0, 5000);
		ck_assert_int_eq(raw_eof(fds[i], 5000), 0);
		close(fds[i]);
	}
	exec_ok(quiet, "query-status", NULL, &reply);
	json_object_put(reply);
	qmp_close(quiet);
	quit_and_finish();
}
END_TEST

/* Requests sent back to back after a bad line, a half request dropped by
 * 0xFF and garbage ended by 0xFF: every good one answered, in order. */
START_TEST(test_pipelined_after_bad_input)
{
	static const char *const expect[] = {
		"\"id\":1}", "JSON parse error", "\"id\":2}", "\"id\":3}",
		"request dropped at a reset byte", "\"id\":4}", "JSON parse error", "\"id\":5}",
	};
	char *got;
	const char *at;
	int fd;

	start("fragment", "loops=0", "64M");
	fd = raw_session();
	raw_send(fd, "{\"execute\":\"query-status\",\"id\":1}\r\n"
		     "{ this is not json\r\n"
		     "{\"execute\":\"query-status\",\"id\":2}\r\n"
		     "{\"execute\":\"query-status\",\"id\":3}{\"execute\":\"query-st\xff"
		     "{\"execute\":\"query-status\",\"id\":4}\r\n"
		     "{ garbage \xff{\"execute\":\"query-status\",\"id\":5}\r\n");
	got = raw_read_until(fd, "\"id\":5}", 10000);
	ck_assert_msg(got, "request 5 was not answered");
	at = got;
	for (size_t i = 0; i < sizeof(expect) / sizeof(expect[0]); i++) {
		const char *next = strstr(at, expect[i]);

		ck_assert_msg(next, "no %s after %s\nall: %s", expect[i], at, got);
		at = next + strlen(expect[i]);
	}
	free(got);
	close(fd);
	quit_and_finish();
}
END_TEST

/* A client that asked for frame maps and reads nothing must not keep the
 * VMM from exiting when another client quits. */
START_TEST(test_non_reading_client_at_quit)
{
	char req[64 * 32] = "";
	uint64_t t0, waited;
	int fd, queued = 0, code;

	start("fragment", "loops=0", "256M");
	fd = raw_session();
	for (int i = 0; i < 40; i++)
		strcat(req, "{\"execute\":\"query-frame-map\"}\r\n");
	raw_send(fd, req);
	/* 40 maps of 44 KB: once the socket holds some, the VMM holds the rest */
	for (t0 = now_ms(); queued < 100000 && now_ms() - t0 < 30000; usleep(10000))
		ck_assert_int_eq(ioctl(fd, FIONREAD, &queued), 0);
	ck_assert_int_ge(queued, 100000);
	{
		struct qmp_client *c = connect_ok();
		struct json_object *reply;

		exec_ok(c, "quit", NULL, &reply);
		json_object_put(reply);
		t0 = now_ms();
		qmp_close(c);
	}
	code = wait_vmm(vmm, 10);
	waited = now_ms() - t0;
	fprintf(stderr, "test_non_reading_client_at_quit: the VMM exited %lu ms after quit's reply\n",
		(unsigned long)waited);
	ck_assert_msg(code == 0, "vmdefrag exited %d (-1: still running after 10 s)", code);
	close(fd);
	unlink(out);
}
END_TEST

/* A client that asks for frame maps and never reads is dropped once its
 * queued output passes the bound, and the VMM says so; others go on. */
START_TEST(test_non_reading_client_dropped)
{
	static char req[2000 * 32];
	struct qmp_client *watch;
	struct json_object *reply;
	int fd;

	start("fragment", "loops=0", "256M");
	watch = connect_ok();
	fd = raw_session();
	for (int i = 0; i < 1000; i++)
		strcat(req, "{\"execute\":\"query-frame-map\"}\r\n");
	raw_send(fd, req);	/* 1000 maps of 44 KB: 44 MB */
	ck_assert_int_eq(wait_for_output(out, "control socket: dropping session", 1, 120), 1);
	ck_assert_int_eq(wait_for_output(out, "which does not read", 1, 0), 1);
	ck_assert_int_eq(wait_for_output(out, "bytes queued", 1, 0), 1);
	ck_assert_int_le(raw_eof(fd, 10000), 0);	/* closed: EOF or reset */
	close(fd);
	exec_ok(watch, "query-status", NULL, &reply);
	json_object_put(reply);
	qmp_close(watch);
	quit_and_finish();
}
END_TEST

/* Main thread CPU time (ticks) of a process, from /proc. */
static long main_thread_ticks(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long utime, stime;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/stat", (int)pid, (int)pid);
	f = fopen(path, "r");
	ck_assert_ptr_nonnull(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	p = strrchr(buf, ')');
	ck_assert_ptr_nonnull(p);
	ck_assert_int_eq(sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
				&utime, &stime), 2);
	return (long)(utime + stime);
}

/* The VMM's main thread's voluntary context switches so far: each is a
 * wakeup of its poll loop. */
static long main_thread_wakeups(pid_t pid)
{
	char path[64], line[256];
	long n = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/status", (int)pid, (int)pid);
	f = fopen(path, "r");
	ck_assert_ptr_nonnull(f);
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "voluntary_ctxt_switches: %ld", &n) == 1)
			break;
	fclose(f);
	ck_assert_int_ge(n, 0);
	return n;
}

static void wait_event(struct qmp_client *c, const char *name)
{
	for (;;) {
		struct json_object *ev = qmp_next_event(c, 120000), *v;
		bool match;

		ck_assert_msg(ev, "no %s event", name);
		match = json_object_object_get_ex(ev, "event", &v) && !strcmp(json_object_get_string(v), name);
		json_object_put(ev);
		if (match)
			return;
	}
}

/* During a long compaction (1 GiB, fragmented), its asker leaves: the main
 * thread must not spin until it ends (it did, at 27% of the wall time on
 * this 2-core machine; now ~1%). Meanwhile one client asks for more
 * compactions than a session may have pending (the last is refused) and
 * another asks for one: that one runs after the first of the greedy
 * client's, not after all of them. */
START_TEST(test_compaction_clients)
{
	struct qmp_client *watch;
	long tick = sysconf(_SC_CLK_TCK), cpu, wakeups;
	uint64_t t0, wall;
	char req[9 * 64] = "", *got, *mine;
	int leaver, greedy, other;
	double ratio;

	start("fragment", "loops=0", "1G");
	ck_assert_int_ge(wait_for_output(out, "fragment_discarded_pages", 1, 120), 1);
	watch = connect_ok();
	leaver = raw_session();
	greedy = raw_session();
	other = raw_session();
	raw_send(leaver, "{\"execute\":\"compact\"}\r\n");
	ck_assert_int_eq(raw_expect(leaver, "COMPACTION_BEGIN", 10000), 1);
	for (int i = 0; i < 9; i++)
		strcat(req, "{\"execute\":\"compact\",\"arguments\":{\"order\":9}}\r\n");
	raw_send(greedy, req);
	ck_assert_int_eq(raw_expect(greedy, "Too many compactions pending for this session", 10000), 1);
	/* minmove: its COMPACTION_BEGIN tells it from the greedy client's */
	raw_send(other, "{\"execute\":\"compact\",\"arguments\":{\"order\":9,\"policy\":\"minmove\"},"
		 "\"id\":\"other\"}\r\n");

	cpu = main_thread_ticks(vmm);
	wakeups = main_thread_wakeups(vmm);
	t0 = now_ms();
	close(leaver);
	wait_event(watch, "COMPACTION_END");
	wall = now_ms() - t0;
	cpu = main_thread_ticks(vmm) - cpu;
	wakeups = main_thread_wakeups(vmm) - wakeups;
	ratio = (double)cpu / (double)tick * 1000.0 / (double)wall;
	fprintf(stderr, "test_compaction_clients: main thread %ld ms of CPU in %lu ms (%.3f), %ld wakeups\n",
		cpu * 1000 / tick, (unsigned long)wall, ratio, wakeups);
	ck_assert_msg(wall >= 200, "the compaction took only %lu ms: nothing measured", (unsigned long)wall);
	/* the clients' few messages and the run's events wake it, nothing
	 * else: not the signals that kick the vCPUs out at each pause of a
	 * move (a signalfd's poll wakes at every signal to the process) */
	ck_assert_msg(wakeups < 100, "the main thread woke %ld times during one compaction", wakeups);
	ck_assert_msg(ratio < 0.1, "main thread busy %.0f%% of the compaction", ratio * 100);

	/* the other client's job came right after the greedy one's first: two
	 * compactions began before it (the worker sends events in order) */
	got = raw_read_until(other, "\"id\":\"other\"}", 60000);
	ck_assert_msg(got, "no reply to the other client");
	/* BEGIN's data: the run, policy, order, trigger, blocks (END's has the result next) */
	mine = strstr(got, "\"policy\":\"minmove\",\"order\":9,\"trigger\":\"command\",\"free-2m-blocks-before\"");
	ck_assert_msg(mine, "the other client's compaction did not begin");
	while (mine > got && mine[-1] != '\n')	/* back to its event's start */
		mine--;
	*mine = '\0';
	ck_assert_msg(count(got, "\"event\":\"COMPACTION_BEGIN\"") == 2,
		      "%d compactions began before the other client's, not 2 (the leaver's, the greedy "
		      "client's first): %s", count(got, "\"event\":\"COMPACTION_BEGIN\""), got);
	free(got);
	close(greedy);
	close(other);
	qmp_close(watch);
	quit_and_finish();
}
END_TEST

/* A session by hand with socat, as the README shows. */
START_TEST(test_socat_session)
{
	char cmd[512], text[8192];
	size_t n;
	FILE *p;

	start("fragment", "loops=0", "128M");
	snprintf(cmd, sizeof(cmd),
		 "printf '%s\\n%s\\n%s\\n' | socat -t 5 - UNIX-CONNECT:%s",
		 "{\"execute\":\"qmp_capabilities\"}", "{\"execute\":\"query-buddyinfo\",\"id\":1}",
		 "{\"execute\":\"quit\",\"id\":2}", sock);
	p = popen(cmd, "r");
	ck_assert_ptr_nonnull(p);
	n = fread(text, 1, sizeof(text) - 1, p);
	text[n] = '\0';
	pclose(p);
	ck_assert_msg(strstr(text, "{\"QMP\":{\"version\""), "%s", text);
	ck_assert_msg(strstr(text, "\"text\":\"Node 0, zone   Normal "), "%s", text);
	ck_assert_msg(strstr(text, "{\"return\":{},\"id\":2}"), "%s", text);
	finish(0);
}
END_TEST

/* query-frame-map through vmdefrag-ctl, rendered by fragmap, before and
 * after a compaction. */
START_TEST(test_frame_map_png)
{
	const char *ctl = getenv("VMDEFRAG_CTL"), *fragmap = getenv("FRAGMAP");
	char cmd[2048], before[128], after[128], png[128], head[8] = { 0 };
	FILE *f;

	ck_assert_ptr_nonnull(ctl);
	ck_assert_ptr_nonnull(fragmap);
	start("fragment", "loops=0", "256M");
	ck_assert_int_ge(wait_for_output(out, "fragment_discarded_pages", 1, 120), 1);
	snprintf(before, sizeof(before), "/tmp/vmdefrag-test-%d-before.json", getpid());
	snprintf(after, sizeof(after), "/tmp/vmdefrag-test-%d-after.json", getpid());
	snprintf(png, sizeof(png), "/tmp/vmdefrag-test-%d.png", getpid());
	snprintf(cmd, sizeof(cmd), "%s --json %s query-frame-map > %s && %s %s compact >/dev/null && "
		 "%s --json %s query-frame-map > %s && %s -o %s %s %s && %s %s quit",
		 ctl, sock, before, ctl, sock, ctl, sock, after, fragmap, png, before, after, ctl, sock);
	ck_assert_int_eq(system(cmd), 0);
	f = fopen(png, "rb");
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(fread(head, 1, 8, f), 8);
	fclose(f);
	ck_assert(!memcmp(head, "\x89PNG\r\n\x1a\n", 8));
	unlink(before);
	unlink(after);
	unlink(png);
	finish(0);
}
END_TEST

/* vmdefrag-ctl watch --once: one frame of the pool's state, its numbers
 * those the queries give; and compact's progress lines when stderr is
 * not a terminal. */
START_TEST(test_ctl_watch_and_progress)
{
	const char *ctl = getenv("VMDEFRAG_CTL");
	char cmd[1024], line[512];
	int rows = 0, memory = 0, none = 0;
	FILE *p;

	ck_assert_ptr_nonnull(ctl);
	start("fragment", "loops=0", "256M");
	ck_assert_int_ge(wait_for_output(out, "fragment_discarded_pages", 1, 120), 1);
	snprintf(cmd, sizeof(cmd), "%s watch %s --once", ctl, sock);
	p = popen(cmd, "r");
	ck_assert_ptr_nonnull(p);
	while (fgets(line, sizeof(line), p)) {
		unsigned int order;
		long blocks;

		memory += !strncmp(line, "memory  ", 8) && strstr(line, "of 65536 frames used");
		none += !strcmp(line, "last compaction: none seen yet\n");
		if (sscanf(line, "%u %ld", &order, &blocks) == 2 && order == (unsigned int)rows)
			rows++;
	}
	ck_assert_int_eq(pclose(p), 0);
	ck_assert_int_eq(memory, 1);
	ck_assert_int_eq(none, 1);
	ck_assert_int_eq(rows, 11);	/* orders 0..10 */
	/* not a terminal: no bar, and the reply as usual */
	snprintf(cmd, sizeof(cmd), "%s %s compact 2>&1 | grep -c '^result: complete'", ctl, sock);
	p = popen(cmd, "r");
	ck_assert_ptr_nonnull(fgets(line, sizeof(line), p));
	pclose(p);
	ck_assert_str_eq(line, "1\n");
	snprintf(cmd, sizeof(cmd), "%s watch %s --bogus", ctl, sock);
	ck_assert_int_eq(WEXITSTATUS(system(cmd)), 2);
	/* bash completion: the commands the VMM says it has */
	snprintf(cmd, sizeof(cmd), "PATH=$(dirname %s):$PATH bash -c 'source %s/tools/vmdefrag-ctl.bash; "
		 "COMP_WORDS=(vmdefrag-ctl %s query-c); COMP_CWORD=2; _vmdefrag_ctl; echo \"${COMPREPLY[*]}\"'",
		 ctl, TOP_SRCDIR, sock);
	p = popen(cmd, "r");
	ck_assert_ptr_nonnull(fgets(line, sizeof(line), p));
	pclose(p);
	ck_assert_str_eq(line, "query-commands query-compaction\n");
	quit_and_finish();
}
END_TEST

/* What QEMU's own clients send, over the socket, each reply byte for
 * byte: negotiation with and without enable, ids of every JSON type,
 * several requests in one write, one request in many writes. */
START_TEST(test_qemu_client_shapes)
{
	static const struct {
		const char *in, *out;
	} shapes[] = {
		{ "{\"execute\": \"qmp_capabilities\", \"arguments\": {\"enable\": [\"oob\"]}, \"id\": \"__qmp#00000\"}",
		  "{\"error\":{\"class\":\"GenericError\",\"desc\":\"Capability 'oob' not available\"},"
		  "\"id\":\"__qmp#00000\"}\r\n" },
		{ "{\"execute\": \"qmp_capabilities\", \"arguments\": {\"enable\": []}, \"id\": \"__qmp#00001\"}",
		  "{\"return\":{},\"id\":\"__qmp#00001\"}\r\n" },
		{ "{\"execute\": \"query-status\", \"id\": null}",
		  "{\"return\":{\"running\":false,\"singlestep\":false,\"status\":\"paused\"},\"id\":null}\r\n" },
		{ "{\"execute\": \"query-status\", \"id\": 42}",
		  "{\"return\":{\"running\":false,\"singlestep\":false,\"status\":\"paused\"},\"id\":42}\r\n" },
		{ "{\"execute\": \"query-status\", \"id\": {\"tag\": [1, \"a\"]}}",
		  "{\"return\":{\"running\":false,\"singlestep\":false,\"status\":\"paused\"},\"id\":{\"tag\":[1,\"a\"]}}\r\n" },
		{ "{\"execute\":\"query-status\",\"id\":1}{\"execute\":\"nope\",\"id\":2}\n{\"execute\":\"query-status\",\"id\":\"3\"}",
		  "{\"return\":{\"running\":false,\"singlestep\":false,\"status\":\"paused\"},\"id\":1}\r\n"
		  "{\"error\":{\"class\":\"CommandNotFound\",\"desc\":\"The command nope has not been found\"},\"id\":2}\r\n"
		  "{\"return\":{\"running\":false,\"singlestep\":false,\"status\":\"paused\"},\"id\":\"3\"}\r\n" },
	};
	const char *split = "{\"execute\": \"query-status\", \"id\": \"split\"}";
	int fd;

	snprintf(sock, sizeof(sock), "/tmp/vmdefrag-test-%d.sock", getpid());
	snprintf(out, sizeof(out), "/tmp/vmdefrag-test-%d.out", getpid());
	vmm = spawn_vmm(out, "run", guest_path("hello"), "--mem", "64M", "--socket", sock, "--paused", NULL);
	ck_assert_msg(wait_for_socket(sock, 60) == 0, "no control socket at %s", sock);
	fd = raw_connect();
	ck_assert_int_eq(raw_expect(fd, "\"capabilities\":[]}}\r\n", 10000), 1);
	for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++) {
		char *got;

		raw_send(fd, shapes[i].in);
		got = raw_read_until(fd, shapes[i].out, 10000);
		ck_assert_msg(got && !strcmp(got, shapes[i].out), "sent %s\nexpected %s\ngot %s", shapes[i].in,
			      shapes[i].out, got ? got : "(nothing)");
		free(got);
	}
	/* a byte at a time */
	for (const char *p = split; *p; p++)
		raw_send_n(fd, p, 1);
	{
		const char *want = "{\"return\":{\"running\":false,\"singlestep\":false,\"status\":\"paused\"},"
				   "\"id\":\"split\"}\r\n";
		char *got = raw_read_until(fd, want, 10000);

		ck_assert_msg(got && !strcmp(got, want), "got %s", got ? got : "(nothing)");
		free(got);
	}
	close(fd);
	quit_and_finish();
}
END_TEST

/* ---- SHUTDOWN ---- */

/* Each way a run ends, and the SHUTDOWN every client gets before the
 * socket closes. The VM starts paused, so the clients are there first. */
static const struct {
	const char *guest, *args;
	const char *action;		/* "quit", "cont" (the guest ends), "SIGTERM" */
	const char *data;
	int code;
} shutdowns[] = {
	{ "hello", "", "quit", "{\"guest\":false,\"reason\":\"host-qmp-quit\"}", 0 },
	{ "exitcode", "code=3", "cont", "{\"guest\":true,\"reason\":\"guest-shutdown\"}", 3 },
	{ "hello", "", "SIGTERM", "{\"guest\":false,\"reason\":\"host-signal\"}", VMD_EXIT_INTERRUPTED },
	{ "crash", "mode=ud2", "cont", "{\"guest\":true,\"reason\":\"guest-panic\"}", VMD_EXIT_CRASH },
	{ "assertfail", "", "cont", "{\"guest\":true,\"reason\":\"guest-panic\"}", VMD_EXIT_ASSERT },
};

START_TEST(test_shutdown_before_close)
{
	char line[256];
	int fds[2];

	snprintf(sock, sizeof(sock), "/tmp/vmdefrag-test-%d.sock", getpid());
	snprintf(out, sizeof(out), "/tmp/vmdefrag-test-%d.out", getpid());
	vmm = spawn_vmm(out, "run", guest_path(shutdowns[_i].guest), "--mem", "64M", "--socket", sock,
			"--proactiveness", "0", "--paused", "--args", shutdowns[_i].args, NULL);
	ck_assert_msg(wait_for_socket(sock, 60) == 0, "no control socket at %s", sock);
	for (int i = 0; i < 2; i++)
		fds[i] = raw_session();
	raw_send(fds[0], "{\"execute\":\"query-status\"}\r\n");
	ck_assert_int_eq(raw_expect(fds[0], "\"status\":\"paused\"", 10000), 1);
	if (!strcmp(shutdowns[_i].action, "SIGTERM"))
		ck_assert_int_eq(kill(vmm, SIGTERM), 0);
	else
		raw_send(fds[1], !strcmp(shutdowns[_i].action, "quit") ? "{\"execute\":\"quit\"}\r\n" :
			 "{\"execute\":\"cont\"}\r\n");
	snprintf(line, sizeof(line), "{\"event\":\"SHUTDOWN\",\"data\":%s,\"timestamp\":", shutdowns[_i].data);
	for (int i = 0; i < 2; i++) {
		char *got = raw_read_until(fds[i], line, 30000);

		ck_assert_msg(got, "client %d: no %s before the socket closed", i, line);
		/* the last thing on the socket */
		ck_assert_msg(count(strstr(got, line), "\n") == 1, "client %d: after SHUTDOWN: %s", i,
			      strstr(got, line));
		free(got);
		ck_assert_int_eq(raw_eof(fds[i], 10000), 0);
		close(fds[i]);
	}
	finish(shutdowns[_i].code);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("control");
	TCase *tc = tcase_create("control");

	require_kvm();
	signal(SIGPIPE, SIG_IGN);
	tcase_set_timeout(tc, 900);
	tcase_add_test(tc, test_bad_input_live);
	tcase_add_test(tc, test_too_many_clients);
	tcase_add_test(tc, test_pipelined_after_bad_input);
	tcase_add_test(tc, test_non_reading_client_at_quit);
	tcase_add_test(tc, test_non_reading_client_dropped);
	tcase_add_test(tc, test_compaction_clients);
	tcase_add_test(tc, test_socat_session);
	tcase_add_test(tc, test_frame_map_png);
	tcase_add_test(tc, test_defrag_under_memtest);
	suite_add_tcase(s, tc);
	tc = tcase_create("ctl");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_ctl_watch_and_progress);
	tcase_add_test(tc, test_qemu_client_shapes);
	suite_add_tcase(s, tc);
	tc = tcase_create("shutdown");
	tcase_set_timeout(tc, 120);
	tcase_add_loop_test(tc, test_shutdown_before_close, 0, sizeof(shutdowns) / sizeof(shutdowns[0]));
	suite_add_tcase(s, tc);
	return check_run(s);
}
