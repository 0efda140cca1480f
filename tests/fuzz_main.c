/*
 * fuzz_main.c -- the plain (non-libFuzzer) driver of the fuzz targets, so
 * `make check` runs them under valgrind and the sanitizer lane.
 *
 * fuzz_NAME [SECONDS [DIR]] replays every file of the seed corpus DIR
 * (default $top_srcdir/tests/fuzz/NAME), then feeds simple mutations of
 * those seeds (byte flips, inserts, deletions, repeats, splices) for
 * SECONDS (default 2; JV_FUZZ_SECONDS overrides it). Exits non-zero when the
 * corpus is missing or empty; a crash is the target's abort().
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifndef JV_FUZZ_NAME
#error "build with -DJV_FUZZ_NAME='\"name\"'"
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct seed {
	char *data;
	size_t len;
};

static uint64_t rng = 0x9E3779B97F4A7C15ULL;
static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

/* Read every regular file of dir into *seeds; returns how many. */
static size_t load(const char *dir, struct seed **seeds)
{
	struct dirent **names;
	int n = scandir(dir, &names, NULL, by_name);
	size_t got = 0;
	if (n < 0)
		return 0;
	*seeds = calloc((size_t)n, sizeof **seeds);
	for (int i = 0; i < n; i++) {
		char path[8192];
		snprintf(path, sizeof path, "%s/%s", dir, names[i]->d_name);
		FILE *f = names[i]->d_name[0] != '.' ? fopen(path, "rb") : NULL;
		free(names[i]);
		if (!f)
			continue;
		char *buf = NULL;
		size_t len = 0, cap = 0, r;
		char chunk[4096];
		while ((r = fread(chunk, 1, sizeof chunk, f)) > 0) {
			if (len + r > cap) {
				cap = (len + r) * 2;
				buf = realloc(buf, cap);
				if (!buf)
					abort();
			}
			memcpy(buf + len, chunk, r);
			len += r;
		}
		fclose(f);
		(*seeds)[got].data = buf;
		(*seeds)[got].len = len;
		got++;
	}
	free(names);
	return got;
}

/* One mutation of buf (len bytes, room for cap) in place; the new length. */
static size_t mutate(char *buf, size_t len, size_t cap, const struct seed *seeds, size_t n)
{
	size_t pos = len ? rnd() % len : 0;
	switch (rnd() % 6) {
	case 0: /* flip a bit */
		if (len)
			buf[pos] ^= (char)(1u << (rnd() % 8));
		break;
	case 1: /* a random byte, often a printable one */
		if (len)
			buf[pos] = (char)(rnd() % 2 ? 32 + rnd() % 95 : rnd() & 0xff);
		break;
	case 2: /* delete a span */
		if (len) {
			size_t dl = 1 + rnd() % (len - pos < 16 ? len - pos : 16);
			memmove(buf + pos, buf + pos + dl, len - pos - dl);
			len -= dl;
		}
		break;
	case 3: /* insert a byte */
		if (len < cap) {
			memmove(buf + pos + 1, buf + pos, len - pos);
			buf[pos] = "{}[]\",:\n -%$\\0a"[rnd() % 16];
			len++;
		}
		break;
	case 4: /* repeat a span */ {
		size_t sl = len ? 1 + rnd() % (len - pos < 32 ? len - pos : 32) : 0;
		if (sl && len + sl <= cap) {
			memmove(buf + pos + sl, buf + pos, len - pos);
			len += sl;
		}
		break;
	}
	default: /* splice in a piece of another seed */ {
		const struct seed *o = &seeds[rnd() % n];
		if (!o->len)
			break;
		size_t from = rnd() % o->len;
		size_t sl = 1 + rnd() % (o->len - from < 64 ? o->len - from : 64);
		if (len + sl <= cap) {
			memmove(buf + pos + sl, buf + pos, len - pos);
			memcpy(buf + pos, o->data + from, sl);
			len += sl;
		}
		break;
	}
	}
	return len;
}

int main(int argc, char **argv)
{
	const char *env = getenv("JV_FUZZ_SECONDS");
	double secs = argc > 1 ? strtod(argv[1], NULL) : env ? strtod(env, NULL) : 2;
	char dir[4096];
	if (argc > 2)
		snprintf(dir, sizeof dir, "%s", argv[2]);
	else
		snprintf(dir, sizeof dir, "%s/tests/fuzz/%s",
			 getenv("top_srcdir") ? getenv("top_srcdir") : ".", JV_FUZZ_NAME);
	struct seed *seeds = NULL;
	size_t n = load(dir, &seeds);
	if (!n) {
		fprintf(stderr, "fuzz_%s: no seeds in %s\n", JV_FUZZ_NAME, dir);
		free(seeds);
		return 1;
	}
	for (size_t i = 0; i < n; i++)
		LLVMFuzzerTestOneInput((const uint8_t *)seeds[i].data, seeds[i].len);

	rng ^= (uint64_t)time(NULL);
	time_t end = time(NULL) + (time_t)secs;
	unsigned long runs = 0;
	size_t cap = 8192;
	char *buf = malloc(cap);
	if (!buf)
		abort();
	while (secs > 0 && time(NULL) < end) {
		for (int k = 0; k < 20; k++) {
			const struct seed *s = &seeds[rnd() % n];
			size_t len = s->len < cap ? s->len : cap;
			memcpy(buf, s->data, len);
			int muts = 1 + (int)(rnd() % 6);
			for (int m = 0; m < muts; m++)
				len = mutate(buf, len, cap, seeds, n);
			LLVMFuzzerTestOneInput((const uint8_t *)buf, len);
			runs++;
		}
	}
	printf("fuzz_%s: %zu seeds and %lu mutations in %.0f s, no crash\n", JV_FUZZ_NAME, n, runs,
	       secs);
	free(buf);
	for (size_t i = 0; i < n; i++)
		free(seeds[i].data);
	free(seeds);
	return 0;
}
