/* vmdefrag run: boot a guest, serve it until it exits. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "lib/cmp.h"
#include "lib/cli.h"
#include "guest/include/vmdefrag_abi.h"
#include "mm/kcompactd.h"
#include "mm/vmstat.h"
#include "vmm/builtin.h"
#include "vmm/guest_find.h"
#include "vmm/server.h"
#include "vmm/vcpu.h"
#include "vmm/vm.h"
#include "vmm/vm_setup.h"

#define MIN_MEM		(16ULL << 20)
#define MAX_MEM		(63ULL << 30)	/* one memslot per 2 MiB: KVM offers 32764 */

static void usage(FILE *out)
{
	fprintf(out,
		"usage: vmdefrag run GUEST [options]\n"
		"       vmdefrag run --list-guests\n"
		"GUEST is a file, or the NAME of an installed guest (--list-guests lists them)\n"
		"  --mem SIZE        guest memory (default 256M; K, M, G; a multiple of 2M, 16M..63G)\n"
		"  --cpus N          vCPUs, each on its own thread (default 1, at most %d)\n"
		"  --backing KIND    memfd (default), hugetlb, or file:PATH[,keep]: a new file,\n"
		"                    removed at exit unless kept (\",,\" is a comma in PATH);\n"
		"                    file:PATH,persistent: guest memory and the pool's state\n"
		"                    in PATH, kept, recovered by the next run after a crash;\n"
		"                    ,sync adds an msync at each step's boundary (a power\n"
		"                    loss then leaves a state recovery can repair too)\n"
		"  --allocator NAME  who owns the pool's free frames: buddy (default) or\n"
		"                    lockfree\n"
		"  --args STRING     handed to the guest (key=value words)\n"
		"  --socket PATH     serve the QMP control socket at PATH (mode 0600)\n"
		"  --paused          start with the vCPUs stopped (QEMU's -S): cont on the\n"
		"                    socket starts them\n"
		"  --proactiveness N proactive compaction, 0 (off) to 100 (default 20)\n"
		"  --batch N         frames moved per vCPU pause (default 32, 1..4096)\n"
		"  --plug SIZE       guest-physical space after RAM for plug-huge regions, whose\n"
		"                    frames come from memory the guest discarded (default 0)\n"
		"  --huge-reserve N  free 2 MiB blocks kept ready as host huge pages once the\n"
		"                    guest asks for huge regions (default %d, 0 to %d)\n"
		"  --stats           print boot time and memory figures at exit\n"
		"  --views           print the pool's buddyinfo and fragmentation indices\n"
		"                    after boot and at exit\n"
		"  --list-guests     list the guests found by NAME, with their purposes\n"
		"  --version         print vmdefrag's version\n"
		"Exit code: the guest's; %d if a guest assertion failed, %d if the guest\n"
		"crashed, %d if interrupted, %d for a VMM error.\n",
		VMD_MAX_VCPUS, HUGE_RESERVE_DEFAULT, HUGE_RESERVE_MAX, VMD_EXIT_ASSERT, VMD_EXIT_CRASH, VMD_EXIT_INTERRUPTED,
		VMD_EXIT_VMM_ERROR);
}

/* A decimal number from lo to hi; -1 for anything else. */
static int parse_uint(const char *text, unsigned int lo, unsigned int hi, unsigned int *out)
{
	char *end;
	long n;

	errno = 0;
	n = strtol(text, &end, 10);
	if (errno || *end || !*text || n < (long)lo || n > (long)hi)
		return -1;
	*out = (unsigned int)n;
	return 0;
}

int parse_size(const char *text, uint64_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	if (!text || *text < '0' || *text > '9')
		return -EINVAL;
	v = strtoull(text, &end, 10);
	if (errno)
		return -EINVAL;
	switch (*end) {
	case 'K': case 'k': v <<= 10; end++; break;
	case 'M': case 'm': v <<= 20; end++; break;
	case 'G': case 'g': v <<= 30; end++; break;
	}
	if (*end == 'B' || *end == 'b')
		end++;
	if (*end || v > (1ULL << 46))
		return -EINVAL;
	*out = v;
	return 0;
}

static int bad_option(const char *option, const char *value, const char *want)
{
	fprintf(stderr, "vmdefrag run: %s %s: want %s\n", option, value, want);
	return 2;
}

