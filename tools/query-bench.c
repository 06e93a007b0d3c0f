/* query-bench: how long each query of the control socket takes, as a
 * client sees it (request written to reply read), over ROUNDS rounds:
 * median and worst per command. The commands come from the VMM's own
 * query-commands: every query-* there is measured.
 *
 *   usage: query-bench SOCKET [ROUNDS]   (default 20) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tools/qmp_client.h"

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	struct json_object *reply, *list;
	struct qmp_client *c;
	char err[512];
	int rounds = argc > 2 ? atoi(argv[2]) : 20;
	double *ms;

	if (argc < 2 || argc > 3 || rounds < 1) {
		fprintf(stderr, "usage: query-bench SOCKET [ROUNDS]\n");
		return 2;
	}
	c = qmp_connect(argv[1], err, sizeof(err));
	if (!c) {
		fprintf(stderr, "query-bench: %s: %s\n", argv[1], err);
		return 1;
	}
	reply = qmp_execute(c, "query-commands", NULL, err, sizeof(err));
	if (!reply || !json_object_object_get_ex(reply, "return", &list)) {
		fprintf(stderr, "query-bench: query-commands: %s\n", reply ? "no return" : err);
		return 1;
	}
	ms = calloc((size_t)rounds, sizeof(*ms));
	printf("%-22s %10s %10s  (%d rounds)\n", "command", "median ms", "worst ms", rounds);
	for (size_t i = 0; i < json_object_array_length(list); i++) {
		const char *name = json_object_get_string(
			json_object_object_get(json_object_array_get_idx(list, i), "name"));

		if (strncmp(name, "query-", 6))
			continue;
		for (int r = 0; r < rounds; r++) {
			double t0 = now_ms();
			struct json_object *q = qmp_execute(c, name, NULL, err, sizeof(err));

			ms[r] = now_ms() - t0;
			if (!q || !json_object_object_get_ex(q, "return", NULL)) {
				fprintf(stderr, "query-bench: %s: %s\n", name, q ? json_object_to_json_string(q) : err);
				return 1;
			}
			json_object_put(q);
		}
		qsort(ms, (size_t)rounds, sizeof(*ms), cmp_double);
		printf("%-22s %10.3f %10.3f\n", name, ms[rounds / 2], ms[rounds - 1]);
	}
	json_object_put(reply);
	free(ms);
	qmp_close(c);
	return 0;
}
