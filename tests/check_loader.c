/* The guest ELF parser on hand-built images: a good one is written segment
 * by segment; each bad one is refused with its own error and nothing is
 * written. No KVM. */
#include <check.h>
#include <elf.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tests/check_run.h"
#include "vmm/elf_parse.h"

#define BASE		0x200000ULL
#define MEM		(16ULL << 20)
#define TEXT_OFF	0x1000
#define TEXT_LEN	0x100
#define DATA_OFF	0x1100
#define DATA_LEN	0x40
#define DATA_MEM	0x2000
#define DATA_AT		(BASE + 0x1000)
#define IMAGE_LEN	(DATA_OFF + DATA_LEN)

static const struct elf_limits limits = { .base = BASE, .end = MEM };

/* An image like the ones guest/ builds: text, data with a bss, and a
 * PT_GNU_STACK header with no memory. */
struct image {
	union {
		uint8_t buf[IMAGE_LEN];
		Elf64_Ehdr eh;
	};
	size_t len;
};

static Elf64_Phdr *phdr(struct image *im, unsigned int i)
{
	return (Elf64_Phdr *)(im->buf + sizeof(Elf64_Ehdr)) + i;
}

static void image_make(struct image *im)
{
	Elf64_Ehdr *eh = &im->eh;

	memset(im, 0, sizeof(*im));
	im->len = IMAGE_LEN;
	memcpy(eh->e_ident, ELFMAG, SELFMAG);
	eh->e_ident[EI_CLASS] = ELFCLASS64;
	eh->e_ident[EI_DATA] = ELFDATA2LSB;
	eh->e_ident[EI_VERSION] = EV_CURRENT;
	eh->e_type = ET_EXEC;
	eh->e_machine = EM_X86_64;
	eh->e_version = EV_CURRENT;
	eh->e_entry = BASE + 0x10;
	eh->e_phoff = sizeof(Elf64_Ehdr);
	eh->e_ehsize = sizeof(Elf64_Ehdr);
	eh->e_phentsize = sizeof(Elf64_Phdr);
	eh->e_phnum = 3;
	*phdr(im, 0) = (Elf64_Phdr){ .p_type = PT_LOAD, .p_flags = PF_R | PF_X,
		.p_offset = TEXT_OFF, .p_vaddr = BASE, .p_paddr = BASE,
		.p_filesz = TEXT_LEN, .p_memsz = TEXT_LEN, .p_align = 0x1000 };
	*phdr(im, 1) = (Elf64_Phdr){ .p_type = PT_LOAD, .p_flags = PF_R | PF_W,
		.p_offset = DATA_OFF, .p_vaddr = DATA_AT, .p_paddr = DATA_AT,
		.p_filesz = DATA_LEN, .p_memsz = DATA_MEM, .p_align = 0x1000 };
	*phdr(im, 2) = (Elf64_Phdr){ .p_type = PT_GNU_STACK, .p_flags = PF_R | PF_W };
	for (unsigned int i = 0; i < TEXT_LEN; i++)
		im->buf[TEXT_OFF + i] = (uint8_t)(0x90 + i);
	for (unsigned int i = 0; i < DATA_LEN; i++)
		im->buf[DATA_OFF + i] = (uint8_t)(0xd0 + i);
}

/* The callback: records what it was asked to write. */
struct writes {
	unsigned int n;
	int fail_at;		/* fail the write with this index; -1 never */
	struct {
		uint64_t gpa, filesz, memsz;
		const uint8_t *data;
	} w[4];
};

static int record_write(void *arg, uint64_t gpa, const uint8_t *data, uint64_t filesz,
			uint64_t memsz)
{
	struct writes *ws = arg;

	if ((int)ws->n == ws->fail_at)
		return -EFAULT;
	if (ws->n < 4) {
		ws->w[ws->n].gpa = gpa;
		ws->w[ws->n].data = data;
		ws->w[ws->n].filesz = filesz;
		ws->w[ws->n].memsz = memsz;
	}
	ws->n++;
	return 0;
}