/* The options after file:PATH, each a flag of struct pool_file_opts. */
static const struct {
	const char *name;
	size_t offset;
} file_options[] = {
	{ "keep", offsetof(struct pool_file_opts, keep) },
	{ "persistent", offsetof(struct pool_file_opts, persistent) },
	{ "sync", offsetof(struct pool_file_opts, sync) },
};

/* One option after file:PATH, [opt, end). 0, or 2 after an error message. */
static int parse_file_option(const char *arg, const char *opt, const char *end,
			     struct pool_file_opts *opts)
{
	char want[128];
	size_t len = 0;

	for (size_t i = 0; i < sizeof(file_options) / sizeof(file_options[0]); i++) {
		if (strlen(file_options[i].name) == (size_t)(end - opt) &&
		    !strncmp(file_options[i].name, opt, (size_t)(end - opt))) {
			*(bool *)((char *)opts + file_options[i].offset) = true;
			return 0;
		}
		len += (size_t)snprintf(want + len, sizeof(want) - len, "%s%s", i ? ", " : "",
					file_options[i].name);
	}
	fprintf(stderr, "vmdefrag run: --backing %s: unknown option '%.*s' after the path "
		"(options: %s; write ',,' for a comma in the path)\n", arg, (int)(end - opt), opt, want);
	return 2;
}

/*
 * --backing file:PATH[,OPTION]...: PATH ends at the first lone comma (",,"
 * stands for a comma in PATH, as in QEMU's options), then come options
 * separated by commas. PATH goes to path (PATH_MAX bytes). 0, or 2 after
 * an error message.
 */
static int parse_backing_file(const char *arg, char *path, struct pool_file_opts *opts)
{
	const char *p = arg + strlen("file:");
	size_t len = 0;

	memset(opts, 0, sizeof(*opts));
	for (; *p && !(p[0] == ',' && p[1] != ','); p++) {
		if (p[0] == ',')
			p++;	/* ",," */
		if (len + 1 >= PATH_MAX)
			return bad_option("--backing", arg, "a path shorter than PATH_MAX");
		path[len++] = *p;
	}
	path[len] = 0;
	if (!len)
		return bad_option("--backing", arg, "file:PATH[,keep][,persistent[,sync]] with a PATH");
	while (*p == ',') {
		const char *opt = ++p, *end = strchrnul(opt, ',');

		if (parse_file_option(arg, opt, end, opts))
			return 2;
		p = end;
	}
	if (opts->sync && !opts->persistent) {
		fprintf(stderr, "vmdefrag run: --backing %s: sync orders a persistent pool's stores on "
			"the disk: add ,persistent\n", arg);
		return 2;
	}
	return 0;
}

static void print_views(struct vm *vm, const char *when)
{
	struct zone *z = &vm->pool.zone;

	zone_lock(z);
	printf("== pool %s: %lu of %u frames free, fragmentation score %u, %lu guest mappings\n",
	       when, (unsigned long)zone_free_frames(z), zone_nr_frames(z), pool_fragmentation_score(z),
	       (unsigned long)guest_mem_mappings(&vm->gm));
	printf("-- buddyinfo\n");
	vmstat_buddyinfo(stdout, z);
	printf("-- extfrag_index\n");
	vmstat_extfrag_index(stdout, z);
	printf("-- unusable_index\n");
	vmstat_unusable_index(stdout, z);
	zone_unlock(z);
	fflush(stdout);
}

static int by_max_hold(const void *a, const void *b)
{
	const struct zone_lock_site *x = a, *y = b;

	return cmp_u64(y->max_ns, x->max_ns);
}

/* Who held the zone lock, longest hold first: what everyone else waited. */
static void print_lock_holders(struct vm *vm)
{
	struct zone_lock_site sites[ZONE_LOCK_SITES];
	unsigned int n;

	zone_lock(&vm->pool.zone);
	n = zone_lock_sites(&vm->pool.zone, sites, ZONE_LOCK_SITES);
	zone_unlock(&vm->pool.zone);
	qsort(sites, n, sizeof(*sites), by_max_hold);
	for (unsigned int i = 0; i < n; i++)
		printf("stats: zone_lock %s holds %lu mean_us %.1f min_us %.1f max_us %.1f\n",
		       sites[i].name, (unsigned long)sites[i].holds,
		       sites[i].total_ns / 1e3 / (double)sites[i].holds, sites[i].min_ns / 1e3,
		       sites[i].max_ns / 1e3);
}

