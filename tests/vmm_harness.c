/* Child-process harness for integration tests. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tests/vmm_harness.h"

void require_kvm(void)
{
	int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);

	if (fd < 0) {
		printf("SKIP: cannot open /dev/kvm (%s): integration tests need KVM\n", strerror(errno));
		exit(77);
	}
	close(fd);
}

const char *guest_path(const char *name)
{
	static char path[512];
	const char *dir = getenv("GUEST_DIR");

	snprintf(path, sizeof(path), "%s/%s.elf", dir ? dir : "guest", name);
	return path;
}

static uint64_t ms_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* The VMM starts with the signal dispositions a shell gives it: a test
 * that ignores SIGPIPE for itself must not hide a VMM that would die of it
 * (ignored signals stay ignored across exec). */
static void vmm_child_signals(void)
{
	signal(SIGPIPE, SIG_DFL);
}

struct sink {
	char *buf;
	size_t len, cap;
};

static int drain(int fd, struct sink *s)
{
	char tmp[65536];
	ssize_t n = read(fd, tmp, sizeof(tmp));

	if (n <= 0)
		return 0;
	if (s->len + (size_t)n + 1 > s->cap) {
		s->cap = (s->len + (size_t)n + 1) * 2;
		s->buf = realloc(s->buf, s->cap);
	}
	memcpy(s->buf + s->len, tmp, (size_t)n);
	s->len += (size_t)n;
	s->buf[s->len] = '\0';
	return 1;
}

/* The VMM's command line: vmdefrag, then the arguments up to NULL (at
 * most 60). With VMDEFRAG_TEST_ALLOCATOR set, a run gets --allocator
 * with it, so the same tests run the VMM on either allocator. */
static void vmm_argv(char *argv[64], const char *vmdefrag, va_list ap)
{
	const char *allocator = getenv("VMDEFRAG_TEST_ALLOCATOR");
	int argc = 0;

	argv[argc++] = (char *)vmdefrag;
	for (char *a; (a = va_arg(ap, char *)) && argc < 61;) {
		argv[argc++] = a;
		if (argc == 2 && !strcmp(a, "run") && allocator && *allocator) {
			argv[argc++] = (char *)"--allocator";
			argv[argc++] = (char *)allocator;
		}
	}
	argv[argc] = NULL;
}

void run_vmm(struct vmm_result *r, int timeout_s, int signal_after_ms, int sig, ...)
{
	const char *vmdefrag = getenv("VMDEFRAG") ? getenv("VMDEFRAG") : "vmm/vmdefrag";
	char *argv[64];
	int outp[2], errp[2], status, open_fds = 2, signalled = 0;
	struct sink out = { calloc(1, 1), 0, 1 }, err = { calloc(1, 1), 0, 1 };
	uint64_t t0 = ms_now();
	va_list ap;
	pid_t pid;

	va_start(ap, sig);
	vmm_argv(argv, vmdefrag, ap);
	va_end(ap);
	memset(r, 0, sizeof(*r));
	if (pipe(outp) || pipe(errp))
		abort();
	pid = fork();
	if (pid == 0) {
		dup2(outp[1], 1);
		dup2(errp[1], 2);
		close(outp[0]);
		close(errp[0]);
		vmm_child_signals();
		execv(vmdefrag, argv);
		fprintf(stderr, "exec %s: %s\n", vmdefrag, strerror(errno));
		_exit(127);
	}
	close(outp[1]);
	close(errp[1]);
	while (open_fds) {
		struct pollfd fds[2] = { { outp[0], POLLIN, 0 }, { errp[0], POLLIN, 0 } };
		uint64_t elapsed = ms_now() - t0;

		if (elapsed > (uint64_t)timeout_s * 1000) {
			r->timed_out = 1;
			kill(pid, SIGKILL);
			break;
		}
		if (signal_after_ms > 0 && !signalled && elapsed >= (uint64_t)signal_after_ms) {
			kill(pid, sig);
			signalled = 1;
		}
		if (poll(fds, 2, 50) <= 0)
			continue;
		if (fds[0].revents && fds[0].fd >= 0 && !drain(outp[0], &out)) {
			open_fds--;
			outp[0] = -outp[0] - 1;
		}
		if (fds[1].revents && fds[1].fd >= 0 && !drain(errp[0], &err)) {
			open_fds--;
			errp[0] = -errp[0] - 1;
		}
	}
	waitpid(pid, &status, 0);
	close(outp[0] >= 0 ? outp[0] : -outp[0] - 1);
	close(errp[0] >= 0 ? errp[0] : -errp[0] - 1);
	r->code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	r->out = out.buf;
	r->err = err.buf;
}

void vmm_result_free(struct vmm_result *r)
{
	free(r->out);
	free(r->err);
}

static long long value_after(const char *out, const char *prefix, const char *key)
{
	char pat[128];
	const char *p;

	snprintf(pat, sizeof(pat), "%s: %s ", prefix, key);
	p = strstr(out, pat);
	return p ? atoll(p + strlen(pat)) : -1;
}

long long stat_value(const char *out, const char *key)
{
	return value_after(out, "stats", key);
}

long long report_value(const char *out, const char *key)
{
	return value_after(out, "report", key);
}

pid_t spawn_vmm(const char *out_path, ...)
{
	const char *vmdefrag = getenv("VMDEFRAG") ? getenv("VMDEFRAG") : "vmm/vmdefrag";
	char *argv[64];
	va_list ap;
	pid_t pid;

	va_start(ap, out_path);
	vmm_argv(argv, vmdefrag, ap);
	va_end(ap);
	pid = fork();
	if (pid == 0) {
		int fd = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

		dup2(fd, 1);
		dup2(fd, 2);
		vmm_child_signals();
		execv(vmdefrag, argv);
		_exit(127);
	}
	return pid;
}

int wait_vmm(pid_t pid, int timeout_s)
{
	uint64_t t0 = ms_now();
	int status;

	while (ms_now() - t0 < (uint64_t)timeout_s * 1000) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
		usleep(20000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	return -1;
}

static int count_in_file(const char *path, const char *needle)
{
	FILE *f = fopen(path, "r");
	char line[4096];
	int n = 0;

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		for (const char *p = line; (p = strstr(p, needle)); p++)
			n++;
	fclose(f);
	return n;
}

int wait_for_output(const char *path, const char *needle, int count, int timeout_s)
{
	uint64_t t0 = ms_now();
	int n;

	while ((n = count_in_file(path, needle)) < count && ms_now() - t0 < (uint64_t)timeout_s * 1000)
		usleep(50000);
	return n;
}

int wait_for_socket(const char *path, int timeout_s)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	uint64_t t0 = ms_now();

	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path);
	while (ms_now() - t0 < (uint64_t)timeout_s * 1000) {
		int fd = socket(AF_UNIX, SOCK_STREAM, 0), ok;

		ok = connect(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0;
		close(fd);
		if (ok)
			return 0;
		usleep(50000);
	}
	return -1;
}
