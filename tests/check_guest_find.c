/* vmdefrag run NAME and --list-guests (vmm/guest_find.c), without KVM: a
 * name is looked up as NAME.elf in $VMDEFRAG_GUEST_DIR before the build
 * tree's guests, a path or a file here is taken as it is, and the list
 * shows each guest once, with its purpose made safe for a terminal. */
#include <check.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/check_run.h"
#include "vmm/guest_find.h"

static char dir[] = "/tmp/vmdefrag-guests-XXXXXX";

static void copy_file(const char *from, const char *to)
{
	char cmd[3 * PATH_MAX];

	snprintf(cmd, sizeof(cmd), "cp '%s' '%s'", from, to);
	ck_assert_int_eq(system(cmd), 0);
}

static const char *in_dir(const char *name)
{
	static char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return path;
}

static const char *built_guest(const char *name)
{
	static char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s.elf", GUEST_DIR, name);
	return path;
}

/* The guest's purpose in its file, its first byte replaced by c. */
static void patch_purpose(const char *path, const char *purpose, char c)
{
	FILE *f = fopen(path, "r+b");
	static char buf[1 << 20];
	size_t n;
	char *at;

	ck_assert_ptr_nonnull(f);
	n = fread(buf, 1, sizeof(buf), f);
	at = memmem(buf, n, purpose, strlen(purpose));
	ck_assert_ptr_nonnull(at);
	fseek(f, at - buf, SEEK_SET);
	fputc(c, f);
	fclose(f);
}

static void setup(void)
{
	ck_assert_ptr_nonnull(mkdtemp(dir));
	setenv("VMDEFRAG_GUEST_DIR", dir, 1);
}

static void teardown(void)
{
	char cmd[PATH_MAX + 16];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
	strcpy(dir, "/tmp/vmdefrag-guests-XXXXXX");
}

START_TEST(test_find_by_name)
{
	char path[PATH_MAX], real[PATH_MAX];

	copy_file(built_guest("hello"), in_dir("mine.elf"));
	ck_assert_ptr_nonnull(realpath(dir, real));
	ck_assert_int_eq(guest_find("mine", path, sizeof(path)), 0);
	ck_assert_str_eq(path, strcat(real, "/mine.elf"));
	ck_assert_int_eq(guest_find("mine.elf", path, sizeof(path)), 0);
	ck_assert_str_eq(path, real);
	/* the build tree's guests come after the variable's directory */
	ck_assert_int_eq(guest_find("memtest", path, sizeof(path)), 0);
	ck_assert_ptr_nonnull(strstr(path, "/guest/memtest.elf"));
	/* a path is taken as it is, there or not; so is a file here */
	ck_assert_int_eq(guest_find("./nosuch.elf", path, sizeof(path)), 0);
	ck_assert_str_eq(path, "./nosuch.elf");
	ck_assert_int_eq(chdir(dir), 0);
	ck_assert_int_eq(guest_find("mine.elf", path, sizeof(path)), 0);
	ck_assert_str_eq(path, "mine.elf");
	/* nothing by that name anywhere */
	ck_assert_int_eq(guest_find("nosuch", path, sizeof(path)), -ENOENT);
	ck_assert_int_eq(guest_find("", path, sizeof(path)), -ENOENT);
	/* a path longer than the buffer */
	ck_assert_int_eq(guest_find("./a/very/long/path", path, 8), -ENAMETOOLONG);
}
END_TEST

START_TEST(test_list)
{
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);
	unsigned int n;

	ck_assert_ptr_nonnull(out);
	/* hello again, here first: it hides the build tree's hello; its
	 * purpose starts with an escape character */
	copy_file(built_guest("hello"), in_dir("hello.elf"));
	patch_purpose(in_dir("hello.elf"), "the smallest guest", '\x1b');
	copy_file("/bin/true", in_dir("true.elf"));	/* an ELF without a purpose */
	ck_assert_int_eq(system("echo junk > /tmp/vmdefrag-junk"), 0);
	copy_file("/tmp/vmdefrag-junk", in_dir("junk.elf"));
	unlink("/tmp/vmdefrag-junk");
	copy_file(built_guest("hello"), in_dir("not-a-guest"));	/* no .elf: not listed */
	n = guest_list(out);
	fclose(out);
	ck_assert_ptr_null(strchr(text, '\x1b'));
	ck_assert_ptr_nonnull(strstr(text, "  hello        ?he smallest guest: prints a line and exits\n"));
	ck_assert_ptr_nonnull(strstr(text, "  true         (no purpose: see VMD_GUEST_PURPOSE)\n"));
	ck_assert_ptr_nonnull(strstr(text, "  junk         (not a 64-bit ELF file)\n"));
	ck_assert_ptr_null(strstr(text, "not-a-guest"));
	/* hello once, though the build tree has it too; memtest from there */
	ck_assert_ptr_null(strstr(strstr(text, "  hello ") + 1, "  hello "));
	ck_assert_ptr_nonnull(strstr(text, "  memtest      writes a pattern"));
	ck_assert_uint_gt(n, 3);
	free(text);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("guest_find");
	TCase *tc = tcase_create("guest_find");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_find_by_name);
	tcase_add_test(tc, test_list);
	suite_add_tcase(s, tc);
	return check_run(s);
}