static enum elf_error parse(const struct image *im, struct writes *ws, struct elf_image *img,
			    char *why, size_t whylen)
{
	memset(ws, 0, sizeof(*ws));
	ws->fail_at = -1;
	return elf_parse(im->buf, im->len, &limits, record_write, ws, img, why, whylen);
}

START_TEST(test_good_image)
{
	struct elf_image img;
	struct writes ws;
	struct image im;
	char why[256];

	image_make(&im);
	ck_assert_int_eq(parse(&im, &ws, &img, why, sizeof(why)), ELF_OK);
	ck_assert_str_eq(why, "");
	ck_assert_uint_eq(ws.n, 2);
	ck_assert_uint_eq(ws.w[0].gpa, BASE);
	ck_assert_ptr_eq(ws.w[0].data, im.buf + TEXT_OFF);
	ck_assert_uint_eq(ws.w[0].filesz, TEXT_LEN);
	ck_assert_uint_eq(ws.w[0].memsz, TEXT_LEN);
	ck_assert_uint_eq(ws.w[1].gpa, DATA_AT);
	ck_assert_ptr_eq(ws.w[1].data, im.buf + DATA_OFF);
	ck_assert_uint_eq(ws.w[1].filesz, DATA_LEN);
	ck_assert_uint_eq(ws.w[1].memsz, DATA_MEM);
	ck_assert_uint_eq(img.entry, BASE + 0x10);
	ck_assert_uint_eq(img.lo, BASE);
	ck_assert_uint_eq(img.hi, DATA_AT + DATA_MEM);
	ck_assert_uint_eq(img.nr_segments, 2);
}
END_TEST

/* The edges that are allowed: a segment right at the base, one ending
 * exactly at the end of memory, a bss-only segment whose p_offset points
 * nowhere (no file bytes are read), an entry at a segment's last byte. */
START_TEST(test_edges_allowed)
{
	struct elf_image img;
	struct writes ws;
	struct image im;

	image_make(&im);
	phdr(&im, 1)->p_paddr = phdr(&im, 1)->p_vaddr = MEM - DATA_MEM;
	phdr(&im, 1)->p_filesz = 0;
	phdr(&im, 1)->p_offset = UINT64_MAX;
	im.eh.e_entry = BASE + TEXT_LEN - 1;
	ck_assert_int_eq(parse(&im, &ws, &img, NULL, 0), ELF_OK);
	ck_assert_uint_eq(ws.n, 2);
	ck_assert_uint_eq(ws.w[1].gpa, MEM - DATA_MEM);
	ck_assert_uint_eq(ws.w[1].filesz, 0);
	ck_assert_uint_eq(img.hi, MEM);
}
END_TEST

/* Each bad image: how it is made from the good one, the error, and a part
 * of the message that names the field and the values. */
struct bad_case {
	const char *name;
	void (*mutate)(struct image *im);
	enum elf_error err;
	const char *why;
};

static void empty(struct image *im) { im->len = 0; }
static void short_header(struct image *im) { im->len = 40; }
static void magic(struct image *im) { im->buf[1] = 'X'; }
static void script(struct image *im) { memcpy(im->buf, "#!/bin/sh\n", 10); }
static void class32(struct image *im) { im->eh.e_ident[EI_CLASS] = ELFCLASS32; }
static void big_endian(struct image *im) { im->eh.e_ident[EI_DATA] = ELFDATA2MSB; }
static void ident_version(struct image *im) { im->eh.e_ident[EI_VERSION] = EV_NONE; }
static void e_version(struct image *im) { im->eh.e_version = 2; }
static void machine(struct image *im) { im->eh.e_machine = EM_386; }
static void pie(struct image *im) { im->eh.e_type = ET_DYN; }
static void relocatable(struct image *im) { im->eh.e_type = ET_REL; }
static void phentsize(struct image *im) { im->eh.e_phentsize = 32; }
static void phoff_past_end(struct image *im) { im->eh.e_phoff = IMAGE_LEN - 100; }
static void phoff_huge(struct image *im) { im->eh.e_phoff = UINT64_MAX - 8; }
static void phnum_many(struct image *im) { im->eh.e_phnum = ELF_MAX_PHDRS + 1; }
static void phnum_xnum(struct image *im) { im->eh.e_phnum = PN_XNUM; }

