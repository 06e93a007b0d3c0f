/* Integration: host-side defrag behind running guests, driven through the
 * control socket, and the socket's behaviour under bad input. */
#include <check.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

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

static void raw_send(int fd, const char *text)
{
	ck_assert_int_eq(send(fd, text, strlen(text), MSG_NOSIGNAL), (ssize_t)strlen(text));
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
	/* a line of 1 MiB: refused, connection closed */
	line = malloc(big);
	memset(line, 'x', big);
	line[0] = '"';
	if (send(fd, line, big, MSG_NOSIGNAL) < 0 && errno != EPIPE && errno != ECONNRESET)
		ck_abort_msg("send: %s", strerror(errno));
	ck_assert_int_ge(raw_expect(fd, "Request too large", 5000), 0);
	ck_assert_int_eq(raw_expect(fd, "never", 5000), 0);	/* EOF */
	close(fd);
	free(line);

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

int main(void)
{
	Suite *s = suite_create("control");
	TCase *tc = tcase_create("control");

	require_kvm();
	signal(SIGPIPE, SIG_IGN);
	tcase_set_timeout(tc, 900);
	tcase_add_test(tc, test_bad_input_live);
	tcase_add_test(tc, test_socat_session);
	tcase_add_test(tc, test_frame_map_png);
	tcase_add_test(tc, test_defrag_under_memtest);
	suite_add_tcase(s, tc);
	return check_run(s);
}
