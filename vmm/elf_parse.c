/* The guest ELF parser (see elf_parse.h): every header field that decides
 * where bytes go is checked, all of them before the first write. */
#include <elf.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "vmm/elf_parse.h"

static const char *const messages[ELF_E_COUNT] = {
	[ELF_OK] = "no error",
	[ELF_E_TRUNCATED] = "truncated ELF header",
	[ELF_E_MAGIC] = "not an ELF file",
	[ELF_E_CLASS] = "not a 64-bit ELF file",
	[ELF_E_DATA] = "not a little-endian ELF file",
	[ELF_E_VERSION] = "unknown ELF version",
	[ELF_E_MACHINE] = "not an x86-64 ELF file",
	[ELF_E_TYPE] = "not an ELF executable (ET_EXEC)",
	[ELF_E_PHENTSIZE] = "bad program header size",
	[ELF_E_PHDRS] = "program headers outside the file",
	[ELF_E_TOO_MANY_PHDRS] = "too many program headers",
	[ELF_E_NO_SEGMENTS] = "no loadable segment",
	[ELF_E_FILESZ] = "segment larger in the file than in memory",
	[ELF_E_WRAP] = "segment wraps around the address space",
	[ELF_E_BELOW_BASE] = "segment below the image base",
	[ELF_E_PAST_END] = "segment past the end of guest memory",
	[ELF_E_VADDR] = "segment's virtual and physical addresses differ",
	[ELF_E_OVERLAP] = "segments overlap",
	[ELF_E_FILE_DATA] = "segment data past the end of the file",
	[ELF_E_ENTRY] = "entry point outside the loaded segments",
	[ELF_E_FILE_TOO_BIG] = "file larger than guest memory",
	[ELF_E_WRITE] = "cannot write a segment to guest memory",
};

const char *elf_strerror(enum elf_error err)
{
	return (unsigned int)err < ELF_E_COUNT ? messages[err] : "unknown ELF error";
}

/* One run of the parser: the input, the limits, and where to say why. */
struct elf_parse_ctx {
	const uint8_t *buf;
	size_t len;
	const struct elf_limits *lim;
	char *why;
	size_t whylen;
	Elf64_Ehdr eh;
	Elf64_Phdr ph[ELF_MAX_PHDRS];	/* the PT_LOAD segments with memory */
	unsigned int nr;
};

/* Sets why to the error's message, then ": " and the details. */
static enum elf_error __attribute__((format(printf, 3, 4)))
refuse(struct elf_parse_ctx *c, enum elf_error err, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (!c->why || !c->whylen)
		return err;
	n = snprintf(c->why, c->whylen, "%s", elf_strerror(err));
	if (fmt && n >= 0 && (size_t)n < c->whylen) {
		n += snprintf(c->why + n, c->whylen - (size_t)n, ": ");
		if ((size_t)n < c->whylen) {
			va_start(ap, fmt);
			vsnprintf(c->why + n, c->whylen - (size_t)n, fmt, ap);
			va_end(ap);
		}
	}
	return err;
}

static enum elf_error check_ident(struct elf_parse_ctx *c)
{
	const Elf64_Ehdr *eh = &c->eh;
	size_t n = c->len < SELFMAG ? c->len : SELFMAG;

	if (memcmp(c->buf, ELFMAG, n))
		return refuse(c, ELF_E_MAGIC, "it starts with %02x %02x %02x %02x, not 7f 45 4c 46 "
			      "(\\x7fELF)", n > 0 ? c->buf[0] : 0, n > 1 ? c->buf[1] : 0,
			      n > 2 ? c->buf[2] : 0, n > 3 ? c->buf[3] : 0);
	if (c->len < sizeof(Elf64_Ehdr))
		return refuse(c, ELF_E_TRUNCATED, "the file has %zu bytes, an ELF64 header %zu",
			      c->len, sizeof(Elf64_Ehdr));
	memcpy(&c->eh, c->buf, sizeof(c->eh));
	if (eh->e_ident[EI_CLASS] != ELFCLASS64)
		return refuse(c, ELF_E_CLASS, "EI_CLASS is %u, not ELFCLASS64 (2)",
			      eh->e_ident[EI_CLASS]);
	if (eh->e_ident[EI_DATA] != ELFDATA2LSB)
		return refuse(c, ELF_E_DATA, "EI_DATA is %u, not ELFDATA2LSB (1)",
			      eh->e_ident[EI_DATA]);
	if (eh->e_ident[EI_VERSION] != EV_CURRENT || eh->e_version != EV_CURRENT)
		return refuse(c, ELF_E_VERSION, "EI_VERSION %u, e_version %u, want EV_CURRENT (1)",
			      eh->e_ident[EI_VERSION], eh->e_version);
	if (eh->e_machine != EM_X86_64)
		return refuse(c, ELF_E_MACHINE, "e_machine is %u, not EM_X86_64 (62)",
			      eh->e_machine);
	if (eh->e_type != ET_EXEC)
		return refuse(c, ELF_E_TYPE, "e_type is %u%s; a guest is linked at a fixed address",
			      eh->e_type, eh->e_type == ET_DYN ? " (ET_DYN: PIE or shared object)" :
			      "");
	if (c->len > c->lim->end)
		return refuse(c, ELF_E_FILE_TOO_BIG, "%zu bytes, guest memory %lu",
			      c->len, (unsigned long)c->lim->end);
	return ELF_OK;
}

