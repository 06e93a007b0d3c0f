/* lib/base64: RFC 4648's test vectors, round trips of every length and
 * byte, where padding may go, and the errors for what is not base64. */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/base64.h"
#include "tests/check_run.h"

#define ERR_LEN 128

static const struct {
	const char *bytes, *text;
} vectors[] = {				/* RFC 4648, section 10 */
	{ "", "" },
	{ "f", "Zg==" },
	{ "fo", "Zm8=" },
	{ "foo", "Zm9v" },
	{ "foob", "Zm9vYg==" },
	{ "fooba", "Zm9vYmE=" },
	{ "foobar", "Zm9vYmFy" },
};

START_TEST(test_rfc_vectors)
{
	const char *bytes = vectors[_i].bytes, *text = vectors[_i].text;
	size_t len = strlen(bytes);
	char out[16], err[ERR_LEN] = "";
	uint8_t back[16];

	ck_assert_uint_eq(base64_encoded_len(len), strlen(text));
	memset(out, 'x', sizeof(out));
	ck_assert_uint_eq(base64_encode((const uint8_t *)bytes, len, out), strlen(text));
	ck_assert_str_eq(out, text);
	ck_assert_int_eq(base64_decode(text, strlen(text), back, err, sizeof(err)), len);
	ck_assert_str_eq(err, "");
	ck_assert(!memcmp(back, bytes, len));
}
END_TEST

/* The alphabet's last two characters, and every byte value at each of
 * the three places in a group. */
START_TEST(test_alphabet)
{
	static const uint8_t ends[] = { 0xfb, 0xff, 0xbf };
	uint8_t in[3 * 256], back[3 * 256];
	char out[4 * 256 + 1], err[ERR_LEN];

	base64_encode(ends, sizeof(ends), out);
	ck_assert_str_eq(out, "+/+/");
	for (unsigned int shift = 0; shift < 3; shift++) {
		for (unsigned int i = 0; i < sizeof(in); i++)
			in[i] = i % 3 == shift ? i / 3 : 0x5a;
		ck_assert_uint_eq(base64_encode(in, sizeof(in), out), 4 * 256);
		ck_assert_int_eq(base64_decode(out, 4 * 256, back, err, sizeof(err)), sizeof(in));
		ck_assert(!memcmp(in, back, sizeof(in)));
	}
}
END_TEST

/* Lengths 0..300 (every padding case many times), pseudo-random bytes;
 * the decoder reads exactly len characters, no NUL needed. */
START_TEST(test_round_trip)
{
	uint8_t in[301], back[301 + 3];
	char out[404 + 1], err[ERR_LEN];
	uint32_t x = 0x12345678;

	for (size_t len = 0; len <= sizeof(in); len++) {
		size_t n;

		for (size_t i = 0; i < len; i++) {
			x = x * 1103515245 + 12345;
			in[i] = x >> 24;
		}
		n = base64_encode(in, len, out);
		ck_assert_uint_eq(n, base64_encoded_len(len));
		ck_assert_uint_eq(out[n], '\0');
		ck_assert_uint_le(len, base64_decoded_max(n));
		/* padding: none, "==" or "=", as len % 3 is 0, 1 or 2 */
		ck_assert_uint_eq(n && out[n - 1] == '=', len % 3 != 0);
		ck_assert_uint_eq(n && out[n - 2] == '=', len % 3 == 1);
		out[n] = '!';
		memset(back, 0xee, sizeof(back));
		ck_assert_int_eq(base64_decode(out, n, back, err, sizeof(err)), len);
		ck_assert_msg(!memcmp(in, back, len), "length %zu: bytes differ", len);
		ck_assert_uint_eq(back[len], 0xee);
	}
}
END_TEST

static const struct {
	const char *text, *why;
} bad[] = {
	{ "Zg=", "length 3 is not a multiple of 4" },
	{ "Zm9vY", "length 5 is not a multiple of 4" },
	{ "Zm9v\n", "length 5 is not a multiple of 4" },
	{ "Zm9v Zm8", "unexpected ' ' at offset 4" },
	{ "Zm9v\nZm8", "unexpected '?' at offset 4" },
	{ "Zm-v", "unexpected '-' at offset 2" },	/* the URL alphabet's */
	{ "Zm9_", "unexpected '_' at offset 3" },
	{ "Z===", "unexpected '=' at offset 1" },	/* too much padding */
	{ "====", "unexpected '=' at offset 0" },
	{ "Zg==Zm8=", "unexpected '=' at offset 2" },	/* padding mid-text */
	{ "Zm=v", "unexpected 'v' at offset 3" },	/* data after padding */
	{ "Zm8=Zm9v", "unexpected '=' at offset 3" },
	{ "Zm9\xc3", "unexpected '?' at offset 3" },
};

START_TEST(test_bad_input)
{
	const char *text = bad[_i].text;
	char err[ERR_LEN] = "";
	uint8_t out[16];

	ck_assert_int_eq(base64_decode(text, strlen(text), out, err, sizeof(err)), -1);
	ck_assert_str_eq(err, bad[_i].why);
}
END_TEST

/* A NUL inside the given length is a bad character, not the end. */
START_TEST(test_nul_inside)
{
	char err[ERR_LEN] = "";
	uint8_t out[8];

	ck_assert_int_eq(base64_decode("Zm9v\0m9v", 8, out, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "unexpected '?' at offset 4");
	/* and a message cut to the buffer given */
	ck_assert_int_eq(base64_decode("Zm9", 3, out, err, 10), -1);
	ck_assert_str_eq(err, "length 3 ");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("base64");
	TCase *tc = tcase_create("base64");

	tcase_add_loop_test(tc, test_rfc_vectors, 0, sizeof(vectors) / sizeof(vectors[0]));
	tcase_add_test(tc, test_alphabet);
	tcase_add_test(tc, test_round_trip);
	tcase_add_loop_test(tc, test_bad_input, 0, sizeof(bad) / sizeof(bad[0]));
	tcase_add_test(tc, test_nul_inside);
	suite_add_tcase(s, tc);
	return check_run(s);
}
