/* Fuzz target for the guest ELF parser (vmm/elf_parse.c): any bytes as a
 * guest image, loaded into a fake guest memory of FUZZ_MEM bytes. Beyond
 * the sanitizers it checks the parser's contract and aborts when it is
 * broken: writes only inside [base, end) and from inside the input, nothing
 * written unless the image was accepted, the entry point inside what was
 * written, a message for every refusal; and a section elf_section() finds
 * lies inside the input. libFuzzer entry point; the smoke
 * driver (tests/fuzz_driver.c) runs it without libFuzzer. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/elf_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_BASE	0x200000ULL
#define FUZZ_MEM	(4ULL << 20)	/* 2 MiB of room for the image */

static uint8_t guest[FUZZ_MEM];

struct fuzz_load {
	const uint8_t *data;
	size_t size;
	unsigned int writes;
	uint64_t lo[ELF_MAX_PHDRS], hi[ELF_MAX_PHDRS];
};

static void broken(const char *what)
{
	fprintf(stderr, "fuzz_elf: %s\n", what);
	abort();
}

static int fake_write(void *arg, uint64_t gpa, const uint8_t *src, uint64_t filesz,
		      uint64_t memsz)
{
	struct fuzz_load *l = arg;

	if (filesz > memsz || gpa < FUZZ_BASE || gpa > FUZZ_MEM || memsz > FUZZ_MEM - gpa)
		broken("a write outside guest memory");
	if (filesz && (src < l->data || (uint64_t)(src - l->data) > l->size ||
		       filesz > l->size - (uint64_t)(src - l->data)))
		broken("a write from outside the input");
	if (l->writes >= ELF_MAX_PHDRS)
		broken("more segments written than program headers");
	memcpy(guest + gpa, src, filesz);
	memset(guest + gpa + filesz, 0, memsz - filesz);
	l->lo[l->writes] = gpa;
	l->hi[l->writes] = gpa + memsz;
	l->writes++;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct elf_limits lim = { .base = FUZZ_BASE, .end = FUZZ_MEM };
	struct fuzz_load l = { .data = data, .size = size };
	struct elf_image img;
	enum elf_error err;
	char why[256];
	bool entry_written = false;
	const uint8_t *section;
	size_t section_size;

	if (!elf_section(data, size, ".vmdefrag.purpose", &section, &section_size) &&
	    (section < data || (size_t)(section - data) > size ||
	     section_size > size - (size_t)(section - data)))
		broken("a section outside the input");
	err = elf_parse(data, size, &lim, fake_write, &l, &img, why, sizeof(why));
	if (strnlen(why, sizeof(why)) == sizeof(why))
		broken("an unterminated message");
	if (err) {
		if (err >= ELF_E_COUNT || err == ELF_E_WRITE)
			broken("an error the fake memory cannot cause");
		if (l.writes || img.nr_segments)
			broken("a refused image wrote guest memory");
		if (strncmp(why, elf_strerror(err), strlen(elf_strerror(err))))
			broken("a message that does not start with its error");
		return 0;
	}
	if (!l.writes || l.writes != img.nr_segments)
		broken("an accepted image with no segment, or a miscount");
	for (unsigned int i = 0; i < l.writes; i++) {
		entry_written |= img.entry >= l.lo[i] && img.entry < l.hi[i];
		if (l.lo[i] < img.lo || l.hi[i] > img.hi)
			broken("a segment outside the image's bounds");
		for (unsigned int j = 0; j < i; j++)
			if (l.lo[i] < l.hi[j] && l.lo[j] < l.hi[i])
				broken("two segments written over each other");
	}
	if (!entry_written)
		broken("an entry point outside the written segments");
	return 0;
}
