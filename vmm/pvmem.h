/* The paravirtual memory interface: the VMM's side of
 * guest/include/vmdefrag_abi.h. */
#ifndef VMM_PVMEM_H
#define VMM_PVMEM_H

#include <stdint.h>

struct vcpu;

/* Handles the request block at gpa (the guest interface). */
void pvmem_handle(struct vcpu *vcpu, uint64_t gpa);

#endif
