/* The run state (vmm/vm.c) without KVM: a thread stands in for a vCPU,
 * entering and leaving "the guest" as vcpu_thread() does around KVM_RUN,
 * and the test pauses it as the mover does. What matters: between two
 * pauses the guest gets its turn back (vm_yield_to_guest), for as long as
 * asked, and a vCPU busy in the VMM is never waited for. */
#include <check.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "mm/clock.h"
#include "tests/check_run.h"
#include "vmm/vm.h"

struct fake_vcpu {
	struct vm vm;
	struct vcpu vcpu;
	struct kvm_run run;
	pthread_mutex_t request_lock;	/* what a request waits on: the zone lock */
	atomic_bool exit_with_request;	/* next exit handles a request */
	atomic_bool gate;		/* while set, it stays out after a kick */
	unsigned int entries;		/* times it entered the guest */
	uint64_t shortest_stay_ns;	/* in the guest, entry to kick */
};

static void ignore_kick(int sig)
{
	(void)sig;
}

/* vcpu_thread()'s loop with KVM_RUN as "run until kicked" */
static void *fake_vcpu_thread(void *arg)
{
	struct fake_vcpu *f = arg;
	struct vcpu *v = &f->vcpu;

	for (;;) {
		uint64_t entered;

		while (atomic_load(&f->gate))
			sched_yield();
		if (!vcpu_enter_guest(v))
			break;

		pthread_mutex_lock(&f->vm.lock);
		entered = v->entered_ns;
		f->entries++;
		pthread_mutex_unlock(&f->vm.lock);
		while (!__atomic_load_n(&f->run.immediate_exit, __ATOMIC_SEQ_CST) &&
		       !atomic_load(&f->exit_with_request))
			sched_yield();
		if (atomic_exchange(&f->exit_with_request, false)) {
			/* an exit to handle: it takes the lock the mover holds */
			vcpu_leave_guest(v, true);
			pthread_mutex_lock(&f->request_lock);
			pthread_mutex_unlock(&f->request_lock);
			continue;
		}
		pthread_mutex_lock(&f->vm.lock);
		if (mono_ns() - entered < f->shortest_stay_ns)
			f->shortest_stay_ns = mono_ns() - entered;
		pthread_mutex_unlock(&f->vm.lock);
		__atomic_store_n(&f->run.immediate_exit, 0, __ATOMIC_SEQ_CST);
		vcpu_leave_guest(v, false);
	}
	return NULL;
}

static bool in_guest(struct fake_vcpu *f)
{
	bool in;

	pthread_mutex_lock(&f->vm.lock);
	in = f->vcpu.in_guest;
	pthread_mutex_unlock(&f->vm.lock);
	return in;
}

static struct fake_vcpu *start_fake(void)
{
	struct fake_vcpu *f = calloc(1, sizeof(*f));
	struct sigaction sa = { .sa_handler = ignore_kick };

	ck_assert_ptr_nonnull(f);
	sigaction(VCPU_KICK_SIGNAL, &sa, NULL);
	pthread_mutex_init(&f->vm.lock, NULL);
	pthread_cond_init(&f->vm.paused_cond, NULL);
	pthread_cond_init(&f->vm.resume_cond, NULL);
	pthread_cond_init(&f->vm.entered_cond, NULL);
	pthread_mutex_init(&f->request_lock, NULL);
	f->vm.cfg.nr_cpus = 1;
	f->vm.vcpus = &f->vcpu;
	f->vm.stop_efd = eventfd(0, EFD_CLOEXEC);
	ck_assert_int_ge(f->vm.stop_efd, 0);
	f->vcpu.vm = &f->vm;
	f->vcpu.run = &f->run;
	f->shortest_stay_ns = UINT64_MAX;
	ck_assert_int_eq(pthread_create(&f->vcpu.thread, NULL, fake_vcpu_thread, f), 0);
	vcpu_mark_started(&f->vcpu);
	while (!in_guest(f))
		sched_yield();
	return f;
}

static void stop_fake(struct fake_vcpu *f)
{
	vm_stop(&f->vm, 0, VM_STOP_GUEST_SHUTDOWN);
	pthread_join(f->vcpu.thread, NULL);
	close(f->vm.stop_efd);
	free(f);
}

static unsigned int entries(struct fake_vcpu *f)
{
	unsigned int n;

	pthread_mutex_lock(&f->vm.lock);
	n = f->entries;
	pthread_mutex_unlock(&f->vm.lock);
	return n;
}

/* Pauses back to back, as the mover's batches: each one must find the
 * vCPU back in the guest. Without the turn, the next pause came before
 * the woken vCPU got in, again and again. */
