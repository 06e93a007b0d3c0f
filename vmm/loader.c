/* Loads a guest ELF executable into guest memory: reads the file, and
 * lets the pure parser (elf_parse.c) check it and hand over its segments. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "guest/include/vmdefrag_abi.h"
#include "vmm/elf_parse.h"
#include "vmm/loader.h"
#include "vmm/vm.h"

static int write_segment(void *arg, uint64_t gpa, const uint8_t *data, uint64_t filesz,
			 uint64_t memsz)
{
	static const uint8_t zeros[65536];
	struct vm *vm = arg;
	int err = filesz ? guest_write(&vm->gm, gpa, data, filesz) : 0;

	/* the bss: guest memory is fresh, but a segment means what it says */
	for (uint64_t off = filesz; !err && off < memsz;) {
		uint64_t n = memsz - off < sizeof(zeros) ? memsz - off : sizeof(zeros);

		err = guest_write(&vm->gm, gpa + off, zeros, n);
		off += n;
	}
	return err;
}

int guest_image_read(const char *path, uint64_t max, uint8_t **buf, size_t *len)
{
	struct stat st;
	size_t got = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC), err;

	if (fd < 0) {
		err = -errno;
		fprintf(stderr, "vmdefrag: %s: %s\n", path, strerror(errno));
		return err;
	}
	if (fstat(fd, &st)) {
		err = -errno;
		fprintf(stderr, "vmdefrag: %s: %s\n", path, strerror(errno));
		goto out;
	}
	err = -EINVAL;
	if (!S_ISREG(st.st_mode)) {
		fprintf(stderr, "vmdefrag: %s: not a regular file, so not a guest image\n", path);
		goto out;
	}
	if ((uint64_t)st.st_size > max) {
		fprintf(stderr, "vmdefrag: %s: %s: %lu bytes, guest memory %lu\n", path,
			elf_strerror(ELF_E_FILE_TOO_BIG), (unsigned long)st.st_size,
			(unsigned long)max);
		goto out;
	}
	*buf = malloc(st.st_size ? (size_t)st.st_size : 1);
	if (!*buf) {
		err = -ENOMEM;
		fprintf(stderr, "vmdefrag: %s: no memory for %lu bytes\n", path,
			(unsigned long)st.st_size);
		goto out;
	}
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, *buf + got, (size_t)st.st_size - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;	/* shrank meanwhile: parse what there is */
		got += (size_t)n;
	}
	*len = got;
	err = 0;
out:
	close(fd);
	return err;
}

int load_elf(struct vm *vm, const char *path)
{
	struct elf_limits lim = { .base = VMD_IMAGE_BASE, .end = vm->cfg.mem_bytes };
	struct elf_image img;
	enum elf_error eerr;
	uint8_t *buf = NULL;
	char why[256];
	size_t len = 0;
	int err;

	err = guest_image_read(path, lim.end, &buf, &len);
	if (err)
		return err;
	eerr = elf_parse(buf, len, &lim, write_segment, vm, &img, why, sizeof(why));
	free(buf);
	if (eerr) {
		fprintf(stderr, "vmdefrag: %s: %s\n", path, why);
		return -EINVAL;
	}
	vm->entry = img.entry;
	vm->image_end = (img.hi + (2ULL << 20) - 1) & ~((2ULL << 20) - 1);
	return 0;
}
