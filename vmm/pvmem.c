/* The paravirtual memory interface: the VMM's side of
 * guest/include/vmdefrag_abi.h. Every argument from the guest is checked
 * before anything changes; guest memory is only touched through the p2m. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "guest/include/vmdefrag_abi.h"
#include "vmm/guest_log.h"
#include "vmm/huge.h"
#include "vmm/pvmem.h"
#include "vmm/vcpu.h"
#include "vmm/vm.h"

struct request_ctx {
	struct vcpu *vcpu;
	struct vm *vm;
	struct vmd_request req;
};

/* A guest range, checked: frames [gfn, gfn + n). */
struct frames {
	uint32_t gfn;
	uint32_t n;
};

static int check_range(struct vm *vm, uint64_t addr, uint64_t bytes, uint64_t align,
		       struct frames *out)
{
	uint64_t mem = vm->guest_bytes;

	if ((addr | bytes) & (align - 1))
		return VMD_E_ALIGN;
	if (!bytes)
		return VMD_E_INVAL;
	if (addr >= mem)
		return VMD_E_RANGE;
	if (bytes > mem - addr)
		return VMD_E_END;
	out->gfn = (uint32_t)(addr >> FRAME_SHIFT);
	out->n = (uint32_t)(bytes >> FRAME_SHIFT);
	return VMD_OK;
}

/* Guest bytes: out of memory is RANGE, running past its end is END,
 * unbacked is RANGE too (the guest discarded it). */
static int copy_guest(struct vm *vm, uint64_t gpa, void *buf, uint64_t len, bool to_guest)
{
	int err;

	if (gpa >= vm->guest_bytes)
		return VMD_E_RANGE;
	if (len > vm->guest_bytes - gpa)
		return VMD_E_END;
	err = to_guest ? guest_write(&vm->gm, gpa, buf, len) : guest_read(&vm->gm, gpa, buf, len);
	return err ? VMD_E_RANGE : VMD_OK;
}

static int read_guest(struct vm *vm, uint64_t gpa, void *buf, uint64_t len)
{
	return copy_guest(vm, gpa, buf, len, false);
}

static int write_guest(struct vm *vm, uint64_t gpa, const void *buf, uint64_t len)
{
	return copy_guest(vm, gpa, (void *)(uintptr_t)buf, len, true);
}

/* A NUL-terminated guest string of at most max - 1 bytes. */
static int read_string(struct vm *vm, uint64_t gpa, char *buf, size_t max)
{
	for (size_t i = 0; i < max; i++) {
		int status = read_guest(vm, gpa + i, &buf[i], 1);

		if (status)
			return status;
		if (!buf[i])
			return VMD_OK;
	}
	return VMD_E_INVAL;
}

/* ---- memory requests ---- */

static uint64_t mem_align(struct vm *vm, uint32_t op)
{
	/* hugetlb frames map and free in 2 MiB units only */
	if (vm->pool.backing == POOL_HUGETLB && (op == VMD_OP_POPULATE || op == VMD_OP_DISCARD))
		return 2ULL << 20;
	return VMD_PAGE_SIZE;
}

static int mem_status(int err)
{
	switch (err) {
	case 0: return VMD_OK;
	case -ERANGE: return VMD_E_RANGE;
	case -EINVAL: return VMD_E_INVAL;	/* overlapping ranges */
	case -EOVERFLOW: return VMD_E_INVAL;	/* pinned 2^32 - 1 times */
	case -ENOENT: return VMD_E_NOT_POPULATED;
	case -EBUSY: return VMD_E_PINNED;
	case -EPERM: return VMD_E_NOT_PINNED;
	default: return VMD_E_NOMEM;	/* or -EINTR: the run ends, nobody reads it */
	}
}

static enum guest_mem_op mem_op(uint32_t op)
{
	return op == VMD_OP_POPULATE ? GUEST_POPULATE : op == VMD_OP_DISCARD ? GUEST_DISCARD :
	       op == VMD_OP_PIN ? GUEST_PIN : GUEST_UNPIN;
}

/* Checks every range's arguments, then hands them to guest memory, which
 * checks their state and does them all or none. *bad gets the index of
 * the range at fault. */
