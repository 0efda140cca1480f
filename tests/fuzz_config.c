/*
 * fuzz_config.c -- the whole config load on arbitrary input, as `jobvisor
 * check-config` and `serve` do it: the input is written to a file in a
 * private temporary folder and loaded with jv_config_load() (YAML, ${VAR}
 * expansion, KEY_file secrets, mapping and checks, the literal-secret
 * warning of a file others can read), then the executor and alert sections
 * are checked against an empty plugin registry with jv_runtime_create(),
 * which needs no plugin loaded (each section then fails as an unknown
 * plugin, after the host's own checks).
 *
 * No input may read the machine's files: core/config/config.c, built with
 * -DJV_FUZZ for this harness, refuses a KEY_file path with a '/', so only
 * the few files made here beside the config can be read (token, url,
 * empty, nul, latin1). A few variables are set for ${VAR}.
 *
 * With -DJV_LIBFUZZER it is a libFuzzer target (contrib/fuzz.sh); without,
 * tests/fuzz_main.c replays tests/fuzz/config/ and mutations of it.
 */
#include "config/config.h"
#include "plugin/loader.h"
#include "lib/log.h"
#include "lib/mem.h"

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[64];
static char path[128];

static const struct {
	const char *name;
	const char *data;
	size_t len;
} files[] = {
	{"token", "s3cret-token\n", 13},
	{"url", "postgresql://jv:pw@localhost/jobvisor\r\n", 40},
	{"empty", "", 0},
	{"nul", "a\0b\n", 4},
	{"latin1", "caf\xe9\n", 5},
};

static void write_file(const char *name, const char *data, size_t len, mode_t mode)
{
	char p[160];
	snprintf(p, sizeof p, "%s/%s", dir, name);
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0 || (len && write(fd, data, len) != (ssize_t)len)) {
		perror(p);
		abort();
	}
	close(fd);
}

static void cleanup(void)
{
	char p[160];
	for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
		snprintf(p, sizeof p, "%s/%s", dir, files[i].name);
		unlink(p);
	}
	unlink(path);
	rmdir(dir);
}

static void quiet(enum jv_level level, const char *line, void *arg)
{
	(void)level;
	(void)line;
	(void)arg;
}

static void setup(void)
{
	if (dir[0])
		return;
	const char *tmp = getenv("TMPDIR");
	snprintf(dir, sizeof dir, "%s/jv-fuzz-config.XXXXXX", tmp && strlen(tmp) < 32 ? tmp : "/tmp");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		abort();
	}
	snprintf(path, sizeof path, "%s/jobvisor.yaml", dir);
	for (size_t i = 0; i < sizeof files / sizeof *files; i++)
		write_file(files[i].name, files[i].data, files[i].len, 0600);
	atexit(cleanup);
	setenv("JV_FUZZ_TOKEN", "s3cret", 1);
	setenv("JV_FUZZ_EMPTY", "", 1);
	setenv("JV_FUZZ_URL", "postgresql:///jobvisor?host=/run/x", 1);
	setenv("JV_FUZZ_LATIN1", "caf\xe9", 1);
	jv_log_capture(quiet, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 64 * 1024)
		return 0;
	setup();
	/* Readable by others on odd sizes: the literal-secret warning runs. */
	unlink(path);
	write_file("jobvisor.yaml", (const char *)data, size, size % 2 ? 0644 : 0600);
	struct jv_config *cfg = NULL;
	char err[1024];
	err[0] = '\0';
	if (jv_config_load(path, &cfg, err, sizeof err) != 0) {
		if (!err[0] || strchr(err, '\n'))
			abort(); /* an error is one line that says why */
		return 0;
	}
	char *json = jv_node_to_json(cfg->root);
	if (!json)
		abort();
	free(json);
	struct jv_plugins *reg = jv_plugins_new(dir);
	struct jv_runtime *rt = NULL;
	err[0] = '\0';
	if (jv_runtime_create(cfg, reg, &rt, err, sizeof err) == 0) {
		if (cfg->n_executors || cfg->n_alerts)
			abort(); /* no plugin is loaded: a section cannot be made */
		jv_runtime_free(rt);
	} else if (!err[0]) {
		abort();
	}
	jv_plugins_free(reg);
	jv_config_free(cfg);
	return 0;
}
