/* x86-64 at CPL 3 from the first instruction: identity page tables of
 * 2 MiB user pages, a GDT with user segments and a TSS, no IDT (an
 * exception is a triple fault, which the VMM reports). Guest code at CPL 0
 * would be emulated instruction by instruction on this host, so there is
 * none: the vCPU starts in user mode with IOPL 3, where `out` still exits
 * to the VMM. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "vmm/vcpu.h"
#include "vmm/vm.h"
#include "vmm/x86.h"

#define GDT_ADDR	0x1000
#define TSS_ADDR	0x50000		/* with an I/O bitmap: 0x68 + 8 KiB + 1 */
#define TSS_IOMAP	0x68
#define TSS_LIMIT	(TSS_IOMAP + 8192)
#define PML4_ADDR	0x2000
#define PDPT_ADDR	0x3000
#define PD_ADDR		0x4000		/* one page per GiB, up to 64 GiB */
#define IDENT_MAP_MAX	(64ULL << 30)	/* what the page tables map: PD pages of 1 GiB */

#define SEL_USER_CS	((3 << 3) | 3)
#define SEL_USER_DS	((4 << 3) | 3)
#define SEL_TSS		(5 << 3)

#define PTE_P		0x1ULL
#define PTE_RW		0x2ULL
#define PTE_US		0x4ULL
#define PTE_PS		0x80ULL

#define CR0_PE		(1ULL << 0)
#define CR0_MP		(1ULL << 1)
#define CR0_ET		(1ULL << 4)
#define CR0_NE		(1ULL << 5)
#define CR0_WP		(1ULL << 16)
#define CR0_PG		(1ULL << 31)
#define CR4_PAE		(1ULL << 5)
#define CR4_OSFXSR	(1ULL << 9)
#define CR4_OSXMMEXCPT	(1ULL << 10)
#define EFER_LME	(1ULL << 8)
#define EFER_LMA	(1ULL << 10)
#define EFER_NXE	(1ULL << 11)

int x86_setup_memory(struct vm *vm)
{
	uint64_t mem = vm->guest_bytes, nr_pd = (mem + (1ULL << 30) - 1) >> 30;
	uint64_t gdt[7] = {
		0,
		0x00af9a000000ffffULL,		/* kernel code, 64-bit (unused) */
		0x00cf92000000ffffULL,		/* kernel data (unused) */
		0x00affa000000ffffULL,		/* user code, 64-bit, DPL 3 */
		0x00cff2000000ffffULL,		/* user data, DPL 3 */
	};
	uint64_t pml4 = PDPT_ADDR | PTE_P | PTE_RW | PTE_US;
	uint64_t *pd;
	int err;

	if (mem > IDENT_MAP_MAX)
		return -EINVAL;
	/* 64-bit available TSS whose I/O bitmap allows every port: CPL 3 may
	 * use `out` even where IOPL is not honoured */
	gdt[5] = (TSS_LIMIT & 0xffff) | ((uint64_t)(TSS_ADDR & 0xffffff) << 16) | (0x89ULL << 40) |
		 ((uint64_t)(TSS_LIMIT >> 16) << 48) | ((uint64_t)(TSS_ADDR >> 24) << 56);
	gdt[6] = 0;
	err = guest_write(&vm->gm, GDT_ADDR, gdt, sizeof(gdt));
	if (!err) {
		uint8_t *tss = calloc(1, TSS_LIMIT + 1);

		if (!tss)
			return -ENOMEM;
		*(uint16_t *)(tss + 0x66) = TSS_IOMAP;
		tss[TSS_LIMIT] = 0xff;		/* the bitmap's terminating byte */
		err = guest_write(&vm->gm, TSS_ADDR, tss, TSS_LIMIT + 1);
		free(tss);
	}
	if (!err)
		err = guest_write(&vm->gm, PML4_ADDR, &pml4, sizeof(pml4));
	for (uint64_t i = 0; !err && i < nr_pd; i++) {
		uint64_t pdpte = (PD_ADDR + i * 4096) | PTE_P | PTE_RW | PTE_US;

		err = guest_write(&vm->gm, PDPT_ADDR + i * 8, &pdpte, sizeof(pdpte));
	}
	if (err)
		return err;
	pd = calloc(nr_pd * 512, sizeof(*pd));
	if (!pd)
		return -ENOMEM;
	for (uint64_t a = 0; a < mem; a += 2ULL << 20)
		pd[a >> 21] = a | PTE_P | PTE_RW | PTE_US | PTE_PS;
	err = guest_write(&vm->gm, PD_ADDR, pd, nr_pd * 4096);
	free(pd);
	return err;
}

