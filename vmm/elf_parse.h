/* The guest ELF parser: checks an x86-64 ELF executable held in a buffer
 * against the guest's memory and hands its segments to a callback. Pure:
 * no KVM, no struct vm, no file, so every refusal is unit-testable
 * (tests/check_loader.c) and fuzzable (tests/fuzz_elf.c). load_elf() in
 * loader.c reads the file and writes guest memory through it. */
#ifndef VMM_ELF_PARSE_H
#define VMM_ELF_PARSE_H

#include <stddef.h>
#include <stdint.h>

#define ELF_MAX_PHDRS	64	/* guests have 2 or 3; more is not a guest */

/* Where an image may go: segments within [base, end). */
struct elf_limits {
	uint64_t base;		/* VMD_IMAGE_BASE: below it are the VMM's tables */
	uint64_t end;		/* the end of guest memory */
};

/* Why an image was refused; each has its own message (elf_strerror). */
enum elf_error {
	ELF_OK,
	ELF_E_TRUNCATED,	/* shorter than an ELF header */
	ELF_E_MAGIC,		/* not \x7fELF */
	ELF_E_CLASS,		/* not ELFCLASS64 */
	ELF_E_DATA,		/* not little-endian */
	ELF_E_VERSION,		/* EI_VERSION or e_version not EV_CURRENT */
	ELF_E_MACHINE,		/* not EM_X86_64 */
	ELF_E_TYPE,		/* not ET_EXEC (ET_DYN: PIE or shared object) */
	ELF_E_PHENTSIZE,	/* e_phentsize not sizeof(Elf64_Phdr) */
	ELF_E_PHDRS,		/* program headers outside the file */
	ELF_E_TOO_MANY_PHDRS,	/* more than ELF_MAX_PHDRS (or PN_XNUM) */
	ELF_E_NO_SEGMENTS,	/* no PT_LOAD segment with memory */
	ELF_E_FILESZ,		/* p_filesz > p_memsz */
	ELF_E_WRAP,		/* p_paddr + p_memsz wraps around */
	ELF_E_BELOW_BASE,	/* a segment starts below limits.base */
	ELF_E_PAST_END,		/* a segment ends past limits.end */
	ELF_E_VADDR,		/* p_vaddr != p_paddr: guests run identity-mapped */
	ELF_E_OVERLAP,		/* two segments share guest memory */
	ELF_E_FILE_DATA,	/* a segment's file data runs past the end of the file */
	ELF_E_ENTRY,		/* the entry point is in no loaded segment */
	ELF_E_FILE_TOO_BIG,	/* the file is larger than guest memory */
	ELF_E_WRITE,		/* the callback failed */
	ELF_E_COUNT
};

/* What a loaded image is. */
struct elf_image {
	uint64_t entry;
	uint64_t lo, hi;		/* lowest address loaded, end of the highest */
	unsigned int nr_segments;	/* PT_LOAD segments written */
};

/* Writes one segment: filesz bytes of data at gpa, then memsz - filesz
 * zeros. 0 or a negative errno. */
typedef int (*elf_write_fn)(void *arg, uint64_t gpa, const uint8_t *data, uint64_t filesz,
			    uint64_t memsz);

/*
 * Checks the image in buf[0, len) and, only if all of it is good, writes
 * its PT_LOAD segments through write (in program header order) and fills
 * img. On a refusal nothing is written and why (whylen bytes, may be NULL)
 * says what is wrong, naming the header field, segment and values. A
 * failed write returns ELF_E_WRITE after the segments before it.
 */
enum elf_error elf_parse(const uint8_t *buf, size_t len, const struct elf_limits *lim,
			 elf_write_fn write, void *arg, struct elf_image *img, char *why,
			 size_t whylen);

/* A short fixed text for an error ("wrong machine", ...). */
const char *elf_strerror(enum elf_error err);

/*
 * The contents of the section called name in the 64-bit ELF file buf[0,
 * len): *data points into buf, *size bytes. 0; -ENOENT if there is no such
 * section; -EINVAL if the file is not a 64-bit ELF file or its section
 * headers or names are outside it. For what is not loaded, such as a
 * guest's purpose (VMD_GUEST_PURPOSE in vmd.h).
 */
int elf_section(const uint8_t *buf, size_t len, const char *name, const uint8_t **data,
		size_t *size);

#endif