static void no_load(struct image *im)
{
	phdr(im, 0)->p_type = PT_NOTE;
	phdr(im, 1)->p_memsz = 0;
}

static void filesz(struct image *im) { phdr(im, 1)->p_filesz = DATA_MEM + 1; }

static void wraps(struct image *im)
{
	phdr(im, 1)->p_paddr = phdr(im, 1)->p_vaddr = UINT64_MAX - 0xfff;
}

static void below_base(struct image *im)
{
	phdr(im, 0)->p_paddr = phdr(im, 0)->p_vaddr = BASE - 0x1000;
	im->eh.e_entry = BASE - 0x1000;
}

static void past_end(struct image *im)
{
	phdr(im, 1)->p_paddr = phdr(im, 1)->p_vaddr = MEM - 0x1000;
}

static void far_past_end(struct image *im)
{
	phdr(im, 1)->p_paddr = phdr(im, 1)->p_vaddr = 0x100000000ULL;
}

static void vaddr(struct image *im) { phdr(im, 1)->p_vaddr = 0x400000; }
static void overlap(struct image *im) { phdr(im, 1)->p_paddr = phdr(im, 1)->p_vaddr = BASE + 0x80; }
static void data_past_eof(struct image *im) { phdr(im, 1)->p_offset = IMAGE_LEN - 0x10; }
static void data_offset_huge(struct image *im) { phdr(im, 1)->p_offset = UINT64_MAX - 0x10; }
static void truncated_data(struct image *im) { im->len = IMAGE_LEN - 1; }
static void entry_in_gap(struct image *im) { im->eh.e_entry = BASE + TEXT_LEN; }
static void entry_zero(struct image *im) { im->eh.e_entry = 0; }

static const struct bad_case bad_cases[] = {
	{ "empty file", empty, ELF_E_TRUNCATED, "truncated ELF header: the file has 0 bytes" },
	{ "short header", short_header, ELF_E_TRUNCATED,
	  "truncated ELF header: the file has 40 bytes, an ELF64 header 64" },
	{ "magic", magic, ELF_E_MAGIC, "not an ELF file: it starts with 7f 58 4c 46" },
	{ "script", script, ELF_E_MAGIC, "not an ELF file: it starts with 23 21 2f 62" },
	{ "ELFCLASS32", class32, ELF_E_CLASS, "not a 64-bit ELF file: EI_CLASS is 1" },
	{ "big-endian", big_endian, ELF_E_DATA, "not a little-endian ELF file: EI_DATA is 2" },
	{ "EI_VERSION", ident_version, ELF_E_VERSION, "unknown ELF version: EI_VERSION 0, e_version 1" },
	{ "e_version", e_version, ELF_E_VERSION, "unknown ELF version: EI_VERSION 1, e_version 2" },
	{ "machine", machine, ELF_E_MACHINE, "not an x86-64 ELF file: e_machine is 3" },
	{ "PIE", pie, ELF_E_TYPE, "e_type is 3 (ET_DYN: PIE or shared object)" },
	{ "ET_REL", relocatable, ELF_E_TYPE, "not an ELF executable (ET_EXEC): e_type is 1;" },
	{ "e_phentsize", phentsize, ELF_E_PHENTSIZE, "bad program header size: e_phentsize is 32, not 56" },
	{ "e_phoff past the end", phoff_past_end, ELF_E_PHDRS,
	  "program headers outside the file: 3 headers at offset 0x10dc, the file has 4416 bytes" },
	{ "e_phoff wraps", phoff_huge, ELF_E_PHDRS, "at offset 0xfffffffffffffff7" },
	{ "e_phnum 65", phnum_many, ELF_E_TOO_MANY_PHDRS, "e_phnum is 65, at most 64" },
	{ "PN_XNUM", phnum_xnum, ELF_E_TOO_MANY_PHDRS, "e_phnum is 65535, at most 64 (PN_XNUM)" },
	{ "no PT_LOAD", no_load, ELF_E_NO_SEGMENTS, "no PT_LOAD header with memory among 3" },
	{ "p_filesz > p_memsz", filesz, ELF_E_FILESZ, "segment 1: p_filesz 0x2001 > p_memsz 0x2000" },
	{ "wraps", wraps, ELF_E_WRAP, "segment 1: 0xfffffffffffff000 + 0x2000" },
	{ "below the base", below_base, ELF_E_BELOW_BASE,
	  "segment 0 at 0x1ff000-0x1ff100, images start at 0x200000" },
	{ "past the end", past_end, ELF_E_PAST_END,
	  "segment 1 at 0xfff000-0x1001000, guest memory ends at 0x1000000 (16 MiB)" },
	{ "far past the end", far_past_end, ELF_E_PAST_END, "segment 1 at 0x100000000-0x100002000" },
	{ "p_vaddr", vaddr, ELF_E_VADDR, "segment 1: p_vaddr 0x400000, p_paddr 0x201000" },
	{ "overlap", overlap, ELF_E_OVERLAP,
	  "segment 0 at 0x200000-0x200100 and segment 1 at 0x200080-0x202080" },
	{ "data past EOF", data_past_eof, ELF_E_FILE_DATA,
	  "segment 1: 0x40 bytes at offset 0x1130, the file has 4416 bytes" },
	{ "p_offset wraps", data_offset_huge, ELF_E_FILE_DATA, "at offset 0xffffffffffffffef" },
	{ "truncated data", truncated_data, ELF_E_FILE_DATA, "the file has 4415 bytes" },
	{ "entry in a gap", entry_in_gap, ELF_E_ENTRY,
	  "entry point outside the loaded segments: e_entry 0x200100" },
	{ "entry 0", entry_zero, ELF_E_ENTRY, "e_entry 0x0" },
};

