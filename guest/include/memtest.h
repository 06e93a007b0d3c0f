/* Data-integrity checks over guest pages: every page gets a pattern
 * derived from its address and a round number, then is read back. Frames
 * the host moves in between must come back intact. */
#ifndef MEMTEST_H
#define MEMTEST_H

#include <stdint.h>

/* skip: optional bitmap, one bit per page of [start, end): set = do not
 * touch (a discarded page). Returns mismatching pages of the round. */
void memtest_write(uint64_t start, uint64_t end, const uint8_t *skip, uint64_t round);
uint64_t memtest_verify(uint64_t start, uint64_t end, const uint8_t *skip, uint64_t round);

#endif
