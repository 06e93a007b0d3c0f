/* Fragmentation metrics with the kernel's integer formulas (mm/vmstat.c,
 * mm/compaction.c), computed from free block counts per order - the
 * numbers of one /proc/buddyinfo line - so they apply equally to the
 * pool and to the host's own zones. */
#ifndef MM_FRAGINDEX_H
#define MM_FRAGINDEX_H

#include <stdint.h>
#include <stdio.h>

struct contig_page_info {
	uint64_t free_pages;
	uint64_t free_blocks_total;
	uint64_t free_blocks_suitable;
};

void fill_contig_page_info(const uint64_t *nr_free, unsigned int nr_orders,
			   unsigned int suitable_order, struct contig_page_info *info);

/* extfrag_index in thousandths: -1000 when a block of the order is free,
 * 0 when nothing is free, else towards 1000 as failure is due to
 * fragmentation rather than lack of memory. */
int fragmentation_index(unsigned int order, const struct contig_page_info *info);

/* unusable_index in thousandths: the share of free memory unusable for
 * an allocation of this order (1000 when nothing is free). */
int unusable_free_index(unsigned int order, const struct contig_page_info *info);

/* extfrag_for_order(): the same share in percent. */
unsigned int extfrag_for_order(const uint64_t *nr_free, unsigned int nr_orders,
			       unsigned int order);

/* Proactive compaction's fragmentation score of a node holding one zone of
 * present_pages frames (fragmentation_score_node()), 0..100. */
unsigned int fragmentation_score(const uint64_t *nr_free, unsigned int nr_orders,
				 uint64_t present_pages);

/* kcompactd's watermarks for a proactiveness of 0..100
 * (fragmentation_score_wmark()). */
unsigned int fragmentation_score_wmark(unsigned int proactiveness, int low);

/* One line of debugfs extfrag/extfrag_index or extfrag/unusable_index, for
 * the zone whose buddyinfo line gave nr_free. */
void print_extfrag_line(FILE *out, int node, const char *zone,
			const uint64_t *nr_free, unsigned int nr_orders);
void print_unusable_line(FILE *out, int node, const char *zone,
			 const uint64_t *nr_free, unsigned int nr_orders);

#endif
