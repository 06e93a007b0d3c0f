/* /proc/sys access. */
#include <errno.h>
#include <stdio.h>

#include "vmm/sysctl.h"

long sysctl_read_long(const char *name)
{
	char path[256];
	long v;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/sys/%s", name);
	f = fopen(path, "r");
	if (!f)
		return -errno;
	if (fscanf(f, "%ld", &v) != 1)
		v = -EINVAL;
	fclose(f);
	return v;
}

int sysctl_write_long(const char *name, long value)
{
	char path[256];
	FILE *f;
	int err = 0;

	snprintf(path, sizeof(path), "/proc/sys/%s", name);
	f = fopen(path, "w");
	if (!f)
		return -errno;
	if (fprintf(f, "%ld\n", value) < 0)
		err = -errno;
	if (fclose(f) && !err)
		err = -errno;
	return err;
}
