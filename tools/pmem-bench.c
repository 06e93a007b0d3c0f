/* pmem-bench: how long a persistent pool takes to recover (open, check the
 * header, map the state, reconcile the p2m with the allocator's bits, free
 * what nobody owns, rebuild the descriptors and the reverse map), for each
 * size given. Each pool is made the way a guest leaves one: every guest
 * frame populated, then every other run of 8 discarded (so the bits and
 * the p2m are fragmented), and 1,000 frames taken that no guest frame maps
 * (a kill's orphans); then the file is closed as a killed process leaves
 * it and opened again, timed. The frames hold no data (sparse). Prints
 * numbers; judges nothing.
 *
 *   usage: pmem-bench [--dir DIR] SIZE...   (SIZE: 1G, 16G, ...; default 1G 16G)
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/cli.h"
#include "mm/clock.h"
#include "mm/p2m.h"
#include "mm/pool.h"

static void usage(FILE *out)
{
	fprintf(out, "usage: pmem-bench [--dir DIR] [SIZE...]   (SIZE: 1G, 16G, ...; default 1G 16G)\n"
		"  --dir  where the pool files go (default /var/tmp); each is removed after\n");
}

static int die(const char *what, int err)
{
	fprintf(stderr, "pmem-bench: %s: %s\n", what, strerror(-err));
	return 1;
}

static int bench(const char *dir, uint64_t bytes)
{
	uint64_t frames = bytes >> FRAME_SHIFT, t0, ns;
	struct pool_file_opts o = { .persistent = true, .nr_gfns = (uint32_t)frames };
	char path[4096];
	struct pool p;
	struct p2m m;
	int err;

	snprintf(path, sizeof(path), "%s/pmem-bench.%d.pool", dir, (int)getpid());
	err = pool_create_with(&p, POOL_FILE, frames, path, &o, ZONE_LOCKFREE);
	if (err)
		return die(p.why[0] ? p.why : "create", err);
	err = p2m_init_on(&m, &p.zone, (uint32_t)frames, p.pmem_p2m, true);
	for (uint32_t g = 0; !err && g < frames - 4096; g++) {
		uint32_t pfn;

		err = zone_alloc(&p.zone, 0, MIGRATE_MOVABLE, &pfn);
		if (!err)
			err = p2m_map(&m, g, pfn);
	}
	for (uint32_t g = 0; !err && g < frames - 4096; g += 16)
		for (uint32_t k = 0; k < 8 && !err; k++) {
			uint32_t pfn;

			err = p2m_unmap(&m, g + k, &pfn);
			if (!err)
				err = zone_free(&p.zone, pfn, 0);
		}
	for (uint32_t i = 0; !err && i < 1000; i++) {
		uint32_t pfn;

		err = zone_alloc(&p.zone, 0, MIGRATE_MOVABLE, &pfn);
	}
	if (err) {
		unlink(path);
		return die("populate", err);
	}
	/* a killed process's state: nothing cleaned up, the file as it is */
	p2m_destroy(&m);
	pool_destroy(&p);
	t0 = mono_ns();
	err = pool_create_with(&p, POOL_FILE, frames, path, &o, ZONE_LOCKFREE);
	if (!err)
		err = p2m_init_on(&m, &p.zone, (uint32_t)frames, p.pmem_p2m, false);
	ns = mono_ns() - t0;
	if (err) {
		unlink(path);
		return die(p.why[0] ? p.why : "recover", err);
	}
	printf("pmem-bench: %4lu GiB pool (%lu frames): recovered in %.1f ms: %lu frames mapped, "
	       "%lu freed (nobody owned them)\n", (unsigned long)(bytes >> 30), (unsigned long)frames,
	       (double)ns / 1e6, (unsigned long)p.recovery.owned, (unsigned long)p.recovery.freed);
	p2m_destroy(&m);
	pool_destroy(&p);
	unlink(path);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static char *defaults[] = { "1G", "16G" };
	const char *dir = "/var/tmp";
	char **sizes;
	int c, n, rc = 0;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (c == 'd')
			dir = optarg;
		else
			return cli_usage_exit(usage, c == 'h');
	}
	sizes = optind < argc ? argv + optind : defaults;
	n = optind < argc ? argc - optind : 2;
	for (int i = 0; i < n && !rc; i++) {
		char *end;
		uint64_t v = strtoull(sizes[i], &end, 10);

		if (*end == 'G')
			v <<= 30;
		else if (*end == 'M')
			v <<= 20;
		if (!v || (*end && end[1]) || v % (2ULL << 20)) {
			fprintf(stderr, "pmem-bench: %s: want a size like 1G or 512M\n", sizes[i]);
			return 2;
		}
		rc = bench(dir, v);
	}
	return rc;
}
