/*
 * fuzz_cron.c -- the cron parser and next-run calculator on arbitrary
 * input. With -DJV_LIBFUZZER it is a libFuzzer target (contrib/fuzz.sh);
 * without, main() runs mutations of a built-in seed list for argv[1]
 * seconds (default 5) so `make check` exercises it under the sanitizers.
 */
#include "lib/cron.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 4096)
		return 0;
	char *s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	struct jv_cron *c = NULL;
	char err[256];
	if (jv_cron_parse(s, &c, err, sizeof err) == 0) {
		static const char *const zones[] = {NULL, "Europe/Berlin"};
		for (int z = 0; z < 2; z++) {
			int64_t t = 1774742400; /* 2026-03-29 00:00 UTC, a DST change */
			for (int i = 0; i < 3; i++) {
				int64_t n;
				if (jv_cron_next(c, zones[z], t, &n, err, sizeof err) != 0)
					break;
				if (n <= t)
					abort(); /* must move forward */
				t = n;
			}
		}
		jv_cron_free(c);
	} else if (!err[0]) {
		abort(); /* an error must say why */
	}
	free(s);
	return 0;
}

#ifndef JV_LIBFUZZER
static const char *const seeds[] = {
	"* * * * *", "0 0 * * *", "*/15 9-17 * * MON-FRI", "0 0 13 * FRI", "0 0 29 2 *",
	"30 2 * * *", "0 */2 1,15 JAN-JUN/2 *", "5 4 * * sun", "0 0 31 * *", "*/10 * * * * *",
	"@yearly", "@monthly", "@weekly", "@daily", "@hourly", "@every 30s", "@every 1h30m",
	"0 0 30 2 *", "59 23 31 12 7", "1-5/2,7,9-10 * * * *",
};
static const char *const tokens[] = {
	"*", "/", "-", ",", " ", "\t", "0", "1", "7", "12", "23", "31", "59", "60", "99999999999",
	"JAN", "DEC", "MON", "SUN", "FOO", "@", "@every", "s", "m", "h", "d", "?", "L", "#", "",
};

static uint64_t rng = 0x9E3779B97F4A7C15ULL;
static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

int main(int argc, char **argv)
{
	double secs = argc > 1 ? strtod(argv[1], NULL) : 5;
	time_t end = time(NULL) + (time_t)secs;
	rng ^= (uint64_t)time(NULL);
	unsigned long runs = 0;
	char buf[256];
	do {
		for (int k = 0; k < 200; k++) {
			size_t n = 0;
			const char *seed = seeds[rnd() % (sizeof seeds / sizeof *seeds)];
			size_t sl = strlen(seed);
			memcpy(buf, seed, sl);
			n = sl;
			int muts = (int)(rnd() % 6);
			for (int m = 0; m < muts; m++) {
				size_t pos = n ? rnd() % (n + 1) : 0;
				switch (rnd() % 4) {
				case 0: /* insert a token */ {
					const char *t = tokens[rnd() % (sizeof tokens / sizeof *tokens)];
					size_t tl = strlen(t);
					if (n + tl < sizeof buf) {
						memmove(buf + pos + tl, buf + pos, n - pos);
						memcpy(buf + pos, t, tl);
						n += tl;
					}
					break;
				}
				case 1: /* delete a span */
					if (pos < n) {
						size_t dl = 1 + rnd() % (n - pos);
						memmove(buf + pos, buf + pos + dl, n - pos - dl);
						n -= dl;
					}
					break;
				case 2: /* a random byte */
					if (pos < n)
						buf[pos] = (char)(rnd() & 0xff);
					break;
				default: /* a random digit */
					if (pos < n)
						buf[pos] = (char)('0' + rnd() % 10);
					break;
				}
			}
			LLVMFuzzerTestOneInput((const uint8_t *)buf, n);
			runs++;
		}
	} while (time(NULL) < end);
	printf("fuzz_cron: %lu inputs in %.0f s, no crash\n", runs, secs);
	return 0;
}
#endif
