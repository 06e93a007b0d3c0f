/* Where guests are: `vmdefrag run NAME` turned into a file, and the list
 * of guests `vmdefrag run --list-guests` prints. */
#ifndef VMM_GUEST_FIND_H
#define VMM_GUEST_FIND_H

#include <limits.h>
#include <stddef.h>
#include <stdio.h>

#define GUEST_DIRS_MAX	4

/*
 * The directories guests are looked up in, first first, each once and only
 * if it exists: $VMDEFRAG_GUEST_DIR; BUILD/guest when this is
 * BUILD/vmm/vmdefrag in a build tree; the installed guests directory found
 * from this executable's place (so an install under DESTDIR, or moved as a
 * whole, still finds its own guests); the installed directory as
 * configured. Returns how many were written to dirs.
 */
unsigned int guest_dirs(char dirs[GUEST_DIRS_MAX][PATH_MAX]);

/*
 * The file to boot for guest: guest itself when it names a file (it has a
 * '/' or is a regular file here), else NAME.elf (or NAME, if it ends in
 * .elf) in the first directory that has it. 0 with the file in path (size bytes), or -ENOENT
 * after a message saying where it looked.
 */
int guest_find(const char *guest, char *path, size_t size);

/* Prints each directory and its guests, sorted, with their purposes
 * (VMD_GUEST_PURPOSE). A name already found in an earlier directory is
 * not shown again. Returns how many guests it printed. */
unsigned int guest_list(FILE *out);

#endif
