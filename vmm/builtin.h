/* vmdefrag's subcommands, one file each, listed in main.c. */
#ifndef VMM_BUILTIN_H
#define VMM_BUILTIN_H

#include <stdint.h>

int cmd_run(int argc, char **argv, uint64_t t_start_ns);

/* "256M" -> bytes (K, M, G suffixes). */
int parse_size(const char *text, uint64_t *out);

#endif
