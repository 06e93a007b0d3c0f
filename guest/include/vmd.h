/* The guest library: start-up, requests to the VMM, console output,
 * timing and arguments, for freestanding guest programs. A program
 * defines int main(void); its return value is the guest's exit code.
 * Secondary vCPUs run vmd_secondary(cpu) (weak; by default they stop). */
#ifndef VMD_H
#define VMD_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "vmdefrag_abi.h"

#define VMD_STACK_SIZE	65536
#define VMD_GUEST_MAX_VCPUS 16	/* more stop at once; vmd_info.nr_cpus counts these */

struct vmd_info {
	uint64_t mem_bytes;
	uint64_t tsc_khz;
	uint64_t nr_cpus;
	uint64_t heap_start;	/* first free address after the image, 2 MiB aligned */
	uint64_t host_frame;
	uint64_t plug_bytes;	/* the plug area, starting at mem_bytes */
};

extern struct vmd_info vmd_info;	/* filled before main() */

int main(void);
void vmd_secondary(unsigned int cpu);

/* The program's purpose in one line of plain text (no quotes or
 * backslashes), for `vmdefrag run --list-guests`: kept in the ELF file in
 * section .vmdefrag.purpose, which is never loaded. Once per program, at
 * file scope. */
#define VMD_GUEST_PURPOSE(text) \
	__asm__(".pushsection .vmdefrag.purpose,\"\",@progbits\n\t.asciz \"" text "\"\n\t.popsection")

/* Requests. Each returns the status (VMD_OK or a VMD_E_*). */
int vmd_request(uint32_t op, uint64_t a0, uint64_t a1, uint64_t a2, uint64_t *out);
int vmd_populate(uint64_t addr, uint64_t bytes);
int vmd_discard(uint64_t addr, uint64_t bytes);
int vmd_pin(uint64_t addr, uint64_t bytes);
int vmd_unpin(uint64_t addr, uint64_t bytes);
int vmd_mem_batch(uint32_t op, const struct vmd_range *ranges, uint64_t count, uint64_t *bad);
void vmd_report(const char *key, uint64_t value);
/* Huge regions; huge and stall_ns may be NULL. */
int vmd_back_huge(uint64_t addr, uint64_t *huge, uint64_t *stall_ns);
int vmd_plug_huge(unsigned int order, uint64_t *addr, uint64_t *huge, uint64_t *stall_ns);
__attribute__((noreturn)) void vmd_exit(int code);
__attribute__((noreturn)) void vmd_vcpu_done(void);
__attribute__((noreturn)) void vmd_assert_fail(const char *expr, const char *file, int line);

#define VMD_ASSERT(cond) do { \
	if (!(cond)) \
		vmd_assert_fail(#cond, __FILE__, __LINE__); \
} while (0)

/* This vCPU's index. */
unsigned int vmd_cpu(void);

/* Console. */
int vmd_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int vmd_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap);
int vmd_snprintf(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void vmd_puts(const char *s);

/* Arguments: the --args string as key=value words. */
const char *vmd_arg(const char *key);		/* NULL when absent */
/* A number, with K/M/G suffixes; anything else ends the guest (exit 2,
 * saying which argument). */
uint64_t vmd_arg_u64(const char *key, uint64_t def);
/* A size in MiB: a bare number is MiB, a suffixed one its bytes in MiB
 * (mb=512, mb=512M and mb=1G mean what they say). */
uint64_t vmd_arg_mib(const char *key, uint64_t def);

/* Time. */
static inline uint64_t vmd_rdtsc(void)
{
	uint32_t lo, hi;

	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return ((uint64_t)hi << 32) | lo;
}

/* Memory after the image: a bump allocator for bookkeeping; what it has
 * not handed out, from vmd_heap_end() (2 MiB aligned) on, is free for the
 * program's data. */
void *vmd_alloc(uint64_t bytes);
uint64_t vmd_heap_end(void);

/* xorshift64*: seeded, reproducible. */
static inline uint64_t vmd_rand(uint64_t *state)
{
	uint64_t x = *state;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*state = x;
	return x * 0x2545F4914F6CDD1DULL;
}

/* Sorts n values ascending (shell sort: small n, no libc). */
void vmd_sort_u64(uint64_t *v, uint64_t n);

/* Freestanding basics the compiler may call. */
void *memset(void *s, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
int strcmp(const char *a, const char *b);
int strncmp(const char *a, const char *b, size_t n);

#endif