static int mem_ranges(struct vm *vm, uint32_t op, const struct vmd_range *ranges, uint64_t count,
		      uint64_t *bad)
{
	struct guest_range *gr = calloc(count, sizeof(*gr));
	struct frames f = { 0, 0 };
	size_t at = 0;
	int status = VMD_OK, err;

	if (!gr)
		return VMD_E_NOMEM;
	for (uint64_t i = 0; i < count && !status; i++) {
		status = check_range(vm, ranges[i].addr, ranges[i].bytes, mem_align(vm, op), &f);
		gr[i] = (struct guest_range){ f.gfn, f.n };
		*bad = i;
	}
	if (!status) {
		err = guest_mem_request(&vm->gm, mem_op(op), gr, count, &at);
		*bad = at;
		status = mem_status(err);
	}
	free(gr);
	return status;
}

static int do_mem(struct request_ctx *c)
{
	struct vmd_range r = { c->req.arg[0], c->req.arg[1] };
	uint64_t bad;

	return mem_ranges(c->vm, c->req.op, &r, 1, &bad);
}

static int do_mem_batch(struct request_ctx *c)
{
	uint32_t op = (uint32_t)c->req.arg[0];
	uint64_t count = c->req.arg[2], bad = 0;
	struct vmd_range *ranges;
	int status;

	if (op != VMD_OP_POPULATE && op != VMD_OP_DISCARD && op != VMD_OP_PIN && op != VMD_OP_UNPIN)
		return VMD_E_INVAL;
	if (!count || count > VMD_BATCH_MAX)
		return VMD_E_INVAL;
	ranges = malloc(count * sizeof(*ranges));
	if (!ranges)
		return VMD_E_NOMEM;
	status = read_guest(c->vm, c->req.arg[1], ranges, count * sizeof(*ranges));
	if (!status)
		status = mem_ranges(c->vm, op, ranges, count, &bad);
	c->req.arg[3] = bad;
	free(ranges);
	return status;
}

/* ---- the rest ---- */

static int do_console(struct request_ctx *c)
{
	uint64_t len = c->req.arg[1];
	char *buf;
	int status;

	if (len > VMD_CONSOLE_MAX)
		return VMD_E_INVAL;
	buf = malloc(len + 1);
	if (!buf)
		return VMD_E_NOMEM;
	status = read_guest(c->vm, c->req.arg[0], buf, len);
	if (!status) {
		fwrite(buf, 1, len, stdout);
		fflush(stdout);
	}
	free(buf);
	return status;
}

static int do_report(struct request_ctx *c)
{
	char key[VMD_KEY_MAX];
	int status = read_string(c->vm, c->req.arg[0], key, sizeof(key));

	if (status)
		return status;
	for (char *k = key; *k; k++)
		if (*k <= ' ' || *k > '~')
			return VMD_E_INVAL;
	printf("report: %s %lu\n", key, (unsigned long)c->req.arg[1]);
	fflush(stdout);
	return VMD_OK;
}

static int do_assert(struct request_ctx *c)
{
	char expr[256], file[256];

	if (read_string(c->vm, c->req.arg[0], expr, sizeof(expr)))
		strcpy(expr, "?");
	if (read_string(c->vm, c->req.arg[1], file, sizeof(file)))
		strcpy(file, "?");
	guest_log_always("guest assertion failed on vCPU %u: %s:%lu: %s", c->vcpu->id, file,
		  (unsigned long)c->req.arg[2], expr);
	vm_stop(c->vm, VMD_EXIT_ASSERT, VM_STOP_GUEST_PANIC);
	return VMD_OK;
}

static int do_info(struct request_ctx *c)
{
	struct vm *vm = c->vm;

	c->req.arg[0] = vm->cfg.mem_bytes;
	c->req.arg[1] = vm->tsc_khz;
	c->req.arg[2] = vm->cfg.nr_cpus;
	c->req.arg[3] = vm->image_end;
	c->req.arg[4] = vm->pool.backing == POOL_HUGETLB ? 2ULL << 20 : VMD_PAGE_SIZE;
	c->req.arg[5] = vm->cfg.plug_bytes;
	return VMD_OK;
}

