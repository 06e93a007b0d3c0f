/* The VM: KVM handles, guest memory over the frame pool, vCPUs, and how a
 * run ends. One struct vm per process (kvmtool's struct kvm).
 *
 * Locking, outermost first: huge_lock (huge.c), the guest memory lock
 * and the zone lock (guest_mem.h), vm->lock (the run state below it). */
#ifndef VMM_VM_H
#define VMM_VM_H

#include <linux/kvm.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "mm/huge_reserve.h"
#include "mm/kcompactd.h"
#include "mm/p2m.h"
#include "mm/page_alloc.h"
#include "mm/pool.h"
#include "vmm/guest_mem.h"

struct huge_copier;

#define VCPU_KICK_SIGNAL	SIGUSR1	/* takes a vCPU out of KVM_RUN */

struct vcpu {
	struct vm *vm;
	unsigned int id;
	int fd;
	struct kvm_run *run;
	pthread_t thread;
	bool started;
	bool done;			/* the guest said VMD_OP_VCPU_DONE */
	bool in_guest;			/* inside KVM_RUN (vm->lock) */
	bool owed_turn;			/* a pause kicked it out of the guest
					 * (vm->lock): vm_yield_to_guest() lets
					 * it back */
	uint64_t entered_ns;		/* when it last entered KVM_RUN (vm->lock) */
};

struct vm_config {
	const char *guest_path;
	uint64_t mem_bytes;
	unsigned int nr_cpus;
	enum pool_backing backing;
	const char *backing_path;	/* POOL_FILE: a new file, see pool_create_file() */
	struct pool_file_opts backing_opts;
	enum zone_allocator allocator;	/* --allocator: who owns the free frames */
	const char *args;		/* --args, handed to the guest */
	bool stats;			/* print memory and timing figures at exit */
	bool views;			/* print buddyinfo & co. at start and exit */
	const char *socket_path;	/* --socket: the control socket */
	unsigned int proactiveness;	/* kcompactd's, 0..100 */
	unsigned int batch;		/* frames per move batch (one vCPU pause) */
	uint64_t plug_bytes;		/* guest-physical space after RAM for plug-huge;
					 * its frames come from the same pool */
	unsigned int huge_reserve;	/* blocks kept ready as host huge pages */
};

/* Why a run ends, as QEMU's SHUTDOWN event tells it. */
enum vm_stop_reason {
	VM_STOP_HOST_ERROR,		/* the VMM failed */
	VM_STOP_HOST_QMP_QUIT,		/* quit on the control socket */
	VM_STOP_HOST_SIGNAL,		/* SIGINT, SIGTERM */
	VM_STOP_GUEST_SHUTDOWN,		/* the guest's exit, or every vCPU done */
	VM_STOP_GUEST_PANIC,		/* the guest crashed or failed an assertion */
};

struct vm {
	struct vm_config cfg;
	int kvm_fd;
	int vm_fd;
	size_t run_size;
	struct pool pool;
	struct p2m p2m;
	struct guest_mem gm;
	struct compactor compactor;	/* over the pool, moving with vmm_migrate */
	struct kcompactd kcompactd;
	struct huge_reserve reserve;	/* ready huge blocks, deferred frees */
	struct page_alloc alloc;	/* the slow path over all of these */
	uint64_t guest_bytes;		/* RAM and the plug area: the memslot */
	uint64_t image_end;		/* first free address after the image */
	pthread_mutex_t huge_lock;	/* one back-huge or plug-huge at a time:
					 * the spare sides are theirs */
	struct huge_copier *copier;	/* huge.c's */
	bool thp_denied;		/* shmem THP is "deny": stay on 4 KiB pages */
	uint64_t entry;
	uint32_t tsc_khz;
	struct vcpu *vcpus;

	pthread_mutex_t lock;
	pthread_cond_t paused_cond;	/* signalled when in_guest drops to 0 */
	pthread_cond_t resume_cond;	/* signalled when pause_depth drops to 0 */
	pthread_cond_t entered_cond;	/* signalled when an owed vCPU enters */
	unsigned int pause_depth;	/* vm_pause() callers not yet resumed */
	bool mover_paused;		/* vmm_migrate() paused, vmm_release() resumes
					 * (both with the zone lock held) */
	uint64_t mover_paused_ns;	/* when that pause began (zone lock) */
	_Atomic uint64_t mover_held_ns;	/* how long the last one lasted: read by
					 * vmm_pace() without the zone lock */
	unsigned int in_guest;		/* vCPUs inside KVM_RUN */
	bool user_paused;		/* the control socket's stop */
	bool stopping;
	int exit_code;
	enum vm_stop_reason stop_reason;
	unsigned int vcpus_done;
	int stop_efd;			/* eventfd: the run has ended */
	uint64_t t_start_ns;		/* process start (main) */
	uint64_t t_booted_ns;		/* first guest request */
	uint64_t t_booted_unix_ns;	/* the same on the wall clock, for tools */
};

/* vm.c: the run state */
/* Ends the run with code and why (the first call wins) and kicks every
 * vCPU. */
void vm_stop(struct vm *vm, int code, enum vm_stop_reason why);
/* QEMU's name for a reason (ShutdownCause): "guest-shutdown", ... */
const char *vm_stop_reason_name(enum vm_stop_reason why);

/* vm_check.c: checks the VMM's invariants on the live VM, waiting for any
 * request, move or compaction run in progress to end: the allocator's
 * lists and counts, the p2m both ways, every used frame a guest frame's or
 * the huge reserve's, free frames reading zeros, huge blocks whole and in
 * order, what the guest sees (its mappings) as the p2m says, the count of
 * mappings. 0 and "ok" in msg, or a negative errno and the first thing
 * found wrong. */
int vm_check(struct vm *vm, char *msg, size_t len);

/* Holds every vCPU outside KVM_RUN until vm_resume(): on return no guest
 * instruction runs, so guest memory can be copied and remapped safely. A
 * vCPU busy in the VMM (handling a request) counts as paused: it touches
 * guest memory through the p2m under the zone lock, or frames it claimed
 * (FRAME_MOVING) or made huge. Nests. */
void vm_pause(struct vm *vm);
void vm_resume(struct vm *vm);

/* Gives the guest its turn before a pause that follows another: waits
 * until every vCPU the last pause held out is back in KVM_RUN and has
 * been there min_run_ns. Not waited for: a vCPU busy in the VMM, or held
 * by a pause still in force. */
void vm_yield_to_guest(struct vm *vm, uint64_t min_run_ns);
/* Would vm_yield_to_guest() wait? Does not block (vm->lock only). */
bool vm_turn_owed(struct vm *vm, uint64_t min_run_ns);

/* A vCPU thread around KVM_RUN: enter waits out any pause, then marks the
 * vCPU as in the guest (false when the run is ending); leave marks it
 * out, exit false for a kick and true for anything the VMM then handles
 * (a request, a crash): such a vCPU is not waited for. */
bool vcpu_enter_guest(struct vcpu *vcpu);
void vcpu_leave_guest(struct vcpu *vcpu, bool exit);

/* After its thread is made: from now on pauses and stops kick it; one
 * already begun kicks it here. */
void vcpu_mark_started(struct vcpu *vcpu);

/* Takes a started vCPU out of KVM_RUN (it re-checks the run state). */
void vcpu_kick(struct vcpu *vcpu);

#endif
