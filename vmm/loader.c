/* Loads a guest ELF executable's PT_LOAD segments into guest memory. */
#include <elf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guest/include/vmdefrag_abi.h"
#include "vmm/vm.h"

static int fail(const char *path, const char *why)
{
	fprintf(stderr, "vmdefrag: %s: %s\n", path, why);
	return -EINVAL;
}

int load_elf(struct vm *vm, const char *path)
{
	FILE *f = fopen(path, "rb");
	Elf64_Ehdr eh;
	uint64_t end = 0;
	int err = 0;

	if (!f) {
		fprintf(stderr, "vmdefrag: %s: %s\n", path, strerror(errno));
		return -errno;
	}
	if (fread(&eh, sizeof(eh), 1, f) != 1 || memcmp(eh.e_ident, ELFMAG, SELFMAG) ||
	    eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_machine != EM_X86_64 ||
	    eh.e_type != ET_EXEC || eh.e_phentsize != sizeof(Elf64_Phdr)) {
		err = fail(path, "not an x86-64 ELF executable");
		goto out;
	}
	for (unsigned int i = 0; i < eh.e_phnum && !err; i++) {
		Elf64_Phdr ph;
		uint8_t *buf;

		if (fseek(f, (long)(eh.e_phoff + i * sizeof(ph)), SEEK_SET) ||
		    fread(&ph, sizeof(ph), 1, f) != 1) {
			err = fail(path, "truncated program headers");
			break;
		}
		if (ph.p_type != PT_LOAD || !ph.p_memsz)
			continue;
		if (ph.p_filesz > ph.p_memsz || ph.p_paddr < VMD_IMAGE_BASE ||
		    ph.p_paddr + ph.p_memsz > vm->cfg.mem_bytes || ph.p_paddr + ph.p_memsz < ph.p_paddr) {
			fprintf(stderr, "vmdefrag: %s: segment at 0x%lx (%lu bytes) does not fit in "
				"guest memory 0x%lx-0x%lx\n", path, (unsigned long)ph.p_paddr,
				(unsigned long)ph.p_memsz, (unsigned long)VMD_IMAGE_BASE,
				(unsigned long)vm->cfg.mem_bytes);
			err = -EINVAL;
			break;
		}
		buf = calloc(1, ph.p_memsz);
		if (!buf) {
			err = -ENOMEM;
			break;
		}
		if (ph.p_filesz && (fseek(f, (long)ph.p_offset, SEEK_SET) ||
				    fread(buf, ph.p_filesz, 1, f) != 1))
			err = fail(path, "truncated segment");
		else
			err = guest_write(&vm->gm, ph.p_paddr, buf, ph.p_memsz);
		free(buf);
		if (ph.p_paddr + ph.p_memsz > end)
			end = ph.p_paddr + ph.p_memsz;
	}
	if (!err && (eh.e_entry < VMD_IMAGE_BASE || eh.e_entry >= end))
		err = fail(path, "entry point outside the loaded image");
	vm->entry = eh.e_entry;
	vm->image_end = (end + (2ULL << 20) - 1) & ~((2ULL << 20) - 1);
out:
	fclose(f);
	return err;
}
