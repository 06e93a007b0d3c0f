/* A vCPU: its KVM fd and run area, and the thread that runs it. */
#ifndef VMM_VCPU_H
#define VMM_VCPU_H

#include <linux/kvm.h>
#include <pthread.h>
#include <stdbool.h>

struct vm;

struct vcpu {
	struct vm *vm;
	unsigned int id;
	int fd;
	struct kvm_run *run;
	pthread_t thread;
	bool started;
	bool done;			/* the guest said VMD_OP_VCPU_DONE */
	bool in_guest;			/* inside KVM_RUN (vm->lock) */
};

int vcpu_create(struct vm *vm, struct vcpu *vcpu, unsigned int id);
int vcpu_start(struct vcpu *vcpu);
void vcpu_kick(struct vcpu *vcpu);
void vcpu_join(struct vcpu *vcpu);
void vcpu_destroy(struct vcpu *vcpu);
/* Prints why the guest crashed, with the vCPU's registers, and stops. */
void vcpu_crash(struct vcpu *vcpu, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
