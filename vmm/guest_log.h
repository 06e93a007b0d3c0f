/* What a guest can make the VMM print on stderr. A guest is untrusted:
 * its strings are escaped (they could carry terminal escape sequences)
 * and its messages rate limited (it could flood the VMM's stderr), as
 * the kernel does with printk_ratelimit(). */
#ifndef VMM_GUEST_LOG_H
#define VMM_GUEST_LOG_H

#include <stddef.h>

#define GUEST_LOG_BURST		10	/* messages at once, */
#define GUEST_LOG_INTERVAL_MS	500	/* then one per interval */

/* Prints "vmdefrag: " and the message, every byte outside printable
 * ASCII shown as \xNN, unless the guest has used up its messages; a
 * count of the ones dropped comes with the next one printed. */
void guest_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The same without the limit, for what a guest can say only a bounded
 * number of times (an assertion stops the run: one per vCPU at most). */
void guest_log_always(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Escapes len bytes of s into out (size bytes, NUL-terminated); returns
 * out. */
char *guest_log_escape(const char *s, size_t len, char *out, size_t size);

#endif
