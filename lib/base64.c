/* Base64 both ways (RFC 4648): the frame map's encoding, shared by the VMM
 * that writes it and fragmap that reads it, so both agree by construction. */
#include <ctype.h>
#include <stdio.h>

#include "lib/base64.h"

static const char alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t base64_encode(const uint8_t *in, size_t len, char *out)
{
	char *p = out;

	for (size_t i = 0; i < len; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 |
			     (i + 1 < len ? (uint32_t)in[i + 1] << 8 : 0) |
			     (i + 2 < len ? in[i + 2] : 0);

		*p++ = alphabet[v >> 18];
		*p++ = alphabet[v >> 12 & 63];
		*p++ = i + 1 < len ? alphabet[v >> 6 & 63] : '=';
		*p++ = i + 2 < len ? alphabet[v & 63] : '=';
	}
	*p = '\0';
	return p - out;
}

static int value_of(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

long base64_decode(const char *in, size_t len, uint8_t *out, char *err, size_t errlen)
{
	size_t i, n = 0;

	if (len % 4) {
		snprintf(err, errlen, "length %zu is not a multiple of 4", len);
		return -1;
	}
	for (i = 0; i < len; i += 4) {
		unsigned int k, pad = 0;
		uint32_t v = 0;

		for (k = 0; k < 4; k++) {
			unsigned char c = in[i + k];
			int d = value_of(c);

			/* '=' may end the last group, after two data characters */
			if (c == '=' && k >= 2 && i + 4 == len) {
				pad++;
				d = 0;
			} else if (d < 0 || pad) {
				snprintf(err, errlen, "unexpected '%c' at offset %zu",
					 isprint(c) ? c : '?', i + k);
				return -1;
			}
			v = v << 6 | d;
		}
		out[n++] = v >> 16;
		if (pad < 2)
			out[n++] = v >> 8;
		if (pad < 1)
			out[n++] = v;
	}
	return n;
}
