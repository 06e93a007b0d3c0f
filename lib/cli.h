/* Command-line conventions every program here follows. */
#ifndef LIB_CLI_H
#define LIB_CLI_H

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* --help prints the usage to stdout and exits 0; an unknown option or a
 * wrong number of arguments prints it to stderr and exits 2. Returns the
 * exit code. */
static inline int cli_usage_exit(void (*usage)(FILE *out), bool asked)
{
	usage(asked ? stdout : stderr);
	return asked ? 0 : 2;
}

/* --version prints "vmdefrag VERSION", or "PROGRAM (vmdefrag) VERSION" for
 * the other programs, to stdout. Returns the exit code, 0. */
static inline int cli_version(const char *program)
{
#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "unknown"	/* built outside automake */
#endif
	if (strcmp(program, "vmdefrag"))
		printf("%s (vmdefrag) %s\n", program, PACKAGE_VERSION);
	else
		printf("vmdefrag %s\n", PACKAGE_VERSION);
	return 0;
}

#endif
