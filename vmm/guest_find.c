/* Where guests are (see guest_find.h). GUESTS_DIR and BINDIR come from
 * the build: $(pkglibdir)/guests and $(bindir). */
#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vmm/elf_parse.h"
#include "vmm/guest_find.h"
#include "vmm/loader.h"

#define GUEST_SUFFIX	".elf"
#define PURPOSE_SECTION	".vmdefrag.purpose"
#define PURPOSE_MAX	160
#define LIST_FILE_MAX	(64ULL << 20)	/* larger is no guest of ours to list */

static bool is_file(const char *path)
{
	struct stat st;

	return !stat(path, &st) && S_ISREG(st.st_mode);
}

/* Adds dir, made canonical, unless it does not exist or is there already. */
static void add_dir(char dirs[GUEST_DIRS_MAX][PATH_MAX], unsigned int *n, const char *dir)
{
	char real[PATH_MAX];
	struct stat st;

	if (*n >= GUEST_DIRS_MAX || !realpath(dir, real) || stat(real, &st) || !S_ISDIR(st.st_mode))
		return;
	for (unsigned int i = 0; i < *n; i++)
		if (!strcmp(dirs[i], real))
			return;
	memcpy(dirs[(*n)++], real, strlen(real) + 1);
}

/* The path from directory from to to, both absolute: "/usr/bin" and
 * "/usr/lib/vmdefrag/guests" give "../lib/vmdefrag/guests". */
static void relative_path(const char *from, const char *to, char *out, size_t size)
{
	size_t common = 0, len = 0;

	/* the longest common part that ends at a component of both */
	for (size_t i = 0;; i++) {
		if ((!from[i] || from[i] == '/') && (!to[i] || to[i] == '/'))
			common = i;
		if (!from[i] || from[i] != to[i])
			break;
	}
	out[0] = 0;
	for (const char *p = from + common; *p && len < size; p++)
		if (p[0] == '/' && p[1] && p[1] != '/')
			len += (size_t)snprintf(out + len, size - len, "../");
	if (len < size)
		snprintf(out + len, size - len, "%s", to[common] == '/' ? to + common + 1 : to + common);
}

unsigned int guest_dirs(char dirs[GUEST_DIRS_MAX][PATH_MAX])
{
	const char *env = getenv("VMDEFRAG_GUEST_DIR");
	char exe[PATH_MAX], rel[PATH_MAX], path[2 * PATH_MAX];
	unsigned int n = 0;
	ssize_t len;

	if (env && *env)
		add_dir(dirs, &n, env);
	len = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (len > 0) {
		exe[len] = 0;
		*strrchr(exe, '/') = 0;
		/* a build tree: BUILD/vmm/vmdefrag, BUILD/config.status */
		snprintf(path, sizeof(path), "%s/../config.status", exe);
		if (is_file(path)) {
			snprintf(path, sizeof(path), "%s/../guest", exe);
			add_dir(dirs, &n, path);
		}
		relative_path(BINDIR, GUESTS_DIR, rel, sizeof(rel));
		snprintf(path, sizeof(path), "%s/%s", exe, rel);
		add_dir(dirs, &n, path);
	}
	add_dir(dirs, &n, GUESTS_DIR);
	return n;
}

int guest_find(const char *guest, char *path, size_t size)
{
	size_t len = strlen(guest);
	/* NAME.elf, as --list-guests shows it, or NAME.elf given whole */
	const char *suffix = len > strlen(GUEST_SUFFIX) &&
			     !strcmp(guest + len - strlen(GUEST_SUFFIX), GUEST_SUFFIX) ? "" : GUEST_SUFFIX;
	char dirs[GUEST_DIRS_MAX][PATH_MAX];
	unsigned int n;

	if (strchr(guest, '/') || is_file(guest)) {
		if ((size_t)snprintf(path, size, "%s", guest) >= size) {
			fprintf(stderr, "vmdefrag: %s: path too long\n", guest);
			return -ENAMETOOLONG;
		}
		return 0;
	}
	n = guest_dirs(dirs);
	for (unsigned int i = 0; *guest && i < n; i++)
		if ((size_t)snprintf(path, size, "%s/%s%s", dirs[i], guest, suffix) < size && is_file(path))
			return 0;
	fprintf(stderr, "vmdefrag: no guest '%s': no such file, and no %s%s in ", guest, guest, suffix);
	for (unsigned int i = 0; i < n; i++)
		fprintf(stderr, "%s%s", i ? ", " : "", dirs[i]);
	if (!n)
		fprintf(stderr, "any guest directory (none exists: %s, or set VMDEFRAG_GUEST_DIR)",
			GUESTS_DIR);
	fprintf(stderr, "; vmdefrag run --list-guests lists them\n");
	return -ENOENT;
}

/* The purpose the guest at path declares, as printable text. */
static void read_purpose(const char *path, char *text, size_t size)
{
	const uint8_t *data;
	uint8_t *buf;
	size_t len, n = 0;

	if (guest_image_read(path, LIST_FILE_MAX, &buf, &len)) {
		snprintf(text, size, "(cannot read it)");
		return;
	}
	switch (elf_section(buf, len, PURPOSE_SECTION, &data, &len)) {
	case 0:
		/* the file is anyone's: no terminal escapes, one line */
		for (; n < len && n + 1 < size && data[n]; n++)
			text[n] = data[n] < 0x20 || data[n] >= 0x7f ? '?' : (char)data[n];
		text[n] = 0;
		break;
	case -ENOENT:
		snprintf(text, size, "(no purpose: see VMD_GUEST_PURPOSE)");
		break;
	default:
		snprintf(text, size, "(not a 64-bit ELF file)");
	}
	free(buf);
}

static int is_guest_file(const struct dirent *d)
{
	size_t len = strlen(d->d_name);

	return d->d_name[0] != '.' && len > strlen(GUEST_SUFFIX) &&
	       !strcmp(d->d_name + len - strlen(GUEST_SUFFIX), GUEST_SUFFIX);
}

/* Whether an earlier directory had this name (shown first, and booted). */
static bool listed_before(char dirs[GUEST_DIRS_MAX][PATH_MAX], unsigned int upto, const char *file)
{
	char path[2 * PATH_MAX];

	for (unsigned int i = 0; i < upto; i++) {
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", dirs[i], file) < sizeof(path) &&
		    is_file(path))
			return true;
	}
	return false;
}

unsigned int guest_list(FILE *out)
{
	char dirs[GUEST_DIRS_MAX][PATH_MAX], path[2 * PATH_MAX], purpose[PURPOSE_MAX];
	unsigned int n = guest_dirs(dirs), listed = 0;

	if (!n)
		fprintf(out, "no guest directory: %s does not exist, VMDEFRAG_GUEST_DIR is not set\n",
			GUESTS_DIR);
	for (unsigned int i = 0; i < n; i++) {
		struct dirent **ents;
		int nr = scandir(dirs[i], &ents, is_guest_file, alphasort);

		fprintf(out, "%s:\n", dirs[i]);
		for (int e = 0; e < nr; e++) {
			const char *file = ents[e]->d_name;

			if ((size_t)snprintf(path, sizeof(path), "%s/%s", dirs[i], file) < sizeof(path) &&
			    is_file(path) && !listed_before(dirs, i, file)) {
				read_purpose(path, purpose, sizeof(purpose));
				fprintf(out, "  %-12.*s %s\n", (int)(strlen(file) - strlen(GUEST_SUFFIX)),
					file, purpose);
				listed++;
			}
			free(ents[e]);
		}
		if (nr > 0)
			free(ents);
	}
	return listed;
}