START_TEST(test_bad_image)
{
	const struct bad_case *bc = &bad_cases[_i];
	struct elf_image img;
	struct writes ws;
	struct image im;
	char why[256];

	image_make(&im);
	bc->mutate(&im);
	ck_assert_msg(parse(&im, &ws, &img, why, sizeof(why)) == bc->err,
		      "%s: expected error %d (%s), got \"%s\"", bc->name, bc->err,
		      elf_strerror(bc->err), why);
	ck_assert_msg(strstr(why, bc->why), "%s: expected \"%s\" in \"%s\"", bc->name, bc->why,
		      why);
	ck_assert_msg(!strncmp(why, elf_strerror(bc->err), strlen(elf_strerror(bc->err))),
		      "%s: \"%s\" does not start with \"%s\"", bc->name, why,
		      elf_strerror(bc->err));
	ck_assert_msg(ws.n == 0, "%s: %u segments written", bc->name, ws.n);
	ck_assert_uint_eq(img.nr_segments, 0);
}
END_TEST

/* A file larger than all of guest memory is not a guest image, whatever
 * its headers say. */
START_TEST(test_file_too_big)
{
	size_t len = MEM + 1;
	uint8_t *buf = calloc(1, len);
	struct elf_image img;
	struct writes ws = { .fail_at = -1 };
	struct image im;
	char why[256];

	ck_assert_ptr_nonnull(buf);
	image_make(&im);
	memcpy(buf, im.buf, im.len);
	ck_assert_int_eq(elf_parse(buf, len, &limits, record_write, &ws, &img, why, sizeof(why)),
			 ELF_E_FILE_TOO_BIG);
	ck_assert_str_eq(why, "file larger than guest memory: 16777217 bytes, guest memory 16777216");
	ck_assert_uint_eq(ws.n, 0);
	free(buf);
}
END_TEST

/* A failing write stops the load and says which segment. */
START_TEST(test_write_fails)
{
	struct elf_image img;
	struct writes ws = { .fail_at = 1 };
	struct image im;
	char why[256];

	image_make(&im);
	ck_assert_int_eq(elf_parse(im.buf, im.len, &limits, record_write, &ws, &img, why,
				   sizeof(why)), ELF_E_WRITE);
	ck_assert_str_eq(why, "cannot write a segment to guest memory: segment 1 at 0x201000: "
			 "Bad address");
	ck_assert_uint_eq(ws.n, 1);
}
END_TEST

