/* The VMM's migrate_fn (see mm/compaction.h): copy and remap, the guest
 * held out; and its release(): the guest let go, the sources punched. */
#ifndef VMM_MOVER_H
#define VMM_MOVER_H

#include "mm/compaction.h"

/* arg is the struct vm. Called with the zone lock held. Leaves the vCPUs
 * paused when it moved anything: vmm_release() resumes them. */
void vmm_migrate(void *arg, struct migration *batch, unsigned int nr);

/* The compactor's release(), after every vmm_migrate() once the p2m names
 * the copies: resumes the vCPUs, and punches the sources of the moves
 * the p2m has switched (n of them, maybe none), before they are freed. */
void vmm_release(void *arg, uint32_t *pfns, unsigned int n);

/* The compactor's pace_due() (zone lock held): is the guest owed its turn
 * before the next pause? And its pace(), the zone lock let go: gives it
 * (vm_yield_to_guest). */
bool vmm_pace_due(void *arg);
void vmm_pace(void *arg);

#endif
