/* Command-line conventions every program here follows. */
#ifndef LIB_CLI_H
#define LIB_CLI_H

#include <stdbool.h>
#include <stdio.h>

/* --help prints the usage to stdout and exits 0; an unknown option or a
 * wrong number of arguments prints it to stderr and exits 2. Returns the
 * exit code. */
static inline int cli_usage_exit(void (*usage)(FILE *out), bool asked)
{
	usage(asked ? stdout : stderr);
	return asked ? 0 : 2;
}

#endif
