/* Loads a guest program (a static ELF) into guest memory. */
#ifndef VMM_LOADER_H
#define VMM_LOADER_H

struct vm;

/* 0 or a negative errno, with the reason printed. */
int load_elf(struct vm *vm, const char *path);

#endif
