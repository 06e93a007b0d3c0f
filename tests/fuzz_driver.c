/* Runs the fuzz target without libFuzzer: every seed in the corpus, then
 * seeded random mutations of them (a smoke run; a real campaign uses
 * libFuzzer, see tests/fuzz-libfuzzer.sh). Under AddressSanitizer and
 * UBSan a bug is a crash. Usage: fuzz_driver RUNS SEED-FILE... */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf;
	long n;

	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = malloc((size_t)n + 1);
	*len = fread(buf, 1, (size_t)n, f);
	fclose(f);
	return buf;
}

int main(int argc, char **argv)
{
	long runs = argc > 1 ? atol(argv[1]) : 1000;
	uint8_t *seeds[64];
	size_t lens[64], nseeds = 0;
	uint64_t rng = 88172645463325252ULL;

	for (int i = 2; i < argc && nseeds < 64; i++) {
		seeds[nseeds] = slurp(argv[i], &lens[nseeds]);
		if (!seeds[nseeds]) {
			fprintf(stderr, "fuzz_driver: cannot read %s\n", argv[i]);
			return 1;
		}
		LLVMFuzzerTestOneInput(seeds[nseeds], lens[nseeds]);
		nseeds++;
	}
	if (!nseeds)
		return 1;
	for (long r = 0; r < runs; r++) {
		size_t s = (size_t)(r % (long)nseeds), len = lens[s];
		uint8_t *buf = malloc(len + 64);

		memcpy(buf, seeds[s], len);
		/* a few byte flips, insertions and truncations */
		for (int k = 0; k < 1 + (int)(rng % 8); k++) {
			rng ^= rng << 13;
			rng ^= rng >> 7;
			rng ^= rng << 17;
			switch (rng % 3) {
			case 0:
				if (len)
					buf[rng % len] = (uint8_t)(rng >> 24);
				break;
			case 1:
				if (len < lens[s] + 64)
					buf[len++] = "{}[]\",:0123456789aez\\ \n"[rng % 24];
				break;
			case 2:
				if (len)
					len = (size_t)(rng % len);
				break;
			}
		}
		LLVMFuzzerTestOneInput(buf, len);
		free(buf);
	}
	printf("fuzz_driver: %zu seeds and %ld mutated inputs, no crash\n", nseeds, runs);
	for (size_t i = 0; i < nseeds; i++)
		free(seeds[i]);
	return 0;
}