START_TEST(test_every_pause_finds_the_guest_back_in)
{
	struct fake_vcpu *f = start_fake();

	for (unsigned int i = 0; i < 2000; i++) {
		vm_yield_to_guest(&f->vm, 0);
		ck_assert(in_guest(f));
		vm_pause(&f->vm);
		/* the kick came after one more entry: the vCPU leaves only
		 * after counting it */
		ck_assert_uint_eq(entries(f), i + 1);
		vm_resume(&f->vm);
	}
	stop_fake(f);
}
END_TEST

/* The turn lasts as long as asked, counted from the vCPU's entry. */
START_TEST(test_turn_lasts_min_run)
{
	struct fake_vcpu *f = start_fake();

	/* the stay before the first pause was owed nothing */
	vm_pause(&f->vm);
	pthread_mutex_lock(&f->vm.lock);
	f->shortest_stay_ns = UINT64_MAX;
	pthread_mutex_unlock(&f->vm.lock);
	vm_resume(&f->vm);
	for (unsigned int i = 0; i < 20; i++) {
		vm_yield_to_guest(&f->vm, 2000000);
		vm_pause(&f->vm);
		ck_assert_uint_eq(entries(f), i + 2);
		vm_resume(&f->vm);
	}
	pthread_mutex_lock(&f->vm.lock);
	ck_assert_uint_ge(f->shortest_stay_ns, 2000000);
	pthread_mutex_unlock(&f->vm.lock);
	stop_fake(f);
}
END_TEST

/* A vCPU that exited to the VMM with a request may wait on a lock the
 * mover holds: it must not be waited for (a deadlock), and counts as
 * having had its turn. */
START_TEST(test_vcpu_in_vmm_not_waited_for)
{
	struct fake_vcpu *f = start_fake();

	vm_pause(&f->vm);
	pthread_mutex_lock(&f->request_lock);
	vm_resume(&f->vm);
	while (!in_guest(f))
		sched_yield();
	atomic_store(&f->exit_with_request, true);
	while (in_guest(f))
		sched_yield();
	/* it owes nothing to wait for: returns with the lock still held */
	vm_yield_to_guest(&f->vm, 1000000000);
	vm_pause(&f->vm);
	pthread_mutex_unlock(&f->request_lock);
	vm_resume(&f->vm);
	while (entries(f) < 3)
		sched_yield();
	stop_fake(f);
}
END_TEST

/* A call that should block, on a thread of its own: tid to watch it
 * sleep, done once it returned. */
struct blocking_call {
	struct vm *vm;
	void (*call)(struct vm *vm);
	pthread_t thread;
	atomic_int tid;
	atomic_bool done;
};

static void *blocking_call_thread(void *arg)
{
	struct blocking_call *b = arg;

	atomic_store(&b->tid, gettid());
	b->call(b->vm);
	atomic_store(&b->done, true);
	return NULL;
}

static void start_blocking(struct blocking_call *b, struct vm *vm, void (*call)(struct vm *vm))
{
	b->vm = vm;
	b->call = call;
	ck_assert_int_eq(pthread_create(&b->thread, NULL, blocking_call_thread, b), 0);
}

static void yield_no_min(struct vm *vm)
{
	vm_yield_to_guest(vm, 0);
}

/* The thread's state letter in /proc: 'S' when it sleeps. */
static char thread_state(int tid)
{
	char path[64], state = '?';
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/task/%d/stat", tid);
	f = fopen(path, "r");
	if (f) {
		if (fscanf(f, "%*d (%*[^)]) %c", &state) != 1)
			state = '?';
		fclose(f);
	}
	return state;
}

/* Asleep three looks in a row: in the one wait it can sleep in (a
 * single look could catch a sleep elsewhere, e.g. a sanitizer's). */
static void wait_asleep(atomic_int *tid)
{
	for (int asleep = 0; asleep < 3;) {
		sched_yield();
		asleep = atomic_load(tid) && thread_state(atomic_load(tid)) == 'S' ? asleep + 1 : 0;
	}
}

/* A pause that begins while the turn waits for a vCPU to come back in
 * ends the wait: that vCPU cannot enter before the pause ends, and whoever
 * paused may need what the waiting mover holds (a back-huge's memslot
 * switch, a stop). Without the wake-up in vm_pause, the wait never
 * ended. */