static void user_segment(struct kvm_segment *s, uint16_t sel, bool code)
{
	memset(s, 0, sizeof(*s));
	s->base = 0;
	s->limit = 0xffffffff;
	s->selector = sel;
	s->type = code ? 11 : 3;	/* execute/read, accessed : read/write, accessed */
	s->present = 1;
	s->dpl = 3;
	s->db = code ? 0 : 1;
	s->s = 1;
	s->l = code ? 1 : 0;
	s->g = 1;
}

static int setup_cpuid(struct vm *vm, struct vcpu *vcpu)
{
	int n = 100, err;
	struct kvm_cpuid2 *cpuid;

	for (;;) {
		cpuid = calloc(1, sizeof(*cpuid) + n * sizeof(struct kvm_cpuid_entry2));
		if (!cpuid)
			return -ENOMEM;
		cpuid->nent = n;
		if (!ioctl(vm->kvm_fd, KVM_GET_SUPPORTED_CPUID, cpuid))
			break;
		err = -errno;
		free(cpuid);
		if (err != -E2BIG)
			return err;
		n *= 2;
	}
	err = ioctl(vcpu->fd, KVM_SET_CPUID2, cpuid) ? -errno : 0;
	free(cpuid);
	return err;
}

int x86_setup_vcpu(struct vm *vm, struct vcpu *vcpu)
{
	struct kvm_sregs sregs;
	struct kvm_regs regs;
	int err = setup_cpuid(vm, vcpu);

	if (err)
		return err;
	if (ioctl(vcpu->fd, KVM_GET_SREGS, &sregs))
		return -errno;
	user_segment(&sregs.cs, SEL_USER_CS, true);
	user_segment(&sregs.ds, SEL_USER_DS, false);
	sregs.es = sregs.fs = sregs.gs = sregs.ss = sregs.ds;
	memset(&sregs.tr, 0, sizeof(sregs.tr));
	sregs.tr.base = TSS_ADDR;
	sregs.tr.limit = TSS_LIMIT;
	sregs.tr.selector = SEL_TSS;
	sregs.tr.type = 11;		/* busy 64-bit TSS */
	sregs.tr.present = 1;
	sregs.gdt.base = GDT_ADDR;
	sregs.gdt.limit = 7 * 8 - 1;
	sregs.idt.base = 0;
	sregs.idt.limit = 0;		/* no IDT: an exception becomes a triple fault */
	sregs.cr0 = CR0_PE | CR0_MP | CR0_ET | CR0_NE | CR0_WP | CR0_PG;
	sregs.cr3 = PML4_ADDR;
	sregs.cr4 = CR4_PAE | CR4_OSFXSR | CR4_OSXMMEXCPT;
	sregs.efer = EFER_LME | EFER_LMA | EFER_NXE;
	if (ioctl(vcpu->fd, KVM_SET_SREGS, &sregs))
		return -errno;
	memset(&regs, 0, sizeof(regs));
	regs.rip = vm->entry;
	regs.rdi = vcpu->id;
	regs.rsi = vm->cfg.nr_cpus;
	regs.rflags = 0x3002;		/* IOPL 3, reserved bit 1 */
	if (ioctl(vcpu->fd, KVM_SET_REGS, &regs))
		return -errno;
	return 0;
}
