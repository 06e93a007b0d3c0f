/* Escaped, rate-limited messages caused by the guest (see guest_log.h). */
#include <pthread.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "mm/clock.h"
#include "vmm/guest_log.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned int tokens = GUEST_LOG_BURST;
static uint64_t last_refill_ms;
static uint64_t suppressed;


char *guest_log_escape(const char *s, size_t len, char *out, size_t size)
{
	size_t o = 0;

	for (size_t i = 0; i < len && o + 5 <= size; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c >= ' ' && c <= '~' && c != '\\')
			out[o++] = (char)c;
		else
			o += (size_t)snprintf(out + o, size - o, "\\x%02x", c);
	}
	if (size)
		out[o < size ? o : size - 1] = '\0';
	return out;
}

/* A token bucket: GUEST_LOG_BURST at once, one more per interval. */
static bool may_print(bool limited, uint64_t *dropped)
{
	uint64_t now = mono_ns() / 1000000;
	bool ok;

	pthread_mutex_lock(&lock);
	if (now - last_refill_ms >= GUEST_LOG_INTERVAL_MS) {
		uint64_t more = (now - last_refill_ms) / GUEST_LOG_INTERVAL_MS;

		tokens = tokens + more > GUEST_LOG_BURST ? GUEST_LOG_BURST : tokens + (unsigned int)more;
		last_refill_ms = now;
	}
	ok = !limited || tokens > 0;
	if (ok) {
		if (limited)
			tokens--;
		*dropped = suppressed;
		suppressed = 0;
	} else {
		suppressed++;
	}
	pthread_mutex_unlock(&lock);
	return ok;
}

static void print(bool limited, const char *fmt, va_list ap)
{
	char raw[1024], text[4096 + 16];
	uint64_t dropped = 0;
	int n;

	if (!may_print(limited, &dropped))
		return;
	n = vsnprintf(raw, sizeof(raw), fmt, ap);
	if (n < 0)
		return;
	if (dropped)
		fprintf(stderr, "vmdefrag: %lu messages from the guest suppressed\n", (unsigned long)dropped);
	fprintf(stderr, "vmdefrag: %s\n",
		guest_log_escape(raw, (size_t)n < sizeof(raw) ? (size_t)n : sizeof(raw) - 1, text,
				 sizeof(text)));
}

void guest_log(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	print(true, fmt, ap);
	va_end(ap);
}

void guest_log_always(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	print(false, fmt, ap);
	va_end(ap);
}
