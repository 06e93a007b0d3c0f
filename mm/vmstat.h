/* The pool's views in the text formats of mm/vmstat.c: /proc/buddyinfo,
 * /proc/pagetypeinfo and debugfs extfrag/{extfrag,unusable}_index. The
 * pool is node 0's one zone, named VMSTAT_ZONE_NAME. Caller holds the
 * zone lock if others may change the zone meanwhile. */
#ifndef MM_VMSTAT_H
#define MM_VMSTAT_H

#include <stdio.h>

#include "mm/zone_alloc.h"

#define VMSTAT_ZONE_NAME	"Normal"

/* One /proc/buddyinfo line from free block counts per order. */
void print_buddyinfo_line(FILE *out, int node, const char *zone,
			 const uint64_t *nr_free, unsigned int nr_orders);

void vmstat_buddyinfo(FILE *out, const struct zone *z);
void vmstat_pagetypeinfo(FILE *out, const struct zone *z);
void vmstat_extfrag_index(FILE *out, const struct zone *z);
void vmstat_unusable_index(FILE *out, const struct zone *z);

/* The compaction and migration lines of /proc/vmstat, in its order. */
void vmstat_events(FILE *out, const struct zone *z);

/* The frame map: what each frame is, in the order of frame_kind_names
 * (query-frame-map, fragmap). */
enum frame_kind { FRAME_KIND_FREE, FRAME_KIND_MOVABLE, FRAME_KIND_UNMOVABLE, FRAME_KIND_PINNED,
		  FRAME_KIND_HUGE, FRAME_KIND_ISOLATED, NR_FRAME_KINDS };
extern const char *const frame_kind_names[NR_FRAME_KINDS];
enum frame_kind vmstat_frame_kind(const struct zone *z, uint32_t pfn);

/* Pageblocks of each migratetype (pagetypeinfo's second part). */
void vmstat_pageblock_counts(const struct zone *z, uint64_t count[MIGRATE_TYPES]);

#endif
