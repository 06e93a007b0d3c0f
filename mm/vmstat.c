/* Text views of the pool, byte for byte in the kernel's formats. */
#include "mm/fragindex.h"
#include "mm/vmstat.h"

const char *const vm_event_names[NR_VM_EVENTS] = {
	[PGMIGRATE_SUCCESS] = "pgmigrate_success",
	[PGMIGRATE_FAIL] = "pgmigrate_fail",
	[COMPACTMIGRATE_SCANNED] = "compact_migrate_scanned",
	[COMPACTFREE_SCANNED] = "compact_free_scanned",
	[COMPACTISOLATED] = "compact_isolated",
	[COMPACTSTALL] = "compact_stall",
	[COMPACTFAIL] = "compact_fail",
	[COMPACTSUCCESS] = "compact_success",
	[KCOMPACTD_WAKE] = "compact_daemon_wake",
	[KCOMPACTD_MIGRATE_SCANNED] = "compact_daemon_migrate_scanned",
	[KCOMPACTD_FREE_SCANNED] = "compact_daemon_free_scanned",
};

void vmstat_events(FILE *out, const struct zone *z)
{
	for (unsigned int i = 0; i < NR_VM_EVENTS; i++)
		fprintf(out, "%s %lu\n", vm_event_names[i], (unsigned long)z->events[i]);
}

/* "Node N, zone NAME " and n counts in width columns: a line of
 * buddyinfo, or pagetypeinfo's blocks per type. */
static void print_counts_line(FILE *out, int node, const char *zone, const uint64_t *count,
			      unsigned int n, int width)
{
	fprintf(out, "Node %d, zone %8s ", node, zone);
	for (unsigned int i = 0; i < n; i++)
		fprintf(out, "%*lu ", width, (unsigned long)count[i]);
	fputc('\n', out);
}

void print_buddyinfo_line(FILE *out, int node, const char *zone,
			 const uint64_t *nr_free, unsigned int nr_orders)
{
	print_counts_line(out, node, zone, nr_free, nr_orders, 6);
}

void vmstat_buddyinfo(FILE *out, const struct zone *z)
{
	uint64_t nr_free[NR_ORDERS];

	zone_nr_free(z, nr_free);
	print_buddyinfo_line(out, 0, VMSTAT_ZONE_NAME, nr_free, NR_ORDERS);
}

/* The kernel walks each free list and stops counting at 100000, printing
 * ">100000", so as not to hold the zone lock too long; we count without a
 * walk, and print what it would. */
#define PAGETYPEINFO_MAX_COUNT	100000

void vmstat_pageblock_counts(const struct zone *z, uint64_t count[MIGRATE_TYPES])
{
	for (unsigned int t = 0; t < MIGRATE_TYPES; t++)
		count[t] = 0;
	for (uint32_t pb = 0; pb < z->nr_pageblocks; pb++)
		count[z->pageblock[pb] & PB_MT_MASK]++;
}

void vmstat_pagetypeinfo(FILE *out, const struct zone *z)
{
	uint64_t count[MIGRATE_TYPES];

	fprintf(out, "Page block order: %u\n", z->pageblock_order);
	fprintf(out, "Pages per block:  %lu\n", (unsigned long)pageblock_nr_frames(z));
	fputc('\n', out);

	fprintf(out, "%-43s ", "Free pages count per migrate type at order");
	for (unsigned int order = 0; order < NR_ORDERS; order++)
		fprintf(out, "%6d ", order);
	fputc('\n', out);
	for (unsigned int mt = 0; mt < MIGRATE_TYPES; mt++) {
		fprintf(out, "Node %4d, zone %8s, type %12s ", 0, VMSTAT_ZONE_NAME,
			migratetype_names[mt]);
		uint64_t nr_free[NR_ORDERS];

		zone_nr_free_type(z, (enum migratetype)mt, nr_free);
		for (unsigned int order = 0; order < NR_ORDERS; order++) {
			bool overflow = nr_free[order] >= PAGETYPEINFO_MAX_COUNT;

			fprintf(out, "%s%6lu ", overflow ? ">" : "",
				(unsigned long)(overflow ? PAGETYPEINFO_MAX_COUNT : nr_free[order]));
		}
		fputc('\n', out);
	}

	fprintf(out, "\n%-23s", "Number of blocks type ");
	for (unsigned int mt = 0; mt < MIGRATE_TYPES; mt++)
		fprintf(out, "%12s ", migratetype_names[mt]);
	fputc('\n', out);
	vmstat_pageblock_counts(z, count);
	print_counts_line(out, 0, VMSTAT_ZONE_NAME, count, MIGRATE_TYPES, 12);
}

void vmstat_extfrag_index(FILE *out, const struct zone *z)
{
	uint64_t nr_free[NR_ORDERS];

	zone_nr_free(z, nr_free);
	print_extfrag_line(out, 0, VMSTAT_ZONE_NAME, nr_free, NR_ORDERS);
}

void vmstat_unusable_index(FILE *out, const struct zone *z)
{
	uint64_t nr_free[NR_ORDERS];

	zone_nr_free(z, nr_free);
	print_unusable_line(out, 0, VMSTAT_ZONE_NAME, nr_free, NR_ORDERS);
}

const char *const frame_kind_names[NR_FRAME_KINDS] = {
	"free", "movable", "unmovable", "pinned", "huge", "isolated",
};

enum frame_kind vmstat_frame_kind(const struct zone *z, uint32_t pfn)
{
	const struct frame *f = &z->frames[pfn];

	if (f->state == FRAME_FREE)
		return pageblock_migratetype(z, pfn) == MIGRATE_ISOLATE ? FRAME_KIND_ISOLATED :
									  FRAME_KIND_FREE;
	if (f->flags & FRAME_PINNED)
		return FRAME_KIND_PINNED;
	if (f->flags & FRAME_HUGE)
		return FRAME_KIND_HUGE;
	return f->mt == MIGRATE_MOVABLE && f->use.gfn != PFN_NONE ? FRAME_KIND_MOVABLE :
								    FRAME_KIND_UNMOVABLE;
}
