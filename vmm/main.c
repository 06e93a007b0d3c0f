/* vmdefrag: a KVM VMM whose point is guest memory. */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "lib/cli.h"
#include "lib/failpoint.h"
#include "mm/clock.h"
#include "vmm/builtin.h"
#include "vmm/vm.h"

static const struct {
	const char *name;
	int (*fn)(int argc, char **argv, uint64_t t_start_ns);
	const char *help;
} commands[] = {
	{ "run", cmd_run, "boot a guest and serve it" },
};

static void usage(FILE *out)
{
	fprintf(out, "usage: vmdefrag COMMAND [options]\n       vmdefrag --help | --version\ncommands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(out, "  %-8s %s\n", commands[i].name, commands[i].help);
	fprintf(out, "vmdefrag COMMAND --help says more.\n");
}

int main(int argc, char **argv)
{
	uint64_t t_start = mono_ns();

	/* a peer that has gone (a control client, a closed stdout pipe) is an
	 * error to handle where the write fails, never a reason to die */
	signal(SIGPIPE, SIG_IGN);
	/* tests ask for it to learn whether failpoints are compiled in */
	FAILPOINT("start");
	if (argc == 2 && !strcmp(argv[1], "--version"))
		return cli_version("vmdefrag");
	if (argc >= 2) {
		for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
			if (!strcmp(argv[1], commands[i].name))
				return commands[i].fn(argc - 1, argv + 1, t_start);
	}
	return cli_usage_exit(usage, argc == 2 && !strcmp(argv[1], "--help"));
}
