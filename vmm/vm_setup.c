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

int vm_create_memory(struct vm *vm, const struct vm_config *cfg)
{
	uint64_t frames = cfg->mem_bytes >> FRAME_SHIFT;
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
	vm->stop_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (vm->stop_efd < 0)
		return kvm_error("eventfd");

	err = pool_create_with(&vm->pool, cfg->backing, frames,
			       cfg->backing == POOL_FILE ? cfg->backing_path : NULL,
			       cfg->backing == POOL_FILE ? &cfg->backing_opts : NULL, cfg->allocator);
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
	err = p2m_init(&vm->p2m, &vm->pool.zone, (uint32_t)(vm->guest_bytes >> FRAME_SHIFT));
	if (err)
		return err;
	compactor_init(&vm->compactor, &vm->pool.zone, &vm->p2m, vmm_migrate, vm);
	vm->compactor.release = vmm_release;
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
	err = guest_mem_populate_all(&vm->gm, (uint32_t)(cfg->mem_bytes >> FRAME_SHIFT));
	if (err) {
		fprintf(stderr, "vmdefrag: cannot map guest memory: %s\n", strerror(-err));
		return err;
	}
	err = huge_init(vm);
	if (!err)
		huge_reserve_init(&vm->reserve, &vm->pool,
				  vm->pool.backing == POOL_MEMFD && !vm->thp_denied ? cfg->huge_reserve : 0);
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