/* A message cut short by a small buffer is still a string. */
START_TEST(test_short_why)
{
	struct elf_image img;
	struct writes ws;
	struct image im;
	char why[8];

	image_make(&im);
	past_end(&im);
	ck_assert_int_eq(parse(&im, &ws, &img, why, sizeof(why)), ELF_E_PAST_END);
	ck_assert_str_eq(why, "segment");
	ck_assert_str_eq(elf_strerror(ELF_E_COUNT), "unknown ELF error");
}
END_TEST

/* ---- sections: what a guest keeps in its file but does not load ---- */

static const char names[] = "\0.shstrtab\0.vmdefrag.purpose\0.vmdefrag\0";
static const char purpose[] = "the smallest guest";
#define NAMES_OFF	IMAGE_LEN
#define PURPOSE_OFF	(NAMES_OFF + sizeof(names))
#define SHDRS_OFF	((PURPOSE_OFF + sizeof(purpose) + 7) & ~7UL)

/* The image with four section headers: none, the names, the purpose, and
 * ".vmdefrag" (a bss: no bytes in the file). */
struct sectioned {
	union {
		uint8_t buf[SHDRS_OFF + 4 * sizeof(Elf64_Shdr)];
		Elf64_Ehdr eh;
	};
	size_t len;
};

static Elf64_Shdr *shdr(struct sectioned *f, unsigned int i)
{
	return (Elf64_Shdr *)(f->buf + SHDRS_OFF) + i;
}

static void sectioned_make(struct sectioned *f)
{
	struct image im;

	image_make(&im);
	memset(f, 0, sizeof(*f));
	memcpy(f->buf, im.buf, im.len);
	memcpy(f->buf + NAMES_OFF, names, sizeof(names));
	memcpy(f->buf + PURPOSE_OFF, purpose, sizeof(purpose));
	f->len = sizeof(f->buf);
	f->eh.e_shoff = SHDRS_OFF;
	f->eh.e_shentsize = sizeof(Elf64_Shdr);
	f->eh.e_shnum = 4;
	f->eh.e_shstrndx = 1;
	*shdr(f, 1) = (Elf64_Shdr){ .sh_name = 1, .sh_type = SHT_STRTAB, .sh_offset = NAMES_OFF,
				    .sh_size = sizeof(names) };
	*shdr(f, 2) = (Elf64_Shdr){ .sh_name = 11, .sh_type = SHT_PROGBITS,
				    .sh_offset = PURPOSE_OFF, .sh_size = sizeof(purpose) };
	*shdr(f, 3) = (Elf64_Shdr){ .sh_name = 29, .sh_type = SHT_NOBITS, .sh_offset = 0,
				    .sh_size = 1 << 20 };
}

static int section(struct sectioned *f, const char *name, const uint8_t **data, size_t *size)
{
	*data = NULL;
	*size = 0;
	return elf_section(f->buf, f->len, name, data, size);
}

START_TEST(test_section_found)
{
	struct sectioned f;
	const uint8_t *data;
	size_t size;

	sectioned_make(&f);
	ck_assert_int_eq(section(&f, ".vmdefrag.purpose", &data, &size), 0);
	ck_assert_ptr_eq(data, f.buf + PURPOSE_OFF);
	ck_assert_uint_eq(size, sizeof(purpose));
	ck_assert_int_eq(section(&f, ".shstrtab", &data, &size), 0);
	ck_assert_uint_eq(size, sizeof(names));
	/* a name is matched whole: neither a prefix nor a longer name */
	ck_assert_int_eq(section(&f, ".vmdefrag.purp", &data, &size), -ENOENT);
	ck_assert_int_eq(section(&f, ".vmdefrag.purposes", &data, &size), -ENOENT);
	ck_assert_int_eq(section(&f, ".text", &data, &size), -ENOENT);
	/* a bss has nothing in the file to hand out */
	ck_assert_int_eq(section(&f, ".vmdefrag", &data, &size), -ENOENT);
	ck_assert_ptr_null(data);
}
END_TEST

