/* Parsing /proc/buddyinfo text: "Node N, zone NAME c0 c1 ... cK". */
#ifndef TOOLS_BUDDYINFO_H
#define TOOLS_BUDDYINFO_H

#include <stdint.h>

#define BUDDYINFO_MAX_ORDERS	32

struct buddyinfo_line {
	int node;
	char zone[32];
	unsigned int nr_orders;
	uint64_t nr_free[BUDDYINFO_MAX_ORDERS];
};

/* Returns 0, or -1 when the line is not a buddyinfo line (the reason in
 * *why). */
int buddyinfo_parse_line(const char *text, struct buddyinfo_line *line, const char **why);

#endif
