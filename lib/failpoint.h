/* Failpoints: named places between two stores of a persistent pool's
 * state where a test can make the process die, as a crash there would, so
 * that each crash window is hit on purpose rather than by chance
 * (tests/crash-recovery.sh). Compiled in only with ./configure
 * --enable-failpoints (the test builds); elsewhere FAILPOINT() is nothing.
 *
 * VMDEFRAG_FAILPOINT=NAME[:N] in the environment: the Nth time (default
 * the first) the process passes FAILPOINT("NAME"), it sends itself
 * SIGKILL; after VMDEFRAG_FAILPOINT_WAIT_MS milliseconds if that is set,
 * while the other threads (the vCPUs) go on, as they would if this one
 * were slow there: a window where the guest can still write shows. */
#ifndef LIB_FAILPOINT_H
#define LIB_FAILPOINT_H

#ifdef VMDEFRAG_FAILPOINTS
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static inline void failpoint(const char *name)
{
	/* one counter per file that has failpoints: only the named one counts */
	static _Atomic unsigned long hits;
	const char *want = getenv("VMDEFRAG_FAILPOINT");
	size_t len = strlen(name);
	unsigned long n;

	if (!want || strncmp(want, name, len) || (want[len] && want[len] != ':'))
		return;
	n = want[len] == ':' ? strtoul(want + len + 1, NULL, 10) : 1;
	if (atomic_fetch_add(&hits, 1) + 1 != n)
		return;
	if (getenv("VMDEFRAG_FAILPOINT_WAIT_MS")) {
		long ms = strtol(getenv("VMDEFRAG_FAILPOINT_WAIT_MS"), NULL, 10);

		nanosleep(&(struct timespec){ ms / 1000, ms % 1000 * 1000000L }, NULL);
	}
	raise(SIGKILL);
}
#define FAILPOINT(name)	failpoint(name)
#define FAILPOINTS_BUILT	1
#else
#define FAILPOINT(name)	do { } while (0)
#define FAILPOINTS_BUILT	0
#endif

#endif
