/* x86 setup: long mode at CPL 3 (page tables, GDT, TSS, registers). */
#ifndef VMM_X86_H
#define VMM_X86_H

struct vm;
struct vcpu;

int x86_setup_memory(struct vm *vm);
int x86_setup_vcpu(struct vm *vm, struct vcpu *vcpu);

#endif