static void print_stats(struct vm *vm)
{
	struct zone *z = &vm->pool.zone;
	struct zone_counts n;

	zone_lock(z);
	zone_get_counts(z, &n);
	if (vm->t_booted_ns) {
		printf("stats: boot_ms %.3f (main() to the request the guest's first instruction makes)\n",
		       (vm->t_booted_ns - vm->t_start_ns) / 1e6);
		printf("stats: booted_unix_ns %lu\n", (unsigned long)vm->t_booted_unix_ns);
	}
	printf("stats: pool_frames %lu used %lu free %lu pinned %lu\n", (unsigned long)n.frames,
	       (unsigned long)(n.frames - n.free), (unsigned long)n.free, (unsigned long)n.pinned);
	printf("stats: pool_resident_bytes %ld\n", (long)pool_resident_bytes(&vm->pool));
	printf("stats: guest_mappings %lu (limit %ld)\n", (unsigned long)guest_mem_mappings(&vm->gm),
	       vm->gm.map_limit);
	printf("stats: pgmigrate_success %lu pgmigrate_fail %lu\n", (unsigned long)z->events[PGMIGRATE_SUCCESS],
	       (unsigned long)z->events[PGMIGRATE_FAIL]);
	zone_unlock(z);
	{
		char msg[256];

		vm_check(vm, msg, sizeof(msg));
		printf("stats: invariants %s\n", msg);
	}
	print_lock_holders(vm);
	pthread_mutex_lock(&vm->reserve.lock);
	printf("stats: huge_reserve built %lu taken %lu missed %lu build_failed %lu punched %lu\n",
	       (unsigned long)vm->reserve.built, (unsigned long)vm->reserve.taken,
	       (unsigned long)vm->reserve.missed, (unsigned long)vm->reserve.build_failed,
	       (unsigned long)vm->reserve.punched);
	pthread_mutex_unlock(&vm->reserve.lock);
	if (vm->pool.sync)
		printf("stats: pool_syncs %lu\n", (unsigned long)atomic_load(&vm->pool.syncs));
	fflush(stdout);
}

static volatile sig_atomic_t stop_signal;

static void on_stop_signal(int sig)
{
	stop_signal = sig;
}

/*
 * Serves the control socket until the run ends or a signal ends it.
 * SIGINT and SIGTERM are blocked in every thread and let in only while
 * this loop waits in ppoll(), which they interrupt. Not a signalfd: its
 * poll wakes at every signal the process gets, and each pause of a move
 * kicks the vCPUs with one (a compaction woke this loop ~1,450 times).
 */
static void serve(struct vm *vm, struct server *srv)
{
	struct pollfd fds[1 + 2 + SERVER_MAX_CLIENTS];
	struct sigaction sa = { .sa_handler = on_stop_signal };
	sigset_t waiting;

	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	pthread_sigmask(SIG_SETMASK, NULL, &waiting);
	sigdelset(&waiting, SIGINT);
	sigdelset(&waiting, SIGTERM);
	for (;;) {
		int n, ms;

		fds[0] = (struct pollfd){ vm->stop_efd, POLLIN, 0 };
		n = server_pollfds(srv, fds + 1, (int)(sizeof(fds) / sizeof(fds[0])) - 1);
		/* the server's deadlines (clients that never negotiate, closing
		 * clients) wake the loop: no busy loop, no forgotten client */
		ms = server_timeout_ms(srv);
		if (ppoll(fds, (nfds_t)(n + 1), ms < 0 ? NULL : &(struct timespec){ ms / 1000, ms % 1000 * 1000000L },
			  &waiting) < 0) {
			if (errno != EINTR) {
				perror("vmdefrag: poll");
				vm_stop(vm, VMD_EXIT_VMM_ERROR, VM_STOP_HOST_ERROR);
				break;
			}
			if (stop_signal) {
				fprintf(stderr, "vmdefrag: %s, stopping the guest\n", strsignal(stop_signal));
				stop_signal = 0;
				vm_stop(vm, VMD_EXIT_INTERRUPTED, VM_STOP_HOST_SIGNAL);
			}
			continue;
		}
		if (fds[0].revents)
			break;
		server_handle(srv, fds + 1, n);
	}
}

