/* vCPU threads: KVM_RUN, exits, crashes, kicks. */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "guest/include/vmdefrag_abi.h"
#include "vmm/pvmem.h"
#include "vmm/vcpu.h"
#include "vmm/vm.h"
#include "vmm/x86.h"


static void kick_handler(int sig)
{
	(void)sig;	/* only here to interrupt KVM_RUN */
}

int vcpu_create(struct vm *vm, struct vcpu *vcpu, unsigned int id)
{
	int err;

	vcpu->vm = vm;
	vcpu->id = id;
	vcpu->fd = ioctl(vm->vm_fd, KVM_CREATE_VCPU, id);
	if (vcpu->fd < 0) {
		err = -errno;
		fprintf(stderr, "vmdefrag: KVM_CREATE_VCPU %u: %s\n", id, strerror(errno));
		return err;
	}
	vcpu->run = mmap(NULL, vm->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu->fd, 0);
	if (vcpu->run == MAP_FAILED) {
		vcpu->run = NULL;
		return -errno;
	}
	if (id == 0) {
		int khz = ioctl(vcpu->fd, KVM_GET_TSC_KHZ, 0);

		vm->tsc_khz = khz > 0 ? (uint32_t)khz : 0;
	}
	err = x86_setup_vcpu(vm, vcpu);
	if (err)
		fprintf(stderr, "vmdefrag: cannot set up vCPU %u: %s\n", id, strerror(-err));
	return err;
}

void vcpu_destroy(struct vcpu *vcpu)
{
	if (vcpu->run)
		munmap(vcpu->run, vcpu->vm->run_size);
	if (vcpu->fd > 0)
		close(vcpu->fd);
	vcpu->run = NULL;
	vcpu->fd = -1;
}

/* The general registers, and for each that holds a guest address what
 * backs its page now: what tells a guest that touched a page it discarded
 * from a VMM that lost a mapping. */
static void print_regs(struct vm *vm, const struct kvm_regs *r)
{
	const struct { const char *name; unsigned long long v; } regs[] = {
		{ "rax", r->rax }, { "rbx", r->rbx }, { "rcx", r->rcx }, { "rdx", r->rdx },
		{ "rsi", r->rsi }, { "rdi", r->rdi }, { "rbp", r->rbp }, { "r8", r->r8 },
		{ "r9", r->r9 }, { "r10", r->r10 }, { "r11", r->r11 }, { "r12", r->r12 },
		{ "r13", r->r13 }, { "r14", r->r14 }, { "r15", r->r15 },
	};

	for (unsigned int i = 0; i < sizeof(regs) / sizeof(regs[0]); i++) {
		uint64_t gfn = regs[i].v >> FRAME_SHIFT;
		uint32_t pfn;

		if (regs[i].v < 0x200000 || regs[i].v >= vm->guest_bytes) {
			fprintf(stderr, "vmdefrag:   %-3s 0x%llx\n", regs[i].name, regs[i].v);
			continue;
		}
		zone_lock(&vm->pool.zone);
		pfn = p2m_lookup(&vm->p2m, (uint32_t)gfn);
		zone_unlock(&vm->pool.zone);
		if (pfn == PFN_NONE)
			fprintf(stderr, "vmdefrag:   %-3s 0x%llx: guest frame %lu is a hole (not populated)\n",
				regs[i].name, regs[i].v, (unsigned long)gfn);
		else
			fprintf(stderr, "vmdefrag:   %-3s 0x%llx: guest frame %lu is pool frame %u\n",
				regs[i].name, regs[i].v, (unsigned long)gfn, pfn);
	}
}

