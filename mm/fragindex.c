/* The kernel's fragmentation formulas, integer for integer, so that a
 * number printed here means what it means in debugfs. */
#include "mm/fragindex.h"

void fill_contig_page_info(const uint64_t *nr_free, unsigned int nr_orders,
			   unsigned int suitable_order, struct contig_page_info *info)
{
	info->free_pages = 0;
	info->free_blocks_total = 0;
	info->free_blocks_suitable = 0;
	for (unsigned int order = 0; order < nr_orders; order++) {
		uint64_t blocks = nr_free[order];

		info->free_blocks_total += blocks;
		info->free_pages += blocks << order;
		if (order >= suitable_order)
			info->free_blocks_suitable += blocks << (order - suitable_order);
	}
}

int fragmentation_index(unsigned int order, const struct contig_page_info *info)
{
	uint64_t requested = 1ULL << order;

	if (!info->free_blocks_total)
		return 0;
	if (info->free_blocks_suitable)
		return -1000;
	return 1000 - (int)((1000 + info->free_pages * 1000ULL / requested) /
			    info->free_blocks_total);
}

int unusable_free_index(unsigned int order, const struct contig_page_info *info)
{
	if (!info->free_pages)
		return 1000;
	return (int)((info->free_pages - (info->free_blocks_suitable << order)) * 1000ULL /
		     info->free_pages);
}

unsigned int extfrag_for_order(const uint64_t *nr_free, unsigned int nr_orders,
			       unsigned int order)
{
	struct contig_page_info info;

	fill_contig_page_info(nr_free, nr_orders, order, &info);
	if (!info.free_pages)
		return 0;
	return (unsigned int)((info.free_pages - (info.free_blocks_suitable << order)) * 100 /
			      info.free_pages);
}

#define COMPACTION_HPAGE_ORDER	9

unsigned int fragmentation_score(const uint64_t *nr_free, unsigned int nr_orders,
				 uint64_t present_pages)
{
	/* fragmentation_score_zone_weighted() with the node's only zone */
	return (unsigned int)(present_pages *
			      extfrag_for_order(nr_free, nr_orders, COMPACTION_HPAGE_ORDER) /
			      (present_pages + 1));
}

unsigned int fragmentation_score_wmark(unsigned int proactiveness, int low)
{
	/* the low mark is capped so proactiveness near 100 cannot spin */
	unsigned int wmark_low = proactiveness > 95 ? 5 : 100 - proactiveness;

	if (low)
		return wmark_low;
	return wmark_low + 10 < 100 ? wmark_low + 10 : 100;
}

/* One line of an index per order, as the kernel prints it: the integer
 * part in width columns, three decimals. */
static void print_index_line(FILE *out, int node, const char *zone, const uint64_t *nr_free,
			     unsigned int nr_orders,
			     int (*index_of)(unsigned int, const struct contig_page_info *),
			     int width)
{
	fprintf(out, "Node %d, zone %8s ", node, zone);
	for (unsigned int order = 0; order < nr_orders; order++) {
		struct contig_page_info info;
		int index;

		fill_contig_page_info(nr_free, nr_orders, order, &info);
		index = index_of(order, &info);
		fprintf(out, "%*d.%03d ", width, index / 1000, index % 1000);
	}
	fputc('\n', out);
}

void print_extfrag_line(FILE *out, int node, const char *zone,
			const uint64_t *nr_free, unsigned int nr_orders)
{
	print_index_line(out, node, zone, nr_free, nr_orders, fragmentation_index, 2);
}

void print_unusable_line(FILE *out, int node, const char *zone,
			 const uint64_t *nr_free, unsigned int nr_orders)
{
	print_index_line(out, node, zone, nr_free, nr_orders, unusable_free_index, 1);
}