/* Reads run's options into cfg and *paused: -1 to go on, else the exit
 * code (0 after --help, --version or --list-guests, 2 for a bad option,
 * the usage said; VMD_EXIT_VMM_ERROR for a guest that is not there). */
static int parse_run_options(int argc, char **argv, struct vm_config *cfg, bool *paused)
{
	static const struct option opts[] = {
		{ "mem", required_argument, NULL, 'm' },
		{ "cpus", required_argument, NULL, 'c' },
		{ "backing", required_argument, NULL, 'b' },
		{ "allocator", required_argument, NULL, 'A' },
		{ "args", required_argument, NULL, 'a' },
		{ "stats", no_argument, NULL, 's' },
		{ "socket", required_argument, NULL, 'S' },
		{ "proactiveness", required_argument, NULL, 'p' },
		{ "batch", required_argument, NULL, 'B' },
		{ "plug", required_argument, NULL, 'P' },
		{ "huge-reserve", required_argument, NULL, 'H' },
		{ "views", no_argument, NULL, 'v' },
		{ "paused", no_argument, NULL, 'Z' },
		{ "list-guests", no_argument, NULL, 'L' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static char backing_path[PATH_MAX], guest_path[PATH_MAX];
	bool allocator_given = false;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'm':
			if (parse_size(optarg, &cfg->mem_bytes) || cfg->mem_bytes % (2ULL << 20) ||
			    cfg->mem_bytes < MIN_MEM || cfg->mem_bytes > MAX_MEM)
				return bad_option("--mem", optarg, "a multiple of 2M from 16M to 63G");
			break;
		case 'c':
			if (parse_uint(optarg, 1, VMD_MAX_VCPUS, &cfg->nr_cpus))
				return bad_option("--cpus", optarg, "1 to 64");
			break;
		case 'b':
			if (!strcmp(optarg, "memfd")) {
				cfg->backing = POOL_MEMFD;
			} else if (!strcmp(optarg, "hugetlb")) {
				cfg->backing = POOL_HUGETLB;
			} else if (!strncmp(optarg, "file:", 5)) {
				if (parse_backing_file(optarg, backing_path, &cfg->backing_opts))
					return 2;
				cfg->backing = POOL_FILE;
				cfg->backing_path = backing_path;
			} else {
				return bad_option("--backing", optarg,
						  "memfd, hugetlb or file:PATH[,keep][,persistent[,sync]]");
			}
			break;
		case 'A':
			if (zone_allocator_parse(optarg, &cfg->allocator))
				return bad_option("--allocator", optarg, "buddy or lockfree");
			allocator_given = true;
			break;
		case 'a':
			cfg->args = optarg;
			break;
		case 'S':
			cfg->socket_path = optarg;
			break;
		case 'P':
			if (parse_size(optarg, &cfg->plug_bytes) || cfg->plug_bytes % (2ULL << 20) ||
			    cfg->plug_bytes > MAX_MEM)
				return bad_option("--plug", optarg, "a multiple of 2M up to 63G");
			break;
		case 'p':
			if (parse_uint(optarg, 0, 100, &cfg->proactiveness))
				return bad_option("--proactiveness", optarg, "0 to 100");
			break;
		case 'B':
			if (parse_uint(optarg, 1, 4096, &cfg->batch))
				return bad_option("--batch", optarg, "1 to 4096");
			break;
		case 'H':
			if (parse_uint(optarg, 0, HUGE_RESERVE_MAX, &cfg->huge_reserve))
				return bad_option("--huge-reserve", optarg, "0 to 64");
			break;
		case 's':
			cfg->stats = true;
			break;
		case 'v':
			cfg->views = true;
			break;
		case 'Z':
			*paused = true;
			break;
		case 'L':
			guest_list(stdout);
			return 0;
		case 'V':
			return cli_version("vmdefrag");
		case 'h':
			return cli_usage_exit(usage, true);
		default:
			return cli_usage_exit(usage, false);
		}
	}
	if (optind + 1 != argc) {
		usage(stderr);
		return 2;
	}
	if (*paused && !cfg->socket_path) {
		fprintf(stderr, "vmdefrag: --paused needs --socket: only cont there starts the vCPUs\n");
		return 2;
	}
	if (cfg->backing == POOL_FILE && cfg->backing_opts.persistent) {
		/* recovery recounts everything from the lock-free allocator's bits */
		if (allocator_given && cfg->allocator != ZONE_LOCKFREE) {
			fprintf(stderr, "vmdefrag: a persistent pool runs on the lockfree allocator, "
				"not --allocator %s\n", zone_allocator_names[cfg->allocator]);
			return 2;
		}
		cfg->allocator = ZONE_LOCKFREE;
	}
	if (guest_find(argv[optind], guest_path, sizeof(guest_path)))
		return VMD_EXIT_VMM_ERROR;
	cfg->guest_path = guest_path;

	return -1;
}