static enum elf_error read_phdrs(struct elf_parse_ctx *c)
{
	const Elf64_Ehdr *eh = &c->eh;

	if (eh->e_phentsize != sizeof(Elf64_Phdr))
		return refuse(c, ELF_E_PHENTSIZE, "e_phentsize is %u, not %zu", eh->e_phentsize,
			      sizeof(Elf64_Phdr));
	if (eh->e_phnum > ELF_MAX_PHDRS)
		return refuse(c, ELF_E_TOO_MANY_PHDRS, "e_phnum is %u, at most %d%s", eh->e_phnum,
			      ELF_MAX_PHDRS, eh->e_phnum == PN_XNUM ? " (PN_XNUM)" : "");
	if (eh->e_phoff > c->len ||
	    (uint64_t)eh->e_phnum * sizeof(Elf64_Phdr) > c->len - eh->e_phoff)
		return refuse(c, ELF_E_PHDRS, "%u headers at offset 0x%lx, the file has %zu bytes",
			      eh->e_phnum, (unsigned long)eh->e_phoff, c->len);
	for (unsigned int i = 0; i < eh->e_phnum; i++) {
		Elf64_Phdr ph;

		memcpy(&ph, c->buf + eh->e_phoff + (uint64_t)i * sizeof(ph), sizeof(ph));
		if (ph.p_type == PT_LOAD && ph.p_memsz)
			c->ph[c->nr++] = ph;
	}
	if (!c->nr)
		return refuse(c, ELF_E_NO_SEGMENTS, "no PT_LOAD header with memory among %u",
			      eh->e_phnum);
	return ELF_OK;
}

/* Segment i (its index among the loaded ones) against the limits and the
 * file. */
static enum elf_error check_segment(struct elf_parse_ctx *c, unsigned int i)
{
	const Elf64_Phdr *ph = &c->ph[i];
	unsigned long at = (unsigned long)ph->p_paddr, mem = (unsigned long)ph->p_memsz;

	if (ph->p_filesz > ph->p_memsz)
		return refuse(c, ELF_E_FILESZ, "segment %u: p_filesz 0x%lx > p_memsz 0x%lx", i,
			      (unsigned long)ph->p_filesz, mem);
	if (ph->p_paddr + ph->p_memsz < ph->p_paddr)
		return refuse(c, ELF_E_WRAP, "segment %u: 0x%lx + 0x%lx", i, at, mem);
	if (ph->p_vaddr != ph->p_paddr)
		return refuse(c, ELF_E_VADDR, "segment %u: p_vaddr 0x%lx, p_paddr 0x%lx; guests run "
			      "identity-mapped", i, (unsigned long)ph->p_vaddr, at);
	if (ph->p_paddr < c->lim->base)
		return refuse(c, ELF_E_BELOW_BASE, "segment %u at 0x%lx-0x%lx, images start at 0x%lx",
			      i, at, at + mem, (unsigned long)c->lim->base);
	if (ph->p_paddr + ph->p_memsz > c->lim->end)
		return refuse(c, ELF_E_PAST_END, "segment %u at 0x%lx-0x%lx, guest memory ends at "
			      "0x%lx (%lu MiB)", i, at, at + mem, (unsigned long)c->lim->end,
			      (unsigned long)(c->lim->end >> 20));
	if (ph->p_filesz && (ph->p_offset > c->len || ph->p_filesz > c->len - ph->p_offset))
		return refuse(c, ELF_E_FILE_DATA, "segment %u: 0x%lx bytes at offset 0x%lx, the file "
			      "has %zu bytes", i, (unsigned long)ph->p_filesz,
			      (unsigned long)ph->p_offset, c->len);
	for (unsigned int j = 0; j < i; j++) {
		const Elf64_Phdr *o = &c->ph[j];

		if (ph->p_paddr < o->p_paddr + o->p_memsz && o->p_paddr < ph->p_paddr + ph->p_memsz)
			return refuse(c, ELF_E_OVERLAP, "segment %u at 0x%lx-0x%lx and segment %u at "
				      "0x%lx-0x%lx", j, (unsigned long)o->p_paddr,
				      (unsigned long)(o->p_paddr + o->p_memsz), i, at, at + mem);
	}
	return ELF_OK;
}

