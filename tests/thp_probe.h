/* What the kernel says about shmem huge pages, for tests. */
#ifndef TESTS_THP_PROBE_H
#define TESTS_THP_PROBE_H

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>

/* True when the host refuses shmem THP outright (shmem_enabled "deny"). */
static inline bool thp_denied(void)
{
	FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/shmem_enabled", "r");
	char line[256] = "";

	if (!f)
		return true;
	if (!fgets(line, sizeof(line), f))
		line[0] = '\0';
	fclose(f);
	return strstr(line, "[deny]") != NULL;
}

/* ShmemPmdMapped of process pid (0: this one), in kB; -1 if unreadable. */
static inline long shmem_pmd_kb(pid_t pid)
{
	char path[64], line[256];
	long kb = -1;
	FILE *f;

	if (pid)
		snprintf(path, sizeof(path), "/proc/%d/smaps_rollup", (int)pid);
	else
		snprintf(path, sizeof(path), "/proc/self/smaps_rollup");
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "ShmemPmdMapped: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

#endif
