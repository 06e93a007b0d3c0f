/* fragindex: prints debugfs extfrag/extfrag_index (or, with --unusable,
 * unusable_index) computed from text in /proc/buddyinfo's format. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/cli.h"
#include "mm/fragindex.h"
#include "tools/buddyinfo.h"

static void usage(FILE *out)
{
	fprintf(out,
		"usage: fragindex [--unusable] [FILE]\n"
		"       fragindex --help | --version\n"
		"Reads /proc/buddyinfo-format text (default /proc/buddyinfo, - for stdin)\n"
		"and prints what the kernel prints in debugfs extfrag/extfrag_index,\n"
		"or with --unusable extfrag/unusable_index.\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "unusable", no_argument, NULL, 'u' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *path = "/proc/buddyinfo";
	int unusable = 0, c, lineno = 0, status = 0;
	char text[1024];
	FILE *in;

	while ((c = getopt_long(argc, argv, "uh", opts, NULL)) != -1) {
		switch (c) {
		case 'u':
			unusable = 1;
			break;
		case 'h':
			return cli_usage_exit(usage, true);
		case 'V':
			return cli_version("fragindex");
		default:
			return cli_usage_exit(usage, false);
		}
	}
	if (optind + 1 < argc) {
		usage(stderr);
		return 2;
	}
	if (optind < argc)
		path = argv[optind];
	in = strcmp(path, "-") ? fopen(path, "r") : stdin;
	if (!in) {
		fprintf(stderr, "fragindex: %s: %s\n", path, strerror(errno));
		return 1;
	}
	while (fgets(text, sizeof(text), in)) {
		struct buddyinfo_line line;
		const char *why;

		lineno++;
		if (buddyinfo_parse_line(text, &line, &why)) {
			fprintf(stderr, "fragindex: %s:%d: %s\n", path, lineno, why);
			status = 1;
			break;
		}
		if (unusable)
			print_unusable_line(stdout, line.node, line.zone, line.nr_free, line.nr_orders);
		else
			print_extfrag_line(stdout, line.node, line.zone, line.nr_free, line.nr_orders);
	}
	if (!status && !lineno) {
		fprintf(stderr, "fragindex: %s: no buddyinfo lines\n", path);
		status = 1;
	}
	if (in != stdin)
		fclose(in);
	return status;
}
