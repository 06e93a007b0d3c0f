/* A vCPU's thread: KVM_RUN and the exits it handles (struct vcpu is in
 * vm.h, with the run state the thread keeps). */
#ifndef VMM_VCPU_H
#define VMM_VCPU_H

struct vm;
struct vcpu;

int vcpu_create(struct vm *vm, struct vcpu *vcpu, unsigned int id);
int vcpu_start(struct vcpu *vcpu);
void vcpu_join(struct vcpu *vcpu);
void vcpu_destroy(struct vcpu *vcpu);
/* Prints why the guest crashed, with the vCPU's registers, and stops. */
void vcpu_crash(struct vcpu *vcpu, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