static bool entry_loaded(const struct elf_parse_ctx *c)
{
	for (unsigned int i = 0; i < c->nr; i++)
		if (c->eh.e_entry >= c->ph[i].p_paddr &&
		    c->eh.e_entry - c->ph[i].p_paddr < c->ph[i].p_memsz)
			return true;
	return false;
}

enum elf_error elf_parse(const uint8_t *buf, size_t len, const struct elf_limits *lim,
			 elf_write_fn write, void *arg, struct elf_image *img, char *why,
			 size_t whylen)
{
	struct elf_parse_ctx c = { .buf = buf, .len = len, .lim = lim, .why = why,
				   .whylen = whylen };
	enum elf_error err;
	int werr;

	if (why && whylen)
		why[0] = 0;
	memset(img, 0, sizeof(*img));
	err = check_ident(&c);
	if (!err)
		err = read_phdrs(&c);
	for (unsigned int i = 0; !err && i < c.nr; i++)
		err = check_segment(&c, i);
	if (!err && !entry_loaded(&c))
		err = refuse(&c, ELF_E_ENTRY, "e_entry 0x%lx", (unsigned long)c.eh.e_entry);
	if (err)
		return err;
	/* all checked: only now does anything change */
	img->entry = c.eh.e_entry;
	img->lo = UINT64_MAX;
	for (unsigned int i = 0; i < c.nr; i++) {
		const Elf64_Phdr *ph = &c.ph[i];

		werr = write(arg, ph->p_paddr, ph->p_filesz ? buf + ph->p_offset : buf, ph->p_filesz,
			     ph->p_memsz);
		if (werr)
			return refuse(&c, ELF_E_WRITE, "segment %u at 0x%lx: %s", i,
				      (unsigned long)ph->p_paddr, strerror(-werr));
		if (ph->p_paddr < img->lo)
			img->lo = ph->p_paddr;
		if (ph->p_paddr + ph->p_memsz > img->hi)
			img->hi = ph->p_paddr + ph->p_memsz;
		img->nr_segments++;
	}
	return ELF_OK;
}

/* Section header i, when it and what it names lie inside the file. */
static bool read_shdr(const uint8_t *buf, size_t len, const Elf64_Ehdr *eh, unsigned int i,
		      Elf64_Shdr *sh)
{
	memcpy(sh, buf + eh->e_shoff + (uint64_t)i * sizeof(*sh), sizeof(*sh));
	return sh->sh_type != SHT_NOBITS && sh->sh_offset <= len && sh->sh_size <= len - sh->sh_offset;
}

int elf_section(const uint8_t *buf, size_t len, const char *name, const uint8_t **data,
		size_t *size)
{
	size_t want = strlen(name) + 1;
	Elf64_Shdr strtab, sh;
	Elf64_Ehdr eh;

	if (len < sizeof(eh) || memcmp(buf, ELFMAG, SELFMAG) || buf[EI_CLASS] != ELFCLASS64)
		return -EINVAL;
	memcpy(&eh, buf, sizeof(eh));
	if (eh.e_shentsize != sizeof(Elf64_Shdr) || eh.e_shoff > len ||
	    (uint64_t)eh.e_shnum * sizeof(Elf64_Shdr) > len - eh.e_shoff || eh.e_shstrndx >= eh.e_shnum ||
	    !read_shdr(buf, len, &eh, eh.e_shstrndx, &strtab))
		return -EINVAL;
	for (unsigned int i = 0; i < eh.e_shnum; i++) {
		if (!read_shdr(buf, len, &eh, i, &sh) || sh.sh_name >= strtab.sh_size ||
		    strtab.sh_size - sh.sh_name < want ||
		    memcmp(buf + strtab.sh_offset + sh.sh_name, name, want))
			continue;
		*data = buf + sh.sh_offset;
		*size = sh.sh_size;
		return 0;
	}
	return -ENOENT;
}
