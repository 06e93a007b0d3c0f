/* /proc/buddyinfo parser, strict: a malformed line is an error, not zeros. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/buddyinfo.h"

int buddyinfo_parse_line(const char *text, struct buddyinfo_line *line, const char **why)
{
	const char *p;
	int used = 0;

	memset(line, 0, sizeof(*line));
	if (sscanf(text, "Node %d, zone %31s%n", &line->node, line->zone, &used) != 2) {
		*why = "expected \"Node N, zone NAME\"";
		return -1;
	}
	p = text + used;
	for (;;) {
		char *end;
		unsigned long long v;

		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\n' || *p == '\0')
			break;
		if (!isdigit((unsigned char)*p)) {
			*why = "a free count is not a number";
			return -1;
		}
		if (line->nr_orders == BUDDYINFO_MAX_ORDERS) {
			*why = "too many orders";
			return -1;
		}
		errno = 0;
		v = strtoull(p, &end, 10);
		if (errno) {
			*why = "a free count is out of range";
			return -1;
		}
		line->nr_free[line->nr_orders++] = v;
		p = end;
	}
	if (!line->nr_orders) {
		*why = "no free counts";
		return -1;
	}
	return 0;
}
