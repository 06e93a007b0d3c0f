/* Huge regions for the guest: back-huge and plug-huge (see huge.c). */
#ifndef VMM_HUGE_H
#define VMM_HUGE_H

#include <stdint.h>

struct vm;

/* back-huge and plug-huge (see vmdefrag_abi.h); status codes.
 * Called without the zone lock. */
int huge_back(struct vm *vm, uint64_t gpa, uint64_t *huge, uint64_t *stall_ns);
int huge_plug(struct vm *vm, unsigned int order, uint64_t *gpa, uint64_t *huge, uint64_t *stall_ns);
int huge_init(struct vm *vm);
void huge_destroy(struct vm *vm);

#endif
