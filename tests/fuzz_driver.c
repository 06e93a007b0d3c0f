/* Runs a fuzz target without libFuzzer: every seed given, then seeded
 * random mutations of them (a smoke run in make check, in every build; a
 * real campaign uses libFuzzer: tools/fuzz). Under AddressSanitizer and
 * UBSan a bug is a crash. Mutations mix byte flips, inserted bytes (text
 * tokens or any byte), truncations and "interesting" integers written over
 * 1, 2, 4 or 8 bytes, so both text protocols and binary formats get bent.
 * Usage: fuzz_driver RUNS SEED-FILE... */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define GROW	64	/* a mutant is at most this much longer than its seed */

static uint8_t *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf;
	long n;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) || (n = ftell(f)) < 0) {
		fclose(f);
		return NULL;
	}
	rewind(f);
	buf = malloc((size_t)n + 1);
	if (buf)
		*len = fread(buf, 1, (size_t)n, f);
	fclose(f);
	return buf;
}

static uint64_t rng = 88172645463325252ULL;

static uint64_t next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static const uint64_t interesting[] = {
	0, 1, 2, 0x7f, 0x80, 0xff, 0x100, 0x1000, 0x7fff, 0x8000, 0xffff, 0x10000,
	0x200000, 0x7fffffff, 0x80000000, 0xffffffff, 0x100000000ULL,
	0x7fffffffffffffffULL, 0x8000000000000000ULL, 0xffffffffffffffffULL,
	0xfffffffffffff000ULL,
};

static void mutate(uint8_t *buf, size_t *len, size_t max)
{
	static const char tokens[] = "{}[]\",:0123456789aez\\ \n";
	uint64_t r = next();

	switch (r % 5) {
	case 0:
		if (*len)
			buf[(r >> 8) % *len] ^= (uint8_t)(1u << ((r >> 40) % 8));
		break;
	case 1:
		if (*len < max)
			buf[(*len)++] = r & 0x100 ? (uint8_t)(r >> 24) :
				(uint8_t)tokens[(r >> 24) % (sizeof(tokens) - 1)];
		break;
	case 2:
		if (*len)
			*len = (size_t)((r >> 8) % *len);
		break;
	case 3:
		if (*len)
			buf[(r >> 8) % *len] = (uint8_t)(r >> 32);
		break;
	case 4: {
		size_t width = (size_t)1 << ((r >> 8) % 4);
		uint64_t v = interesting[(r >> 16) % (sizeof(interesting) / sizeof(interesting[0]))];

		if (r & (1ULL << 63))
			v -= 1;
		if (*len >= width)
			memcpy(buf + (r >> 24) % (*len - width + 1), &v, width);	/* little-endian */
		break;
	}
	}
}

int main(int argc, char **argv)
{
	long runs = argc > 1 ? atol(argv[1]) : 1000;
	size_t nseeds = argc > 2 ? (size_t)(argc - 2) : 0;
	uint8_t **seeds = calloc(nseeds + 1, sizeof(*seeds));
	size_t *lens = calloc(nseeds + 1, sizeof(*lens));

	if (!nseeds || !seeds || !lens) {
		fprintf(stderr, "usage: fuzz_driver RUNS SEED-FILE...\n");
		return 1;
	}
	for (size_t i = 0; i < nseeds; i++) {
		seeds[i] = slurp(argv[i + 2], &lens[i]);
		if (!seeds[i]) {
			fprintf(stderr, "fuzz_driver: cannot read %s\n", argv[i + 2]);
			return 1;
		}
		LLVMFuzzerTestOneInput(seeds[i], lens[i]);
	}
	for (long r = 0; r < runs; r++) {
		size_t s = (size_t)r % nseeds, len = lens[s];
		uint8_t *buf = malloc(len + GROW), *input;
		int k = 1 + (int)(next() % 8);

		if (!buf)
			return 1;
		memcpy(buf, seeds[s], len);
		while (k--)
			mutate(buf, &len, lens[s] + GROW);
		/* exactly len bytes, so ASan sees a read past the input */
		input = malloc(len ? len : 1);
		if (!input)
			return 1;
		memcpy(input, buf, len);
		LLVMFuzzerTestOneInput(input, len);
		free(input);
		free(buf);
	}
	printf("fuzz_driver: %zu seeds and %ld mutated inputs, no crash\n", nseeds, runs);
	for (size_t i = 0; i < nseeds; i++)
		free(seeds[i]);
	free(seeds);
	free(lens);
	return 0;
}
