/* Base64 as RFC 4648 has it (standard alphabet, padded, no line breaks):
 * how query-frame-map carries its frame map, written by vmm/commands.c and
 * read by tools/fragmap.c. Nothing is allocated: callers size the buffers. */
#ifndef LIB_BASE64_H
#define LIB_BASE64_H

#include <stddef.h>
#include <stdint.h>

/* Characters len bytes encode to, without the NUL. */
static inline size_t base64_encoded_len(size_t len)
{
	return (len + 2) / 3 * 4;
}

/* Bytes len characters decode to, at most (padding makes it fewer). */
static inline size_t base64_decoded_max(size_t len)
{
	return len / 4 * 3;
}

/* Writes base64_encoded_len(len) characters and a NUL to out; returns the
 * number of characters. */
size_t base64_encode(const uint8_t *in, size_t len, char *out);

/* Decodes len characters of in (no NUL needed) into out, which has room
 * for base64_decoded_max(len) bytes. Strict: the length a multiple of 4,
 * '=' only as the last one or two characters, nothing else outside the
 * alphabet (no white space). Returns the number of bytes, or -1 with the
 * reason and its offset in err (errlen bytes); out is then undefined. */
long base64_decode(const char *in, size_t len, uint8_t *out, char *err, size_t errlen);

#endif
