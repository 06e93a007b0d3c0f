/* Reading and writing /proc/sys values (vm.max_map_count and friends), and
 * raising one for as long as a VMM needs it, shared between VMMs. */
#ifndef VMM_SYSCTL_H
#define VMM_SYSCTL_H

#include <sys/types.h>

/* Where values and hold records live; tests point them at a scratch dir. */
extern const char *sysctl_root;		/* "/proc/sys" */
extern const char *sysctl_hold_dir;	/* "/run/vmdefrag" */

/* name relative to sysctl_root, e.g. "vm/max_map_count". Negative errno on
 * failure. */
long sysctl_read_long(const char *name);
int sysctl_write_long(const char *name, long value);

/*
 * Makes name at least need until sysctl_unhold(name), returning the value
 * in force (or a negative errno, changing nothing). Several VMMs may hold
 * one value at once: a record under sysctl_hold_dir, updated under flock,
 * keeps the value seen before the first raise and one line per holder; a
 * holder leaving brings the value down to what the others need, and the
 * last one puts the original back. Holders that died
 * without leaving are dropped by the next hold or unhold, so a crash
 * leaves the host changed only until the next VMM ends. A holder counts as
 * dead from the moment it is a zombie or exiting (killed, not yet reaped),
 * and a record naming a PID that a later process took counts as dead too
 * (each holder line keeps its process's start time).
 */
long sysctl_hold(const char *name, long need);
void sysctl_unhold(const char *name);

#endif
