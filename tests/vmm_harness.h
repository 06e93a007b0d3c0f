/* Runs the vmdefrag program as a child, the way a user does, and captures
 * what it printed and how it ended. For integration tests. */
#ifndef TESTS_VMM_HARNESS_H
#define TESTS_VMM_HARNESS_H

#include <stdint.h>
#include <sys/types.h>

struct vmm_result {
	int code;		/* exit code, or 128 + signal */
	int timed_out;
	char *out;		/* stdout, NUL-terminated */
	char *err;		/* stderr */
};

/* Exits 77 (skip) with a message when /dev/kvm cannot be opened. */
void require_kvm(void);

/* Path of a built guest, e.g. guest_path("hello"). Static buffer. */
const char *guest_path(const char *name);

/* Runs `vmdefrag ARGS...` (NULL-terminated); kills it after timeout_s.
 * When signal_after_ms > 0, sends sig to it after that long. */
void run_vmm(struct vmm_result *r, int timeout_s, int signal_after_ms, int sig, ...);
void vmm_result_free(struct vmm_result *r);

/* The number after "stats: KEY " in the output, or -1. */
long long stat_value(const char *out, const char *key);
/* The number after "report: KEY " (a guest's VMD_OP_REPORT), or -1. */
long long report_value(const char *out, const char *key);

#endif

/* Starts `vmdefrag ARGS...` (NULL-terminated) in the background with its
 * stdout and stderr going to out_path. Returns its pid. */
pid_t spawn_vmm(const char *out_path, ...);
/* Waits up to timeout_s for pid to exit; its exit code, or -1 (killed). */
int wait_vmm(pid_t pid, int timeout_s);
/* Waits up to timeout_s until the file contains needle at least count
 * times; returns how many times it does. */
int wait_for_output(const char *path, const char *needle, int count, int timeout_s);
/* Waits for a UNIX socket to accept connections; 0 or -1. */
int wait_for_socket(const char *path, int timeout_s);
