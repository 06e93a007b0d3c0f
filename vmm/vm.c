/* How a run goes: the vCPUs held out (pause) and let in again, and how it
 * ends (stop). Below everything that changes guest memory or runs the
 * guest, which all call it. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "mm/clock.h"
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
	pthread_cond_broadcast(&vm->entered_cond);
	pthread_mutex_unlock(&vm->lock);
}

void vm_pause(struct vm *vm)
{
	pthread_mutex_lock(&vm->lock);
	vm->pause_depth++;
	/* a vm_yield_to_guest() waiting for a vCPU to enter stops waiting */
	pthread_cond_broadcast(&vm->entered_cond);
	for (unsigned int i = 0; vm->vcpus && i < vm->cfg.nr_cpus; i++)
		if (vm->vcpus[i].started && vm->vcpus[i].in_guest) {
			vm->vcpus[i].owed_turn = true;
			vcpu_kick(&vm->vcpus[i]);
		}
	while (vm->in_guest)
		pthread_cond_wait(&vm->paused_cond, &vm->lock);
	pthread_mutex_unlock(&vm->lock);
}

bool vcpu_enter_guest(struct vcpu *vcpu)
{
	struct vm *vm = vcpu->vm;
	bool go, owed;

	pthread_mutex_lock(&vm->lock);
	while (vm->pause_depth && !vm->stopping)
		pthread_cond_wait(&vm->resume_cond, &vm->lock);
	go = !vm->stopping;
	if (go) {
		vcpu->in_guest = true;
		vcpu->entered_ns = mono_ns();
		vm->in_guest++;
	}
	owed = vcpu->owed_turn;
	pthread_mutex_unlock(&vm->lock);
	if (owed)
		pthread_cond_broadcast(&vm->entered_cond);
	return go;
}

void vcpu_leave_guest(struct vcpu *vcpu, bool exit)
{
	struct vm *vm = vcpu->vm;
	bool last;

	pthread_mutex_lock(&vm->lock);
	vcpu->in_guest = false;
	/* it ran, and is ours now: it may wait on a lock the mover holds,
	 * and a guest that exits often must not restart its turn at each
	 * entry */
	if (exit)
		vcpu->owed_turn = false;
	last = !--vm->in_guest;
	pthread_mutex_unlock(&vm->lock);
	/* after the unlock, as in vm_resume() */
	if (last)
		pthread_cond_broadcast(&vm->paused_cond);
}

/* With vm->lock held: until when the guest's turn must last (0 when every
 * owed turn is given); *entering when an owed vCPU is on its way back in. */
static uint64_t turn_pending(struct vm *vm, uint64_t min_run_ns, bool *entering)
{
	uint64_t now = mono_ns(), until = 0;

	*entering = false;
	for (unsigned int i = 0; vm->vcpus && i < vm->cfg.nr_cpus; i++) {
		struct vcpu *v = &vm->vcpus[i];

		if (!v->started || !v->owed_turn)
			continue;
		if (v->in_guest) {
			if (now - v->entered_ns >= min_run_ns)
				v->owed_turn = false;
			else if (v->entered_ns + min_run_ns > until)
				until = v->entered_ns + min_run_ns;
		} else {
			/* kicked, on its way back in (an exit to the VMM
			 * gave up the turn: vcpu_leave_guest) */
			*entering = true;
		}
	}
	return until;
}

bool vm_turn_owed(struct vm *vm, uint64_t min_run_ns)
{
	bool entering, owed;

	pthread_mutex_lock(&vm->lock);
	owed = !vm->pause_depth && !vm->stopping &&
	       (turn_pending(vm, min_run_ns, &entering) || entering);
	pthread_mutex_unlock(&vm->lock);
	return owed;
}

/* Why: a guest that only gets the moment between one resume and the next
 * pause can spend every such moment coming back in (a wake-up, KVM_RUN,
 * a fault on a frame just moved) and never get further: batches back to
 * back held one guest write out for up to 216 ms (defrag-bench). */
void vm_yield_to_guest(struct vm *vm, uint64_t min_run_ns)
{
	pthread_mutex_lock(&vm->lock);
	while (!vm->pause_depth && !vm->stopping) {
		bool entering;
		uint64_t until = turn_pending(vm, min_run_ns, &entering), now;

		if (entering) {
			pthread_cond_wait(&vm->entered_cond, &vm->lock);
			continue;
		}
		if (!until)
			break;
		pthread_mutex_unlock(&vm->lock);
		now = mono_ns();
		if (until > now)
			nanosleep(&(struct timespec){ .tv_sec = (time_t)((until - now) / 1000000000),
						      .tv_nsec = (long)((until - now) % 1000000000) }, NULL);
		pthread_mutex_lock(&vm->lock);
	}
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

void vcpu_mark_started(struct vcpu *vcpu)
{
	struct vm *vm = vcpu->vm;

	pthread_mutex_lock(&vm->lock);
	vcpu->started = true;
	/* a stop, or a pause that began while the thread was being made
	 * (it did not kick a vCPU not yet started, and waits for it) */
	if (vm->stopping) {
		vcpu_kick(vcpu);
	} else if (vm->pause_depth && vcpu->in_guest) {
		vcpu->owed_turn = true;
		vcpu_kick(vcpu);
	}
	pthread_mutex_unlock(&vm->lock);
}

void vcpu_kick(struct vcpu *vcpu)
{
	/* immediate_exit covers a kick that lands just before KVM_RUN */
	__atomic_store_n(&vcpu->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
	pthread_kill(vcpu->thread, VCPU_KICK_SIGNAL);
}