START_TEST(test_pause_ends_the_wait)
{
	struct fake_vcpu *f = start_fake();
	struct blocking_call y = { 0 };

	atomic_store(&f->gate, true);
	vm_pause(&f->vm);
	vm_resume(&f->vm);
	start_blocking(&y, &f->vm, yield_no_min);
	wait_asleep(&y.tid);	/* in the wait for the vCPU */
	ck_assert(!atomic_load(&y.done));
	vm_pause(&f->vm);
	pthread_join(y.thread, NULL);
	ck_assert(atomic_load(&y.done));
	atomic_store(&f->gate, false);
	vm_resume(&f->vm);
	vm_yield_to_guest(&f->vm, 0);
	ck_assert(in_guest(f));
	stop_fake(f);
}
END_TEST

/* A vCPU whose thread runs before vcpu_start() marks it started: a pause
 * then neither kicks it nor is told of it, and waited for as long as the
 * guest ran (a guest that never exits: for ever). Marking it started
 * kicks it. */
START_TEST(test_pause_before_started)
{
	struct fake_vcpu *f = start_fake();
	struct blocking_call p = { 0 };

	pthread_mutex_lock(&f->vm.lock);
	f->vcpu.started = false;	/* as between pthread_create and the mark */
	pthread_mutex_unlock(&f->vm.lock);
	start_blocking(&p, &f->vm, vm_pause);
	wait_asleep(&p.tid);	/* in vm_pause, for the vCPU to leave */
	ck_assert(!atomic_load(&p.done));
	vcpu_mark_started(&f->vcpu);
	pthread_join(p.thread, NULL);
	ck_assert(!in_guest(f));
	vm_resume(&f->vm);
	stop_fake(f);
}
END_TEST

/* A vCPU that exited to the VMM has had its turn, even if it is back in
 * the guest since: a guest exiting more often than the turn lasts would
 * otherwise restart it at every entry and keep the mover waiting. */
START_TEST(test_exit_gives_the_turn)
{
	struct fake_vcpu *f = start_fake();

	vm_pause(&f->vm);
	vm_resume(&f->vm);
	while (entries(f) < 2)
		sched_yield();
	atomic_store(&f->exit_with_request, true);	/* and straight back in */
	while (entries(f) < 3)
		sched_yield();
	ck_assert(!vm_turn_owed(&f->vm, 1000000000000ULL));
	vm_yield_to_guest(&f->vm, 1000000000000ULL);	/* 1,000 s: returns at once */
	stop_fake(f);
}
END_TEST

/* What the compactor asks under the zone lock: owed while a kicked vCPU
 * is on its way back in or has run less than asked; not under a pause. */
START_TEST(test_turn_owed)
{
	struct fake_vcpu *f = start_fake();

	ck_assert(!vm_turn_owed(&f->vm, 0));		/* no pause yet */
	atomic_store(&f->gate, true);
	vm_pause(&f->vm);
	ck_assert(!vm_turn_owed(&f->vm, 0));		/* paused: nothing to give */
	vm_resume(&f->vm);
	ck_assert(vm_turn_owed(&f->vm, 0));		/* on its way back in */
	atomic_store(&f->gate, false);
	while (!in_guest(f))
		sched_yield();
	ck_assert(vm_turn_owed(&f->vm, 1000000000000ULL));	/* in, not long enough */
	ck_assert(!vm_turn_owed(&f->vm, 0));		/* long enough: given */
	ck_assert(!vm_turn_owed(&f->vm, 1000000000000ULL));	/* and stays given */
	stop_fake(f);
}
END_TEST

/* Held out by another pause (the control socket's stop): no turn to give,
 * no wait. */
START_TEST(test_no_wait_while_paused)
{
	struct fake_vcpu *f = start_fake();

	vm_pause(&f->vm);
	vm_pause(&f->vm);
	vm_resume(&f->vm);
	vm_yield_to_guest(&f->vm, 1000000000);
	ck_assert(!in_guest(f));
	vm_resume(&f->vm);
	vm_yield_to_guest(&f->vm, 0);
	ck_assert(in_guest(f));
	vm_pause(&f->vm);
	ck_assert_uint_eq(entries(f), 2);
	vm_resume(&f->vm);
	stop_fake(f);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("vm_run");
	TCase *tc = tcase_create("turns");

	tcase_add_test(tc, test_every_pause_finds_the_guest_back_in);
	tcase_add_test(tc, test_turn_lasts_min_run);
	tcase_add_test(tc, test_vcpu_in_vmm_not_waited_for);
	tcase_add_test(tc, test_no_wait_while_paused);
	tcase_add_test(tc, test_pause_ends_the_wait);
	tcase_add_test(tc, test_pause_before_started);
	tcase_add_test(tc, test_exit_gives_the_turn);
	tcase_add_test(tc, test_turn_owed);
	/* thousands of hand-offs between threads, under TSan on two cores */
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	return check_run(s);
}
