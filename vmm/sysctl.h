/* Reading and writing /proc/sys values (vm.max_map_count and friends). */
#ifndef VMM_SYSCTL_H
#define VMM_SYSCTL_H

/* name relative to /proc/sys, e.g. "vm/max_map_count". Negative errno on
 * failure. */
long sysctl_read_long(const char *name);
int sysctl_write_long(const char *name, long value);

#endif
