/* Creating and tearing down the VM: KVM, guest memory, compaction, the
 * huge machinery and the vCPUs, in order. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "vmm/huge.h"
#include "vmm/loader.h"
#include "vmm/mover.h"
#include "vmm/vcpu.h"
#include "vmm/vm.h"
#include "vmm/vm_setup.h"
#include "vmm/x86.h"

static int kvm_error(const char *what)
{
	int err = -errno;

	fprintf(stderr, "vmdefrag: %s: %s\n", what, strerror(errno));
	return err;
}

static int open_kvm(struct vm *vm)
{
	int version, size;

	vm->kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (vm->kvm_fd < 0)
		return kvm_error("cannot open /dev/kvm");
	version = ioctl(vm->kvm_fd, KVM_GET_API_VERSION, 0);
	if (version != KVM_API_VERSION) {
		fprintf(stderr, "vmdefrag: /dev/kvm speaks API version %d, not %d\n", version,
			KVM_API_VERSION);
		return -ENOTSUP;
	}
	vm->vm_fd = ioctl(vm->kvm_fd, KVM_CREATE_VM, 0);
	if (vm->vm_fd < 0)
		return kvm_error("KVM_CREATE_VM");
	size = ioctl(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (size <= 0)
		return kvm_error("KVM_GET_VCPU_MMAP_SIZE");
	vm->run_size = (size_t)size;
	/* needed by VMX for real mode; harmless otherwise (kvmtool does it) */
	ioctl(vm->vm_fd, KVM_SET_TSS_ADDR, 0xfffbd000UL);
	return 0;
}

#ifndef KVM_X86_QUIRK_SLOT_ZAP_ALL
#define KVM_X86_QUIRK_SLOT_ZAP_ALL	(1 << 7)
#endif

/* A chunk's memslot is deleted and added again when it switches sides
 * (guest_mem.h); by default x86 KVM then drops every mapping of the
 * guest, not only the slot's. Ask for the slot's alone where KVM can. */
static void zap_only_the_slot(struct vm *vm)
{
	int quirks = ioctl(vm->vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_DISABLE_QUIRKS2);
	struct kvm_enable_cap cap = {
		.cap = KVM_CAP_DISABLE_QUIRKS2,
		.args = { KVM_X86_QUIRK_SLOT_ZAP_ALL },
	};

	if (quirks > 0 && (quirks & KVM_X86_QUIRK_SLOT_ZAP_ALL))
		ioctl(vm->vm_fd, KVM_ENABLE_CAP, &cap);
}

/* A persistent pool's p2m, in its file: new, or recovered as the last run
 * left it, less the plug area (hot-plugged memory does not outlive a
 * restart, as on a machine's reboot): those frames go back, unmapped
 * first, then punched, then freed. */
static int persistent_p2m(struct vm *vm)
{
	struct zone *z = &vm->pool.zone;
	const struct pmem_recovery *r = &vm->pool.recovery;
	uint32_t nr = (uint32_t)(vm->guest_bytes >> FRAME_SHIFT);
	uint32_t ram = (uint32_t)(vm->cfg.mem_bytes >> FRAME_SHIFT), dropped = 0;
	int err = p2m_init_on(&vm->p2m, z, nr, vm->pool.pmem_p2m, !vm->pool.recovered);

	if (err) {
		fprintf(stderr, "vmdefrag: the pool file %s: its p2m and allocator disagree\n",
			vm->cfg.backing_path);
		return err;
	}
	if (!vm->pool.recovered)
		return 0;
	for (uint32_t g = ram; g < nr; g++) {
		uint32_t pfn;

		if (p2m_unmap(&vm->p2m, g, &pfn))
			continue;
		pool_punch(&vm->pool, pfn, 1);
		zone_free(z, pfn, 0);
		dropped++;
	}
	fprintf(stderr, "vmdefrag: recovered the pool in %s: %lu guest frames mapped, %lu frames "
		"nobody owned freed, %u blocks in flight finished, %u plug-area frames dropped\n",
		vm->cfg.backing_path, (unsigned long)vm->p2m.nr_mapped, (unsigned long)r->freed,
		r->busy_chunks + r->broken_pairs + (uint32_t)r->whole_blocks, dropped);
	return 0;
}