/* Headers that would send the reader outside the file. */
START_TEST(test_section_bad_headers)
{
	struct sectioned f;
	const uint8_t *data;
	size_t size;

	sectioned_make(&f);
	f.buf[EI_CLASS] = ELFCLASS32;
	ck_assert_int_eq(section(&f, ".vmdefrag.purpose", &data, &size), -EINVAL);
	sectioned_make(&f);
	f.buf[0] = 0;
	ck_assert_int_eq(section(&f, ".vmdefrag.purpose", &data, &size), -EINVAL);
	sectioned_make(&f);
	f.len = sizeof(Elf64_Ehdr) - 1;
	ck_assert_int_eq(section(&f, ".vmdefrag.purpose", &data, &size), -EINVAL);
	sectioned_make(&f);
	f.eh.e_shentsize = sizeof(Elf64_Shdr) - 1;
	ck_assert_int_eq(section(&f, ".vmdefrag.purpose", &data, &size), -EINVAL);
	sectioned_make(&f);
	f.eh.e_shoff = ~0ULL - 8;		/* wraps */
	ck_assert_int_eq(section(&f, ".vmdefrag.purpose", &data, &size), -EINVAL);
	sectioned_make(&f);
	f.len -= 1;				/* the last header cut short */
	ck_assert_int_eq(section(&f, ".vmdefrag.purpose", &data, &size), -EINVAL);
	sectioned_make(&f);
	f.eh.e_shstrndx = 4;
	ck_assert_int_eq(section(&f, ".vmdefrag.purpose", &data, &size), -EINVAL);
	sectioned_make(&f);
	shdr(&f, 1)->sh_size = ~0ULL;		/* the names run past the file */
	ck_assert_int_eq(section(&f, ".vmdefrag.purpose", &data, &size), -EINVAL);
}
END_TEST

/* A section whose name or bytes are not in the file is passed over. */
START_TEST(test_section_bad_section)
{
	struct sectioned f;
	const uint8_t *data;
	size_t size;

	sectioned_make(&f);
	shdr(&f, 2)->sh_size = f.len;		/* from PURPOSE_OFF: past the end */
	ck_assert_int_eq(section(&f, ".vmdefrag.purpose", &data, &size), -ENOENT);
	sectioned_make(&f);
	shdr(&f, 2)->sh_offset = ~0ULL;
	ck_assert_int_eq(section(&f, ".vmdefrag.purpose", &data, &size), -ENOENT);
	sectioned_make(&f);
	shdr(&f, 2)->sh_name = sizeof(names);	/* past the name table */
	ck_assert_int_eq(section(&f, ".vmdefrag.purpose", &data, &size), -ENOENT);
	sectioned_make(&f);
	shdr(&f, 1)->sh_size = 20;		/* ".vmdefrag.purpose" cut short, no NUL */
	ck_assert_int_eq(section(&f, ".vmdefrag.purpose", &data, &size), -ENOENT);
	ck_assert_int_eq(section(&f, ".shstrtab", &data, &size), 0);
	ck_assert_uint_eq(size, 20);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("loader");
	TCase *tc = tcase_create("elf_parse");
	TCase *sections = tcase_create("elf_section");

	tcase_add_test(tc, test_good_image);
	tcase_add_test(tc, test_edges_allowed);
	tcase_add_loop_test(tc, test_bad_image, 0, sizeof(bad_cases) / sizeof(bad_cases[0]));
	tcase_add_test(tc, test_file_too_big);
	tcase_add_test(tc, test_write_fails);
	tcase_add_test(tc, test_short_why);
	suite_add_tcase(s, tc);
	tcase_add_test(sections, test_section_found);
	tcase_add_test(sections, test_section_bad_headers);
	tcase_add_test(sections, test_section_bad_section);
	suite_add_tcase(s, sections);
	return check_run(s);
}
