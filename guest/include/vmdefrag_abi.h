/* The vmdefrag guest interface: the one contract between a guest and the
 * VMM. Shared by guest/ and vmm/.
 *
 * A guest fills a struct vmd_request in its memory (8-byte aligned, below
 * 4 GiB, populated) and writes its guest-physical address with a 32-bit
 * `out` to VMD_PORT. The VMM handles the request before the vCPU runs on
 * and writes a status (and any results) back into the block. Every
 * argument is checked; a bad one gets an error status and changes nothing.
 *
 * Guest memory: guest frame N is guest-physical address N * 4096, from 0
 * to the size given by --mem; at boot every frame is populated. The VMM
 * keeps the low 2 MiB for the guest's page tables and GDT; the guest image
 * is loaded at VMD_IMAGE_BASE; the guest runs at CPL 3 with all memory
 * identity-mapped by 2 MiB pages, user-accessible.
 *
 * Requests (arg[] in, arg[] out where said):
 *   VMD_OP_INFO       out: arg0 memory bytes, arg1 TSC kHz (0 if unknown),
 *                     arg2 vCPUs, arg3 first free address after the image
 *                     (2 MiB aligned), arg4 host frame size of the backing,
 *                     arg5 bytes of the plug area, which starts at arg0
 *   VMD_OP_CONSOLE    arg0 address, arg1 length (<= VMD_CONSOLE_MAX): bytes
 *                     to the VMM's stdout
 *   VMD_OP_EXIT       arg0 exit code 0..255: ends the guest (all vCPUs)
 *   VMD_OP_VCPU_DONE  this vCPU stops; the guest ends with 0 when all did
 *   VMD_OP_REPORT     arg0 address of a NUL-terminated key (< 64 bytes),
 *                     arg1 value: printed as "report: KEY VALUE"
 *   VMD_OP_ASSERT     arg0 expression, arg1 file (NUL-terminated strings),
 *                     arg2 line: printed; the run fails (VMD_EXIT_ASSERT)
 *   VMD_OP_GET_ARGS   arg0 buffer, arg1 its size: the --args string,
 *                     NUL-terminated; out: arg2 its length
 *   VMD_OP_POPULATE   arg0 address, arg1 bytes (both multiples of 4096):
 *                     back discarded frames with new host frames, from
 *                     wherever the allocator has them; populated frames
 *                     are left as they are
 *   VMD_OP_DISCARD    same arguments: free the frames and give the memory
 *                     back to the host (free page reporting); the guest
 *                     must not touch them until it populates them again
 *                     (an access is a crash); discarded frames are skipped
 *   VMD_OP_PIN        same arguments: the frames must not move (DMA-like);
 *                     pins count
 *   VMD_OP_UNPIN      same arguments
 *   VMD_OP_MEM_BATCH  arg0 one of the four ops above, arg1 address of an
 *                     array of struct vmd_range, arg2 count (<=
 *                     VMD_BATCH_MAX): all ranges checked first, then all
 *                     done, so one exit covers many ranges; ranges must
 *                     not overlap (VMD_E_INVAL: of the first pair that
 *                     does, in order of their starts, arg3 names the one
 *                     later in the array); on an error, out: arg3 the
 *                     index of the range at fault
 *   VMD_OP_BOOTED     no arguments: the first thing the start-up code
 *                     does, so the VMM can time the boot
 *   VMD_OP_BACK_HUGE  arg0 a 2 MiB-aligned address: back the 2 MiB from
 *                     there with one aligned pool block, in order (its
 *                     frames move there; discarded ones are populated), and
 *                     ask the host for a huge page (shmem THP). May compact
 *                     (a stall). out: arg1 1 if the kernel made it a huge
 *                     page, arg2 the stall in ns (0: a block was free)
 *   VMD_OP_PLUG_HUGE  arg0 an order, 9..10: plug a new contiguous region of
 *                     2^order frames into the plug area (after RAM; INFO
 *                     arg5 says how big). out: arg1 its address, arg2 the
 *                     stall in ns, arg3 1 if host-huge. The plug area is
 *                     not guest memory until plugged: any request on a
 *                     slot nobody plugged gets VMD_E_RANGE
 *   Statuses of the two: VMD_E_NOMEM (too little free memory, or the plug
 *   area is full), VMD_E_FRAGMENTED (memory enough, but no aligned block
 *   could be freed: pinned or unmovable frames in the way), VMD_E_PINNED
 *   (the range itself holds a pinned frame), bad arguments as usual.
 */
#ifndef VMDEFRAG_ABI_H
#define VMDEFRAG_ABI_H

#include <stdint.h>

#define VMD_PORT		0x0510
#define VMD_PAGE_SIZE		4096ULL
#define VMD_HUGE_SIZE		0x200000ULL	/* a 2 MiB block: what back-huge and plug-huge map */
#define VMD_IMAGE_BASE		0x200000ULL	/* where guest images are linked */
#define VMD_CONSOLE_MAX		65536
#define VMD_BATCH_MAX		4096
#define VMD_KEY_MAX		64
#define VMD_MAX_VCPUS		64

enum vmd_op {
	VMD_OP_INFO = 1,
	VMD_OP_CONSOLE = 2,
	VMD_OP_EXIT = 3,
	VMD_OP_VCPU_DONE = 4,
	VMD_OP_REPORT = 5,
	VMD_OP_ASSERT = 6,
	VMD_OP_GET_ARGS = 7,
	VMD_OP_BOOTED = 8,
	VMD_OP_POPULATE = 16,
	VMD_OP_DISCARD = 17,
	VMD_OP_PIN = 18,
	VMD_OP_UNPIN = 19,
	VMD_OP_MEM_BATCH = 20,
	VMD_OP_BACK_HUGE = 21,
	VMD_OP_PLUG_HUGE = 22,
};

enum vmd_status {
	VMD_OK = 0,
	VMD_E_UNKNOWN = -1,		/* no such request */
	VMD_E_ALIGN = -2,		/* address or length not a multiple of 4096
					 * (2 MiB on a hugetlb backing) */
	VMD_E_RANGE = -3,		/* address outside guest memory */
	VMD_E_END = -4,			/* range runs past the end of guest memory */
	VMD_E_NOT_POPULATED = -5,	/* pin/unpin of a discarded frame */
	VMD_E_PINNED = -6,		/* discard of a pinned frame */
	VMD_E_NOT_PINNED = -7,		/* unpin of a frame that is not pinned */
	VMD_E_NOMEM = -8,		/* no free host frames (or mappings) left */
	VMD_E_INVAL = -9,		/* any other bad argument: zero length, bad
					 * string, exit code > 255, ... */
	VMD_E_FRAGMENTED = -10,		/* no aligned block can be made free */
};

struct vmd_request {
	uint32_t op;
	int32_t status;
	uint64_t arg[6];
};

struct vmd_range {
	uint64_t addr;
	uint64_t bytes;
};

/* Exit codes of `vmdefrag run` besides the guest's own. */
#define VMD_EXIT_VMM_ERROR	1	/* KVM or host failure, no such guest (bad options: 2) */
#define VMD_EXIT_ASSERT		123	/* a guest assertion failed */
#define VMD_EXIT_CRASH		124	/* triple fault, bad access, KVM error */
#define VMD_EXIT_INTERRUPTED	130	/* SIGINT / SIGTERM */

#endif
