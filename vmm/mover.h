/* The VMM's migrate_fn (see mm/compaction.h): copy and remap; and its
 * release(): punch. */
#ifndef VMM_MOVER_H
#define VMM_MOVER_H

#include "mm/compaction.h"

/* arg is the struct vm. Called with the zone lock held. */
void vmm_migrate(void *arg, struct migration *batch, unsigned int nr);

/* The compactor's release(): punches the sources of moves the p2m has
 * switched, before they are freed. */
void vmm_release(void *arg, uint32_t *pfns, unsigned int n);

#endif