int vm_create_memory(struct vm *vm, const struct vm_config *cfg)
{
	uint64_t frames = cfg->mem_bytes >> FRAME_SHIFT;
	struct pool_file_opts file_opts;
	char err_text[512];
	int err;

	memset(vm, 0, sizeof(*vm));
	vm->cfg = *cfg;
	vm->guest_bytes = cfg->mem_bytes + cfg->plug_bytes;
	vm->kvm_fd = vm->vm_fd = vm->stop_efd = -1;
	pthread_mutex_init(&vm->lock, NULL);
	pthread_mutex_init(&vm->huge_lock, NULL);
	pthread_cond_init(&vm->paused_cond, NULL);
	pthread_cond_init(&vm->resume_cond, NULL);
	pthread_cond_init(&vm->entered_cond, NULL);
	vm->stop_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (vm->stop_efd < 0)
		return kvm_error("eventfd");

	file_opts = cfg->backing_opts;
	file_opts.nr_gfns = (uint32_t)(vm->guest_bytes >> FRAME_SHIFT);
	err = pool_create_with(&vm->pool, cfg->backing, frames,
			       cfg->backing == POOL_FILE ? cfg->backing_path : NULL,
			       cfg->backing == POOL_FILE ? &file_opts : NULL, cfg->allocator);
	if (err && vm->pool.why[0]) {
		fprintf(stderr, "vmdefrag: the pool file %s: %s%s\n", cfg->backing_path, vm->pool.why,
			err == -EBUSY ? "" : "; it is left as it was");
		return err;
	}
	if (err == -EEXIST && cfg->backing == POOL_FILE) {
		fprintf(stderr, "vmdefrag: cannot create the pool file %s: it exists already; the "
			"pool file must be a new one (its bytes become guest memory): remove it or "
			"name another path\n", cfg->backing_path);
		return err;
	}
	if (err) {
		fprintf(stderr, "vmdefrag: cannot create the %s pool of %lu MiB%s%s: %s%s\n",
			pool_backing_name(cfg->backing), (unsigned long)(cfg->mem_bytes >> 20),
			cfg->backing == POOL_FILE ? " in " : "",
			cfg->backing == POOL_FILE ? cfg->backing_path : "", strerror(-err),
			cfg->backing == POOL_HUGETLB && err == -ENOMEM ?
			" (not enough huge pages: see /proc/sys/vm/nr_hugepages)" : "");
		return err;
	}
	if (vm->pool.pmem_p2m) {
		err = persistent_p2m(vm);
		if (err)
			return err;
	} else {
		err = p2m_init(&vm->p2m, &vm->pool.zone, (uint32_t)(vm->guest_bytes >> FRAME_SHIFT));
		if (err)
			return err;
	}
	compactor_init(&vm->compactor, &vm->pool.zone, &vm->p2m, vmm_migrate, vm);
	vm->compactor.release = vmm_release;
	vm->compactor.pace_due = vmm_pace_due;
	vm->compactor.pace = vmm_pace;
	vm->compactor.batch = cfg->batch ? cfg->batch : COMPACT_CLUSTER_MAX;
	kcompactd_init(&vm->kcompactd, &vm->compactor);
	kcompactd_set_proactiveness(&vm->kcompactd, cfg->proactiveness);
	vm->alloc = (struct page_alloc){ &vm->pool.zone, &vm->compactor, &vm->kcompactd,
					 &vm->reserve };
	err = guest_mem_init(&vm->gm, &vm->pool, &vm->p2m, &vm->alloc, cfg->mem_bytes,
			     vm->guest_bytes, err_text, sizeof(err_text));
	if (err) {
		fprintf(stderr, "vmdefrag: %s\n", err_text);
		return err;
	}
	/* a recovered pool's guest memory is what its p2m says, holes and all */
	err = vm->pool.recovered ? guest_mem_remap(&vm->gm, 0, vm->gm.nr_gfns) :
	      guest_mem_populate_all(&vm->gm, (uint32_t)(cfg->mem_bytes >> FRAME_SHIFT));
	if (err) {
		fprintf(stderr, "vmdefrag: cannot map guest memory: %s\n", strerror(-err));
		return err;
	}
	err = huge_init(vm);
	if (!err)
		huge_reserve_init(&vm->reserve, &vm->pool,
				  vm->pool.shmem && !vm->thp_denied ? cfg->huge_reserve : 0);
	return err;
}

int vm_create(struct vm *vm, const struct vm_config *cfg)
{
	char err_text[512];
	int err = vm_create_memory(vm, cfg);

	if (err)
		return err;
	err = open_kvm(vm);
	if (err)
		return err;
	zap_only_the_slot(vm);
	err = guest_mem_set_memslots(&vm->gm, vm->vm_fd, err_text, sizeof(err_text));
	if (err) {
		fprintf(stderr, "vmdefrag: %s\n", err_text);
		return err;
	}
	err = x86_setup_memory(vm);
	if (!err)
		err = load_elf(vm, cfg->guest_path);
	if (err)
		return err;
	vm->vcpus = calloc(cfg->nr_cpus, sizeof(*vm->vcpus));
	if (!vm->vcpus)
		return -ENOMEM;
	for (unsigned int i = 0; i < cfg->nr_cpus; i++) {
		err = vcpu_create(vm, &vm->vcpus[i], i);
		if (err)
			return err;
	}
	return 0;
}

void vm_destroy(struct vm *vm)
{
	if (vm->vcpus)
		for (unsigned int i = 0; i < vm->cfg.nr_cpus; i++)
			vcpu_destroy(&vm->vcpus[i]);
	free(vm->vcpus);
	vm->vcpus = NULL;
	/* after the vCPUs: their huge requests use it */
	huge_destroy(vm);
	huge_reserve_stop(&vm->reserve);
	if (vm->vm_fd >= 0)
		close(vm->vm_fd);
	if (vm->kvm_fd >= 0)
		close(vm->kvm_fd);
	guest_mem_destroy(&vm->gm);
	if (vm->p2m.pfn_of)
		p2m_destroy(&vm->p2m);
	if (vm->pool.base)
		pool_destroy(&vm->pool);
	if (vm->stop_efd >= 0)
		close(vm->stop_efd);
	vm->vm_fd = vm->kvm_fd = vm->stop_efd = -1;
}
