/* What the memory workloads (tlbbench, gups, stream, bfs, kvstore,
 * btree) share: the span of memory they work in, prepared as prep= says,
 * the vCPUs they run on, and how they report.
 *
 * prep=none (default): the memory after the image, as booted;
 * prep=frag: fragment all memory like `fragment`, then populate the span
 *   again (its frames now scattered in the host's pool) and discard what
 *   lies beyond it;
 * prep=frag-huge: frag, then back-huge of every 2 MiB of the span
 *   (reports prep_back_huge_ranges, _host_huge, _stalls, _stall_max_us,
 *   and the loop's time, _us, of which _stall_us compacting for blocks).
 * seed= seeds the fragmentation (the workloads seed their own data with
 * it too). */
#ifndef WORKLOAD_H
#define WORKLOAD_H

#include <stdint.h>

/* The span: *bytes from mb= (default def_mb MiB), rounded down to 2 MiB
 * and clipped to what memory has, every page of it written once (present
 * before anything is timed). Returns its start. */
uint64_t workload_span(uint64_t def_mb, uint64_t *bytes);

/* Runs fn(cpu, arg) on every vCPU at once (vCPU 0 is the caller), and
 * returns when all are done. */
void workload_on_all(void (*fn)(unsigned int cpu, void *arg), void *arg);

/* Microseconds in a number of TSC cycles. */
uint64_t workload_us(uint64_t cycles);

/* The figure of merit, for tools/thp-bench: `report: score_x1000 N`,
 * N = score x 1000, and a line naming it for people. */
void workload_score(const char *name, const char *unit, uint64_t score_x1000);

#endif
