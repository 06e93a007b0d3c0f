/* The VMM's migrate_fn (see mm/compaction.h): copy, remap, punch. */
#ifndef VMM_MOVER_H
#define VMM_MOVER_H

#include "mm/compaction.h"

/* arg is the struct vm. Called with the zone lock held. */
void vmm_migrate(void *arg, struct migration *batch, unsigned int nr);

#endif
