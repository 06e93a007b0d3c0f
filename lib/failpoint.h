/* Failpoints: named places between two stores of a persistent pool's
 * state where a test can make the process die, as a crash there would, so
 * that each crash window is hit on purpose rather than by chance
 * (tests/crash-recovery.sh). Compiled in only with ./configure
 * --enable-failpoints (the test builds); elsewhere FAILPOINT() is nothing.
 *
 * VMDEFRAG_FAILPOINT=NAME[:N] in the environment: the Nth time (default
 * the first) the process passes FAILPOINT("NAME"), it sends itself
 * SIGKILL. */
#ifndef LIB_FAILPOINT_H
#define LIB_FAILPOINT_H

#ifdef VMDEFRAG_FAILPOINTS
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

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
	if (atomic_fetch_add(&hits, 1) + 1 == n)
		raise(SIGKILL);
}
#define FAILPOINT(name)	failpoint(name)
#define FAILPOINTS_BUILT	1
#else
#define FAILPOINT(name)	do { } while (0)
#define FAILPOINTS_BUILT	0
#endif

#endif
