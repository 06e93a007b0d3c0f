/* Monotonic time in nanoseconds: how everything here measures how long
 * something took or waits until a deadline. */
#ifndef MM_CLOCK_H
#define MM_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

#endif