static int do_get_args(struct request_ctx *c)
{
	const char *args = c->vm->cfg.args ? c->vm->cfg.args : "";
	uint64_t len = strlen(args), mem = c->vm->guest_bytes;

	bool usable;

	/* the whole buffer the guest declares must be guest memory */
	if (c->req.arg[0] >= mem)
		return VMD_E_RANGE;
	if (c->req.arg[1] > mem - c->req.arg[0])
		return VMD_E_END;
	if (c->req.arg[1] < len + 1)
		return VMD_E_INVAL;
	guest_mem_lock(&c->vm->gm);
	usable = guest_mem_usable(&c->vm->gm, (uint32_t)(c->req.arg[0] >> FRAME_SHIFT),
				  (uint32_t)(((c->req.arg[0] + c->req.arg[1] - 1) >> FRAME_SHIFT) -
					     (c->req.arg[0] >> FRAME_SHIFT) + 1));
	guest_mem_unlock(&c->vm->gm);
	if (!usable)
		return VMD_E_RANGE;
	c->req.arg[2] = len;
	return write_guest(c->vm, c->req.arg[0], args, len + 1);
}

static int do_exit(struct request_ctx *c)
{
	if (c->req.arg[0] > 255)
		return VMD_E_INVAL;
	vm_stop(c->vm, (int)c->req.arg[0], VM_STOP_GUEST_SHUTDOWN);
	return VMD_OK;
}

static int do_vcpu_done(struct request_ctx *c)
{
	struct vm *vm = c->vm;
	bool all;

	pthread_mutex_lock(&vm->lock);
	all = ++vm->vcpus_done == vm->cfg.nr_cpus;
	pthread_mutex_unlock(&vm->lock);
	if (all)
		vm_stop(vm, 0, VM_STOP_GUEST_SHUTDOWN);
	else
		c->vcpu->done = true;
	return VMD_OK;
}

/* After a huge request, not during it: building a block competes with
 * the request's own mmap for the process's mappings. */
static int do_back_huge(struct request_ctx *c)
{
	int status = huge_back(c->vm, c->req.arg[0], &c->req.arg[1], &c->req.arg[2]);

	huge_reserve_refill(&c->vm->reserve);
	return status;
}

static int do_plug_huge(struct request_ctx *c)
{
	int status;

	if (c->req.arg[0] > 64)
		return VMD_E_INVAL;
	status = huge_plug(c->vm, (unsigned int)c->req.arg[0], &c->req.arg[1], &c->req.arg[3],
			   &c->req.arg[2]);
	huge_reserve_refill(&c->vm->reserve);
	return status;
}

static int do_booted(struct request_ctx *c)
{
	pthread_mutex_lock(&c->vm->lock);
	if (!c->vm->t_booted_ns) {
		struct timespec ts;

		c->vm->t_booted_ns = mono_ns();
		clock_gettime(CLOCK_REALTIME, &ts);
		c->vm->t_booted_unix_ns = (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
	}
	pthread_mutex_unlock(&c->vm->lock);
	return VMD_OK;
}

void pvmem_handle(struct vcpu *vcpu, uint64_t gpa)
{
	struct request_ctx c = { vcpu, vcpu->vm, { 0, 0, { 0 } } };
	int status;

	if (gpa & 7 || read_guest(c.vm, gpa, &c.req, sizeof(c.req))) {
		guest_log("vCPU %u: request block at 0x%lx is not in guest memory or not 8-byte "
			  "aligned; ignored", vcpu->id, (unsigned long)gpa);
		return;
	}
	switch (c.req.op) {
	case VMD_OP_INFO: status = do_info(&c); break;
	case VMD_OP_CONSOLE: status = do_console(&c); break;
	case VMD_OP_EXIT: status = do_exit(&c); break;
	case VMD_OP_VCPU_DONE: status = do_vcpu_done(&c); break;
	case VMD_OP_REPORT: status = do_report(&c); break;
	case VMD_OP_ASSERT: status = do_assert(&c); break;
	case VMD_OP_GET_ARGS: status = do_get_args(&c); break;
	case VMD_OP_BOOTED: status = do_booted(&c); break;
	case VMD_OP_POPULATE:
	case VMD_OP_DISCARD:
	case VMD_OP_PIN:
	case VMD_OP_UNPIN: status = do_mem(&c); break;
	case VMD_OP_MEM_BATCH: status = do_mem_batch(&c); break;
	case VMD_OP_BACK_HUGE: status = do_back_huge(&c); break;
	case VMD_OP_PLUG_HUGE: status = do_plug_huge(&c); break;
	default: status = VMD_E_UNKNOWN; break;
	}
	c.req.status = status;
	/* the block may have been discarded by the request itself */
	write_guest(c.vm, gpa, &c.req, sizeof(c.req));
}
