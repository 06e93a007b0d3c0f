/* How a run goes: the vCPUs held out (pause) and let in again, and how it
 * ends (stop). Below everything that changes guest memory or runs the
 * guest, which all call it. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

#include "vmm/vm.h"

const char *vm_stop_reason_name(enum vm_stop_reason why)
{
	static const char *const names[] = {
		[VM_STOP_HOST_ERROR] = "host-error",
		[VM_STOP_HOST_QMP_QUIT] = "host-qmp-quit",
		[VM_STOP_HOST_SIGNAL] = "host-signal",
		[VM_STOP_GUEST_SHUTDOWN] = "guest-shutdown",
		[VM_STOP_GUEST_PANIC] = "guest-panic",
	};

	return names[why];
}

void vm_stop(struct vm *vm, int code, enum vm_stop_reason why)
{
	uint64_t one = 1;

	/* a vCPU in a long request stops at its next step */
	guest_mem_stop(&vm->gm);
	pthread_mutex_lock(&vm->lock);
	if (!vm->stopping) {
		vm->stopping = true;
		vm->exit_code = code;
		vm->stop_reason = why;
		if (write(vm->stop_efd, &one, sizeof(one)) < 0)
			perror("vmdefrag: eventfd");
	}
	/* a vCPU started later kicks itself (vcpu_start) */
	for (unsigned int i = 0; vm->vcpus && i < vm->cfg.nr_cpus; i++)
		if (vm->vcpus[i].started)
			vcpu_kick(&vm->vcpus[i]);
	pthread_cond_broadcast(&vm->resume_cond);
	pthread_mutex_unlock(&vm->lock);
}

void vm_pause(struct vm *vm)
{
	pthread_mutex_lock(&vm->lock);
	vm->pause_depth++;
	for (unsigned int i = 0; vm->vcpus && i < vm->cfg.nr_cpus; i++)
		if (vm->vcpus[i].started && vm->vcpus[i].in_guest)
			vcpu_kick(&vm->vcpus[i]);
	while (vm->in_guest)
		pthread_cond_wait(&vm->paused_cond, &vm->lock);
	pthread_mutex_unlock(&vm->lock);
}

void vm_resume(struct vm *vm)
{
	bool last;

	pthread_mutex_lock(&vm->lock);
	last = vm->pause_depth && !--vm->pause_depth;
	pthread_mutex_unlock(&vm->lock);
	/* woken after the unlock: a vCPU woken first would only block on
	 * the lock, and may take the CPU from the thread that holds it */
	if (last)
		pthread_cond_broadcast(&vm->resume_cond);
}

void vcpu_kick(struct vcpu *vcpu)
{
	/* immediate_exit covers a kick that lands just before KVM_RUN */
	__atomic_store_n(&vcpu->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
	pthread_kill(vcpu->thread, VCPU_KICK_SIGNAL);
}