void vcpu_crash(struct vcpu *vcpu, const char *fmt, ...)
{
	struct kvm_regs regs;
	char why[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	if (ioctl(vcpu->fd, KVM_GET_REGS, &regs) == 0) {
		fprintf(stderr, "vmdefrag: guest crashed on vCPU %u: %s (rip 0x%llx, rsp 0x%llx, "
			"rflags 0x%llx)\n", vcpu->id, why, regs.rip, regs.rsp, regs.rflags);
		print_regs(vcpu->vm, &regs);
	} else {
		fprintf(stderr, "vmdefrag: guest crashed on vCPU %u: %s\n", vcpu->id, why);
	}
	vm_stop(vcpu->vm, VMD_EXIT_CRASH, VM_STOP_GUEST_PANIC);
}

static void handle_io(struct vcpu *vcpu)
{
	struct kvm_run *run = vcpu->run;
	uint8_t *data = (uint8_t *)run + run->io.data_offset;

	if (run->io.port == VMD_PORT && run->io.direction == KVM_EXIT_IO_OUT &&
	    run->io.size == 4 && run->io.count == 1) {
		uint32_t gpa;

		memcpy(&gpa, data, sizeof(gpa));
		pvmem_handle(vcpu, gpa);
		return;
	}
	/* nothing else lives on the I/O bus: reads float high, writes vanish */
	if (run->io.direction == KVM_EXIT_IO_IN)
		memset(data, 0xff, (size_t)run->io.size * run->io.count);
}

static void *vcpu_thread(void *arg)
{
	struct vcpu *vcpu = arg;
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, VCPU_KICK_SIGNAL);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	while (!vcpu->done && vcpu_enter_guest(vcpu)) {
		struct kvm_run *run = vcpu->run;
		int ret = ioctl(vcpu->fd, KVM_RUN, 0), err = errno;

		/* anything but a kick is an exit the VMM handles (a crash
		 * too: it takes the zone lock to print the registers) */
		vcpu_leave_guest(vcpu, !(ret < 0 && (err == EINTR || err == EAGAIN)));
		errno = err;
		if (ret < 0) {
			if (errno == EINTR || errno == EAGAIN) {
				__atomic_store_n(&run->immediate_exit, 0, __ATOMIC_SEQ_CST);
				continue;
			}
			if (errno == EFAULT)
				vcpu_crash(vcpu, "KVM_RUN: bad address: the guest touched memory that is "
					   "not backed (a page it discarded?)");
			else
				vcpu_crash(vcpu, "KVM_RUN: %s", strerror(errno));
			break;
		}
		switch (run->exit_reason) {
		case KVM_EXIT_IO:
			handle_io(vcpu);
			break;
		case KVM_EXIT_SHUTDOWN:
			vcpu_crash(vcpu, "triple fault (an exception; guests have no IDT)");
			break;
		case KVM_EXIT_HLT:
			vcpu_crash(vcpu, "hlt");
			break;
		case KVM_EXIT_MMIO:
			vcpu_crash(vcpu, "%s of guest-physical 0x%llx, outside guest memory",
				   run->mmio.is_write ? "write" : "read", run->mmio.phys_addr);
			break;
		case KVM_EXIT_FAIL_ENTRY:
			vcpu_crash(vcpu, "KVM entry failed, hardware reason 0x%llx",
				   run->fail_entry.hardware_entry_failure_reason);
			break;
		case KVM_EXIT_INTERNAL_ERROR:
			vcpu_crash(vcpu, "KVM internal error, suberror %u", run->internal.suberror);
			break;
		case KVM_EXIT_INTR:
			break;
		default:
			vcpu_crash(vcpu, "unexpected KVM exit reason %u", run->exit_reason);
			break;
		}
	}
	return NULL;
}

int vcpu_start(struct vcpu *vcpu)
{
	static bool installed;
	int err;

	if (!installed) {
		struct sigaction sa;

		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = kick_handler;	/* no SA_RESTART: KVM_RUN must return */
		sigaction(VCPU_KICK_SIGNAL, &sa, NULL);
		installed = true;
	}
	err = pthread_create(&vcpu->thread, NULL, vcpu_thread, vcpu);
	if (err)
		return -err;
	vcpu_mark_started(vcpu);
	return 0;
}


void vcpu_join(struct vcpu *vcpu)
{
	bool started;

	pthread_mutex_lock(&vcpu->vm->lock);
	started = vcpu->started;
	vcpu->started = false;
	pthread_mutex_unlock(&vcpu->vm->lock);
	if (started)
		pthread_join(vcpu->thread, NULL);
}