/* Boots the VM cfg describes and serves it until it ends: its exit code. */
static int run_vm(const struct vm_config *cfg, bool paused, uint64_t t_start_ns)
{
	struct server srv;
	struct vm *vm;
	sigset_t set;
	int code;

	/* signals: SIGINT/SIGTERM reach serve()'s ppoll() only; vCPU threads
	 * unblock only their kick signal */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	/* every thread inherits it: the mover's turns for the guest are tens
	 * of microseconds, and the default slack (50 us) would add as much */
	prctl(PR_SET_TIMERSLACK, 1000UL);

	vm = calloc(1, sizeof(*vm));
	if (!vm)
		return VMD_EXIT_VMM_ERROR;
	if (vm_create(vm, cfg)) {
		vm_destroy(vm);
		free(vm);
		return VMD_EXIT_VMM_ERROR;
	}
	vm->t_start_ns = t_start_ns;
	if (server_start(&srv, vm, cfg->socket_path, &vm->kcompactd, &vm->compactor)) {
		server_stop(&srv);
		vm_destroy(vm);
		free(vm);
		return VMD_EXIT_VMM_ERROR;
	}
	if (cfg->views)
		print_views(vm, "after boot");
	if (huge_reserve_start(&vm->reserve))
		fprintf(stderr, "vmdefrag: cannot start the huge reserve: huge requests free inline\n");
	if (paused) {
		/* as the socket's stop does; its cont undoes it */
		pthread_mutex_lock(&vm->lock);
		vm->user_paused = true;
		pthread_mutex_unlock(&vm->lock);
		vm_pause(vm);
	}
	for (unsigned int i = 0; i < cfg->nr_cpus; i++) {
		if (vcpu_start(&vm->vcpus[i])) {
			fprintf(stderr, "vmdefrag: cannot start vCPU %u\n", i);
			vm_stop(vm, VMD_EXIT_VMM_ERROR, VM_STOP_HOST_ERROR);
			break;
		}
	}
	if (kcompactd_start(&vm->kcompactd))
		fprintf(stderr, "vmdefrag: cannot start kcompactd: proactive compaction is off\n");

	serve(vm, &srv);
	server_flush(&srv);
	/* end compaction before the vCPUs: a move pauses them */
	kcompactd_stop(&vm->kcompactd);
	server_stop(&srv);
	for (unsigned int i = 0; i < cfg->nr_cpus; i++)
		vcpu_join(&vm->vcpus[i]);
	if (cfg->views)
		print_views(vm, "at exit");
	if (cfg->stats)
		print_stats(vm);
	code = vm->exit_code;
	vm_destroy(vm);
	free(vm);
	return code;
}

int cmd_run(int argc, char **argv, uint64_t t_start_ns)
{
	struct vm_config cfg = {
		.mem_bytes = 256ULL << 20,
		.nr_cpus = 1,
		.backing = POOL_MEMFD,
		.proactiveness = PROACTIVENESS_DEFAULT,
		.batch = COMPACT_CLUSTER_MAX,
		.huge_reserve = HUGE_RESERVE_DEFAULT,
	};
	bool paused = false;
	int code = parse_run_options(argc, argv, &cfg, &paused);

	return code >= 0 ? code : run_vm(&cfg, paused, t_start_ns);
}
