/* vmdefrag-ctl watch: the pool's state redrawn every second. */
#ifndef TOOLS_CTL_WATCH_H
#define TOOLS_CTL_WATCH_H

#include <stdbool.h>

#include "tools/qmp_client.h"

/* Draws until q, SIGINT or SIGTERM (or once); 0, or 1 when the
 * connection failed. */
int ctl_watch(struct qmp_client *c, const char *socket, bool once);

#endif
