/* Three-way comparison for qsort() comparators. */
#ifndef LIB_CMP_H
#define LIB_CMP_H

#include <stdint.h>

/* -1, 0 or 1 as a is below, equal to or above b. */
static inline int cmp_u64(uint64_t a, uint64_t b)
{
	return a < b ? -1 : a > b;
}

/* By a key, then by a second one where the first is equal. */
static inline int cmp_u64_then(uint64_t a, uint64_t b, uint64_t a2, uint64_t b2)
{
	return a != b ? cmp_u64(a, b) : cmp_u64(a2, b2);
}

#endif
