/* Creating and tearing down the VM (vm_setup.c). */
#ifndef VMM_VM_SETUP_H
#define VMM_VM_SETUP_H

#include "vmm/vm.h"

/* Creates the VM cfg describes: KVM, the pool, guest memory, compaction,
 * the huge machinery, the guest loaded, the vCPUs made (not started).
 * 0, or a negative errno with the reason printed; vm_destroy() undoes it
 * either way. */
int vm_create(struct vm *vm, const struct vm_config *cfg);
/* The part of vm_create() that needs no KVM: the pool, guest memory
 * booted (populated in order), compaction and the huge machinery. The
 * memslots are KVM's; without them, guest memory is what the VMM maps.
 * For tests and fuzzing; vm_destroy() undoes either. */
int vm_create_memory(struct vm *vm, const struct vm_config *cfg);
void vm_destroy(struct vm *vm);

#endif
