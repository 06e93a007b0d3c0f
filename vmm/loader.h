/* Loads a guest program (a static ELF) into guest memory. */
#ifndef VMM_LOADER_H
#define VMM_LOADER_H

#include <stddef.h>
#include <stdint.h>

struct vm;

/* The whole file at path into a new *buf (free() it), when it is a
 * regular file no larger than max bytes. 0 or a negative errno, after a
 * message. */
int guest_image_read(const char *path, uint64_t max, uint8_t **buf, size_t *len);

/* 0 or a negative errno, with the reason printed. */
int load_elf(struct vm *vm, const char *path);

#endif
