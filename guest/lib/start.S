/* Guest entry. The VMM starts every vCPU here at CPL 3 with
 * rdi = vCPU index and rsi = vCPU count; each gets its own stack, and a
 * vCPU beyond the library's VMD_GUEST_MAX_VCPUS stacks stops at once
 * (VCPU_DONE) instead of running on memory that is not its stack. */
	.section .text.start, "ax"
	.globl _start
_start:
	/* tell the VMM we are up: request block address in eax */
	lea	vmd_boot_request(%rip), %rax
	mov	$0x0510, %dx
	out	%eax, (%dx)
	cmp	$16, %rdi		/* VMD_GUEST_MAX_VCPUS */
	jae	1f
	lea	vmd_stacks(%rip), %rsp
	mov	%rdi, %rax
	inc	%rax
	shl	$16, %rax		/* VMD_STACK_SIZE */
	add	%rax, %rsp
	call	vmd_start
	ud2
1:	lea	vmd_park_request(%rip), %rax
	out	%eax, (%dx)
	ud2

	.data
	.balign 8
vmd_boot_request:
	.long	8			/* VMD_OP_BOOTED */
	.long	0
	.quad	0, 0, 0, 0, 0, 0
vmd_park_request:			/* shared by every vCPU it stops */
	.long	4			/* VMD_OP_VCPU_DONE */
	.long	0
	.quad	0, 0, 0, 0, 0, 0

	.bss
	.balign 4096
	.globl vmd_stacks
vmd_stacks:
	.skip	16 * 65536		/* VMD_GUEST_MAX_VCPUS stacks */

	.section .note.GNU-stack, "", @progbits
