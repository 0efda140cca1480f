/*
 * test_loader.c -- the plugin loader, the host table and the instances,
 * through the real loader: the broken plugins of tests/plugins/ and the noop
 * executor are copied from the build tree into a fresh directory and loaded
 * from there; every refusal must be one log line naming the file and the
 * exact reason.
 */
#include "unit.h"

#include "config/config.h"
#include "lib/error.h"
#include "plugin/host.h"
#include "plugin/loader.h"
#include "lib/log.h"
#include "lib/mem.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------------ helpers */

/* The host's ABI version as the loader prints it, e.g. "1.1". */
#define JV_STR_(x) #x
#define JV_STR(x) JV_STR_(x)
#define HOST_ABI JV_STR(JV_PLUGIN_ABI_MAJOR) "." JV_STR(JV_PLUGIN_ABI_MINOR)

/* Captured log lines, at warning level and above unless all_levels. */
static struct {
	char *lines[64];
	int n;
	int all_levels;
} logcap;

static void capture(enum jv_level level, const char *line, void *arg)
{
	(void)arg;
	if ((level <= JV_WARNING || logcap.all_levels) && logcap.n < 64)
		logcap.lines[logcap.n++] = jv_strdup(line);
}

static void cap_start(int all_levels)
{
	logcap.n = 0;
	logcap.all_levels = all_levels;
	jv_log_capture(capture, NULL);
}

static void cap_stop(void)
{
	jv_log_capture(NULL, NULL);
	for (int i = 0; i < logcap.n; i++)
		free(logcap.lines[i]);
	logcap.n = 0;
}

/* How many captured lines contain s. */
static int cap_count(const char *s)
{
	int n = 0;
	for (int i = 0; i < logcap.n; i++)
		if (strstr(logcap.lines[i], s))
			n++;
	return n;
}

/* 1 when exactly this line was captured. */
static int cap_has(const char *line)
{
	for (int i = 0; i < logcap.n; i++)
		if (!strcmp(logcap.lines[i], line))
			return 1;
	return 0;
}

static void cap_dump(void)
{
	for (int i = 0; i < logcap.n; i++)
		fprintf(stderr, "  log: %s\n", logcap.lines[i]);
}

/* A file of the build tree (top_builddir is exported by make check). */
static char *built(const char *rel)
{
	const char *top = getenv("top_builddir");
	return jv_asprintf("%s/%s", top && *top ? top : ".", rel);
}

static int copy_file(const char *src, const char *dst, mode_t mode)
{
	int in = open(src, O_RDONLY);
	if (in < 0) {
		fprintf(stderr, "cannot open %s: %s\n", src, strerror(errno));
		return -1;
	}
	int out = open(dst, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (out < 0) {
		close(in);
		return -1;
	}
	char buf[65536];
	ssize_t n;
	int rc = 0;
	while ((n = read(in, buf, sizeof buf)) > 0)
		if (write(out, buf, (size_t)n) != n)
			rc = -1;
	close(in);
	close(out);
	return rc ? rc : chmod(dst, mode);
}

/* Copy the built test plugin NAME (or noop) into dir as FILE (NULL: NAME.so). */
static void install_as(const char *dir, const char *name, const char *file, mode_t mode)
{
	char *src = !strcmp(name, "noop") ? built("plugins/executors/noop/.libs/noop.so")
					  : jv_asprintf("%s/tests/plugins/.libs/%s.so",
							getenv("top_builddir") ? getenv("top_builddir")
									       : ".",
							name);
	char *dst = file ? jv_asprintf("%s/%s", dir, file) : jv_asprintf("%s/%s.so", dir, name);
	CU_ASSERT_FATAL(copy_file(src, dst, mode) == 0);
	free(src);
	free(dst);
}

static void install(const char *dir, const char *name) { install_as(dir, name, NULL, 0644); }

static char *make_dir(void)
{
	char tmpl[] = "/tmp/jv-test-loader.XXXXXX";
	char *d = mkdtemp(tmpl);
	CU_ASSERT_FATAL(d != NULL);
	chmod(d, 0755);
	return jv_strdup(d);
}

/* Remove dir and what it holds (one level of subdirectories). */
static void remove_dir(char *dir)
{
	DIR *d = opendir(dir);
	if (d) {
		struct dirent *e;
		while ((e = readdir(d))) {
			if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
				continue;
			char *p = jv_asprintf("%s/%s", dir, e->d_name);
			if (unlink(p) != 0)
				rmdir(p);
			free(p);
		}
		closedir(d);
	}
	rmdir(dir);
	free(dir);
}

/* The warning line expected for file of dir refused for why. */
static char *refusal_line(const char *dir, const char *file, const char *why)
{
	return jv_asprintf("plugin %s/%s refused: %s", dir, file, why);
}

static void assert_refused(const char *dir, const char *file, const char *why)
{
	char *line = refusal_line(dir, file, why);
	if (!cap_has(line)) {
		fprintf(stderr, "\nmissing: %s\n", line);
		cap_dump();
	}
	CU_ASSERT(cap_has(line));
	free(line);
	/* exactly one line names the file */
	char *name = jv_asprintf("%s/%s ", dir, file);
	CU_ASSERT_EQUAL(cap_count(name), 1);
	free(name);
}

/* ------------------------------------------------------------ the loader */

static const char *const broken[] = {"no_entry",   "bad_major", "new_minor",     "small_size",
				     "bad_kind",   "no_execute", "alert_no_send", "bad_name",
				     "null_desc",  "undef_sym",  "dup_a",         "dup_b",
				     NULL};

static void t_refusals(void)
{
	char *dir = make_dir();
	for (size_t i = 0; broken[i]; i++)
		install(dir, broken[i]);
	install(dir, "good_alert");
	install(dir, "noop");

	cap_start(0);
	struct jv_plugins *reg;
	char err[512];
	CU_ASSERT_EQUAL_FATAL(jv_plugins_load_dir(dir, &reg, err, sizeof err), 0);

	char small[128];
	snprintf(small, sizeof small, "descriptor too small: 24 bytes, ABI " HOST_ABI " needs at least %zu",
		 sizeof(struct jv_plugin));
	assert_refused(dir, "bad_major.so", "built for ABI 2.0, this host has " HOST_ABI);
	assert_refused(dir, "new_minor.so", "built for ABI 1.99, newer than this host's " HOST_ABI);
	assert_refused(dir, "small_size.so", small);
	assert_refused(dir, "bad_kind.so", "unknown kind 7 (1: executor, 2: alert)");
	assert_refused(dir, "no_execute.so", "incomplete plugin: no execute()");
	assert_refused(dir, "alert_no_send.so", "incomplete plugin: no send()");
	assert_refused(dir, "bad_name.so", "invalid name 'Bad-Name' (must match [a-z0-9_]+)");
	assert_refused(dir, "null_desc.so", "jv_plugin_entry() returned NULL");
	assert_refused(dir, "no_entry.so",
		       "no entry symbol jv_plugin_entry() (not a jobvisor plugin?)");
	char *dup = jv_asprintf("duplicate name 'dup', already declared by %s/dup_a.so", dir);
	assert_refused(dir, "dup_b.so", dup);
	free(dup);
	/* dlopen's own words, then the missing symbol */
	char *undef = jv_asprintf("plugin %s/undef_sym.so refused: cannot load: ", dir);
	CU_ASSERT_EQUAL(cap_count(undef), 1);
	CU_ASSERT_EQUAL(cap_count("jv_testplugin_nowhere"), 1);
	free(undef);
	CU_ASSERT_EQUAL(logcap.n, 11); /* one line per refused file, nothing else */
	cap_stop();

	CU_ASSERT_EQUAL(jv_plugins_count(reg), 3);
	const struct jv_loaded_plugin *p = jv_plugins_find(reg, "dup");
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	CU_ASSERT_STRING_EQUAL(p->desc.version, "a");
	CU_ASSERT_PTR_NOT_NULL(jv_plugins_find(reg, "good_alert"));
	p = jv_plugins_find(reg, "noop");
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	CU_ASSERT_EQUAL(p->desc.kind, JV_PLUGIN_EXECUTOR);
	CU_ASSERT_STRING_EQUAL(p->desc.version, "0.1.0");
	CU_ASSERT_PTR_NULL(jv_plugins_find(reg, "bad_major"));
	CU_ASSERT_PTR_NULL(jv_plugins_find(reg, "Bad-Name"));

	const char *file = NULL;
	const char *why = jv_plugins_refusal(reg, "bad_major", &file);
	CU_ASSERT_PTR_NOT_NULL_FATAL(why);
	CU_ASSERT_STRING_EQUAL(why, "built for ABI 2.0, this host has " HOST_ABI);
	char *expect = jv_asprintf("%s/bad_major.so", dir);
	CU_ASSERT_STRING_EQUAL(file, expect);
	free(expect);
	CU_ASSERT_PTR_NULL(jv_plugins_refusal(reg, "noop", NULL));
	CU_ASSERT_STRING_EQUAL(jv_plugins_dir(reg), dir);

	jv_plugins_free(reg);
	remove_dir(dir);
}

/* The one-file entry point gives the reason to the caller and logs nothing. */
static void t_load_file(void)
{
	char *dir = make_dir();
	install(dir, "bad_major");
	install(dir, "noop");
	struct jv_plugins *reg = jv_plugins_new(dir);
	char why[256] = "";
	char *path = jv_asprintf("%s/bad_major.so", dir);
	cap_start(1);
	CU_ASSERT_EQUAL(jv_plugins_load_file(reg, path, why, sizeof why), JV_EPLUGIN);
	CU_ASSERT_STRING_EQUAL(why, "built for ABI 2.0, this host has " HOST_ABI);
	free(path);
	path = jv_asprintf("%s/noop.so", dir);
	CU_ASSERT_EQUAL(jv_plugins_load_file(reg, path, why, sizeof why), 0);
	/* the same plugin twice: a duplicate */
	CU_ASSERT_EQUAL(jv_plugins_load_file(reg, path, why, sizeof why), JV_EPLUGIN);
	char *dup = jv_asprintf("duplicate name 'noop', already declared by %s", path);
	CU_ASSERT_STRING_EQUAL(why, dup);
	free(dup);
	CU_ASSERT_EQUAL(logcap.n, 0);
	cap_stop();
	CU_ASSERT_EQUAL(jv_plugins_count(reg), 1);
	CU_ASSERT_STRING_EQUAL(jv_plugins_at(reg, 0)->path, path);
	CU_ASSERT_PTR_NULL(jv_plugins_at(reg, 1));
	free(path);
	path = jv_asprintf("%s/missing.so", dir);
	CU_ASSERT_EQUAL(jv_plugins_load_file(reg, path, why, sizeof why), JV_EPLUGIN);
	CU_ASSERT_STRING_EQUAL(why, "cannot stat: No such file or directory");
	free(path);
	jv_plugins_free(reg);
	remove_dir(dir);
}

static void t_file_writable(void)
{
	char *dir = make_dir();
	install_as(dir, "good_alert", "others.so", 0646);
	install_as(dir, "good_alert", "group.so", 0664);
	install(dir, "noop");
	cap_start(0);
	struct jv_plugins *reg;
	char err[512];
	CU_ASSERT_EQUAL_FATAL(jv_plugins_load_dir(dir, &reg, err, sizeof err), 0);
	assert_refused(dir, "others.so", "writable by group or others (mode 0646)");
	assert_refused(dir, "group.so", "writable by group or others (mode 0664)");
	CU_ASSERT_EQUAL(logcap.n, 2);
	cap_stop();
	CU_ASSERT_EQUAL(jv_plugins_count(reg), 1);
	CU_ASSERT_PTR_NULL(jv_plugins_find(reg, "good_alert"));
	jv_plugins_free(reg);
	remove_dir(dir);
}

static void t_dir_writable(void)
{
	static const mode_t modes[] = {0777, 0775, 0757};
	for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
		char *dir = make_dir();
		install(dir, "noop");
		chmod(dir, modes[i]);
		cap_start(1);
		struct jv_plugins *reg = (struct jv_plugins *)1;
		char err[512];
		CU_ASSERT_EQUAL(jv_plugins_load_dir(dir, &reg, err, sizeof err), JV_EPLUGIN);
		CU_ASSERT_PTR_NULL(reg);
		char *expect = jv_asprintf("plugin dir %s refused: writable by group or others "
					   "(mode %04o), so anyone could plant code in it",
					   dir, (unsigned)modes[i]);
		CU_ASSERT_STRING_EQUAL(err, expect);
		free(expect);
		CU_ASSERT_EQUAL(logcap.n, 0); /* nothing was even looked at */
		cap_stop();
		chmod(dir, 0755);
		remove_dir(dir);
	}

	struct jv_plugins *reg;
	char err[512];
	CU_ASSERT_EQUAL(jv_plugins_load_dir("/nonexistent/jv-plugins", &reg, err, sizeof err),
			JV_EPLUGIN);
	CU_ASSERT_STRING_EQUAL(err, "plugin dir /nonexistent/jv-plugins: No such file or directory");
	CU_ASSERT_EQUAL(jv_plugins_load_dir("/dev/null", &reg, err, sizeof err), JV_EPLUGIN);
	CU_ASSERT_STRING_EQUAL(err, "plugin dir /dev/null: not a directory");
}

/* load_dir(dir): 0 and one plugin, or JV_EPLUGIN with err as expected. */
static void assert_dir(const char *dir, const char *expect)
{
	struct jv_plugins *reg = NULL;
	char err[1024];
	int rc = jv_plugins_load_dir(dir, &reg, err, sizeof err);
	if (expect) {
		CU_ASSERT_EQUAL(rc, JV_EPLUGIN);
		CU_ASSERT_PTR_NULL(reg);
		CU_ASSERT_STRING_EQUAL(err, expect);
		if (rc == 0 || strcmp(err, expect))
			fprintf(stderr, "\n%s: expected '%s'\n", dir, expect);
	} else {
		CU_ASSERT_EQUAL(rc, 0);
		if (rc)
			fprintf(stderr, "\n%s: %s\n", dir, err);
		CU_ASSERT(reg && jv_plugins_count(reg) == 1);
	}
	jv_plugins_free(reg);
}

/* A safe folder in an unsafe one is refused too: whoever may rename the
 * folder above may put another plugin folder in its place. A sticky folder
 * above (as /tmp) is fine; so is a symlink resolving to a safe folder, as
 * long as the folder holding the link is safe. */
static void t_dir_parents(void)
{
	char *top = make_dir(); /* top/mid/plugins, top/link -> mid */
	char *mid = jv_asprintf("%s/mid", top);
	char *dir = jv_asprintf("%s/plugins", mid);
	char *link = jv_asprintf("%s/link", top);
	char *via = jv_asprintf("%s/plugins", link);
	CU_ASSERT_FATAL(mkdir(mid, 0755) == 0 && mkdir(dir, 0755) == 0);
	CU_ASSERT_FATAL(symlink("mid", link) == 0);
	install(dir, "noop");
	assert_dir(dir, NULL);
	assert_dir(via, NULL);

	static const mode_t bad[] = {0777, 0775, 0757, 0770};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		chmod(mid, bad[i]);
		char *expect = jv_asprintf("plugin dir %s refused: the folder %s above it is "
					   "writable by group or others (mode %04o, no sticky "
					   "bit), so anyone could replace the plugin folder",
					   dir, mid, (unsigned)bad[i]);
		assert_dir(dir, expect);
		free(expect);
		chmod(mid, 0755);
		chmod(top, bad[i]); /* two levels up, and the folder of the link */
		expect = jv_asprintf("plugin dir %s refused: the folder %s above it is writable "
				     "by group or others (mode %04o, no sticky bit), so anyone "
				     "could replace the plugin folder",
				     dir, top, (unsigned)bad[i]);
		assert_dir(dir, expect);
		free(expect);
		expect = jv_asprintf("plugin dir %s refused: the folder %s above it is writable "
				     "by group or others (mode %04o, no sticky bit), so anyone "
				     "could replace the plugin folder",
				     via, top, (unsigned)bad[i]);
		assert_dir(via, expect);
		free(expect);
		chmod(top, 0755);
	}
	/* sticky, as /tmp: others may add names, not move ours */
	chmod(mid, 01777);
	assert_dir(dir, NULL);
	chmod(mid, 0755);

	/* a link from an unsafe folder to a safe one: the link could be
	 * replaced, so the path as written counts too */
	char *open_dir = make_dir();
	char *open_link = jv_asprintf("%s/plugins", open_dir);
	CU_ASSERT_FATAL(symlink(dir, open_link) == 0);
	chmod(open_dir, 0777);
	char *expect = jv_asprintf("plugin dir %s refused: the folder %s above it is writable by "
				   "group or others (mode 0777, no sticky bit), so anyone could "
				   "replace the plugin folder",
				   open_link, open_dir);
	assert_dir(open_link, expect);
	free(expect);
	chmod(open_dir, 0755);
	assert_dir(open_link, NULL);
	unlink(open_link);
	free(open_link);
	remove_dir(open_dir);

	/* owners: only root can give a folder away */
	if (geteuid() == 0) {
		CU_ASSERT_FATAL(chown(mid, 65534, 65534) == 0);
		expect = jv_asprintf("plugin dir %s refused: the folder %s above it is owned by "
				     "uid 65534, not by root or the running user (uid 0), so that "
				     "user could replace the plugin folder",
				     dir, mid);
		assert_dir(dir, expect);
		free(expect);
		CU_ASSERT_FATAL(chown(mid, 0, 0) == 0 && chown(dir, 65534, 65534) == 0);
		expect = jv_asprintf("plugin dir %s refused: owned by uid 65534, not by root or "
				     "the running user (uid 0)",
				     dir);
		assert_dir(dir, expect);
		free(expect);
		CU_ASSERT_FATAL(chown(dir, 0, 0) == 0);
	} else {
		fprintf(stderr, "(not root: the foreign-owner refusals are not tested) ");
	}

	char *so = jv_asprintf("%s/noop.so", dir);
	unlink(so);
	free(so);
	rmdir(dir);
	unlink(link);
	rmdir(mid);
	free(dir);
	free(mid);
	free(link);
	free(via);
	remove_dir(top);
}

/* Only root can give a file away; as anyone else this only checks that
 * our own files are accepted. */
static void t_file_owner(void)
{
	char *dir = make_dir();
	install(dir, "noop");
	install(dir, "good_alert");
	char *path = jv_asprintf("%s/good_alert.so", dir);
	int as_root = geteuid() == 0;
	if (as_root)
		CU_ASSERT_FATAL(chown(path, 65534, 65534) == 0);
	free(path);
	cap_start(0);
	struct jv_plugins *reg;
	char err[512];
	CU_ASSERT_EQUAL_FATAL(jv_plugins_load_dir(dir, &reg, err, sizeof err), 0);
	if (as_root) {
		assert_refused(dir, "good_alert.so",
			       "owned by uid 65534, not by root or the running user (uid 0)");
		CU_ASSERT_EQUAL(jv_plugins_count(reg), 1);
	} else {
		fprintf(stderr, "(not root: the foreign-owner refusal is not tested) ");
		CU_ASSERT_EQUAL(logcap.n, 0);
		CU_ASSERT_EQUAL(jv_plugins_count(reg), 2);
	}
	cap_stop();
	jv_plugins_free(reg);
	remove_dir(dir);
}

/* Names not NAME.so with NAME in [a-z0-9_]+ are skipped without a warning;
 * a well-named file that is no plugin, a link or a directory is refused. */
static void t_names(void)
{
	char *dir = make_dir();
	install(dir, "noop");
	static const char *const ignored[] = {"Good_Alert.so", "good-alert.so", "good.alert.so",
					      "good_alert.so.1", "good_alert.so.bak", ".so",
					      "README", "good_alert", NULL};
	for (size_t i = 0; ignored[i]; i++)
		install_as(dir, "good_alert", ignored[i], 0644);
	char *junk = jv_asprintf("%s/junk.so", dir);
	FILE *f = fopen(junk, "w");
	CU_ASSERT_FATAL(f != NULL);
	fputs("not an ELF file\n", f);
	fclose(f);
	chmod(junk, 0644);
	char *link = jv_asprintf("%s/link.so", dir);
	char *target = jv_asprintf("%s/noop.so", dir);
	CU_ASSERT_FATAL(symlink(target, link) == 0);
	char *sub = jv_asprintf("%s/sub.so", dir);
	CU_ASSERT_FATAL(mkdir(sub, 0755) == 0);

	cap_start(1);
	jv_log_setup(JV_DEBUG, JV_LOG_TEXT);
	struct jv_plugins *reg;
	char err[512];
	CU_ASSERT_EQUAL_FATAL(jv_plugins_load_dir(dir, &reg, err, sizeof err), 0);
	jv_log_setup(JV_INFO, JV_LOG_TEXT);
	assert_refused(dir, "link.so", "is a symbolic link (copy the file instead)");
	assert_refused(dir, "sub.so", "not a regular file");
	char *junkline = jv_asprintf("plugin %s/junk.so refused: cannot load: ", dir);
	CU_ASSERT_EQUAL(cap_count(junkline), 1);
	free(junkline);
	for (size_t i = 0; ignored[i]; i++) {
		char *line = jv_asprintf("plugin dir %s: ignoring %s (", dir, ignored[i]);
		CU_ASSERT_EQUAL(cap_count(line), 1);
		free(line);
	}
	cap_stop();
	CU_ASSERT_EQUAL(jv_plugins_count(reg), 1);
	CU_ASSERT_PTR_NULL(jv_plugins_find(reg, "good_alert"));
	jv_plugins_free(reg);
	free(junk);
	free(link);
	free(target);
	free(sub);
	remove_dir(dir);
}

static void t_host_table(void)
{
	const struct jv_host *h = jv_host_table();
	CU_ASSERT_EQUAL(h->abi_major, JV_PLUGIN_ABI_MAJOR);
	CU_ASSERT_EQUAL(h->abi_minor, JV_PLUGIN_ABI_MINOR);
	CU_ASSERT_EQUAL(h->struct_size, sizeof(struct jv_host));
	/* every function is there */
	const char *p = (const char *)h + offsetof(struct jv_host, log);
	for (; p < (const char *)h + sizeof *h; p += sizeof(void (*)(void))) {
		void (*fn)(void);
		memcpy(&fn, p, sizeof fn);
		CU_ASSERT_PTR_NOT_NULL(fn);
	}
}

/* ------------------------------------------------------------ the runtime */

/* A plugin dir with the plugins the runtime tests use. */
static char *runtime_dir(void)
{
	char *dir = make_dir();
	static const char *const good[] = {"noop",   "good_alert", "create_fails",
					   "typed_config", "probe", "bad_major", NULL};
	for (size_t i = 0; good[i]; i++)
		install(dir, good[i]);
	return dir;
}

struct fixture {
	char *dir;
	struct jv_plugins *plugins;
	struct jv_config *cfg;
	struct jv_runtime *rt;
	char err[1024];
};

/* Load config text (with @DIR@ replaced by the plugin dir) and make the
 * runtime; returns jv_runtime_create()'s code (config errors fail the test). */
static int fixture_up(struct fixture *fx, const char *yaml)
{
	memset(fx, 0, sizeof *fx);
	fx->dir = runtime_dir();
	struct jv_buf text = {0};
	jv_buf_printf(&text, "database: { url: \"postgres://localhost/x\" }\nplugins: { dir: \"%s\" }\n",
		      fx->dir);
	jv_buf_puts(&text, yaml);
	int rc = jv_config_load_string("test.yaml", text.data, &fx->cfg, fx->err, sizeof fx->err);
	jv_buf_free(&text);
	if (rc != 0)
		fprintf(stderr, "\nconfig: %s\n", fx->err);
	CU_ASSERT_EQUAL_FATAL(rc, 0);
	cap_start(0);
	rc = jv_plugins_load_dir(fx->dir, &fx->plugins, fx->err, sizeof fx->err);
	CU_ASSERT_EQUAL_FATAL(rc, 0);
	CU_ASSERT_EQUAL(logcap.n, 1); /* bad_major */
	cap_stop();
	return jv_runtime_create(fx->cfg, fx->plugins, &fx->rt, fx->err, sizeof fx->err);
}

static void fixture_down(struct fixture *fx)
{
	jv_runtime_free(fx->rt);
	jv_plugins_free(fx->plugins);
	jv_config_free(fx->cfg);
	remove_dir(fx->dir);
}

/* yaml must fail with exactly expect (@DIR@ replaced by the plugin dir). */
static void expect_runtime_error(const char *yaml, const char *expect)
{
	struct fixture fx;
	int rc = fixture_up(&fx, yaml);
	CU_ASSERT_EQUAL(rc, JV_ECONFIG);
	CU_ASSERT_PTR_NULL(fx.rt);
	struct jv_buf want = {0};
	for (const char *p = expect; *p;) {
		const char *at = strstr(p, "@DIR@");
		if (!at) {
			jv_buf_puts(&want, p);
			break;
		}
		jv_buf_append(&want, p, (size_t)(at - p));
		jv_buf_puts(&want, fx.dir);
		p = at + 5;
	}
	if (strcmp(fx.err, want.data))
		fprintf(stderr, "\n  got:  %s\n  want: %s\n", fx.err, want.data);
	CU_ASSERT_STRING_EQUAL(fx.err, want.data);
	jv_buf_free(&want);
	fixture_down(&fx);
}

/* Lines 1 and 2 are database: and plugins:; the tests' YAML starts at 3. */
static void t_runtime_errors(void)
{
	expect_runtime_error("executors:\n"
			     "  shell:\n"
			     "    plugin: nope\n",
			     "test.yaml:5:13: executors.shell.plugin: unknown plugin 'nope' "
			     "(not in @DIR@; available: create_fails, noop, probe, typed_config)");
	expect_runtime_error("executors:\n"
			     "  old: { plugin: bad_major }\n",
			     "test.yaml:4:18: executors.old.plugin: unknown plugin 'bad_major' "
			     "(@DIR@/bad_major.so was refused: built for ABI 2.0, this host has " HOST_ABI ")");
	expect_runtime_error("executors:\n"
			     "  x: { plugin: good_alert }\n",
			     "test.yaml:4:16: executors.x.plugin: plugin 'good_alert' is an alert "
			     "sink, not an executor");
	expect_runtime_error("alerts:\n"
			     "  - { plugin: noop, on: [job_failed] }\n",
			     "test.yaml:4:15: alerts[0].plugin: plugin 'noop' is an executor, not "
			     "an alert sink");
	expect_runtime_error("executors:\n"
			     "  x:\n"
			     "    plugin: noop\n"
			     "    default_sleep: 5\n",
			     "test.yaml:6:5: unknown key 'default_sleep' in executors.x (did you "
			     "mean 'default_sleep_ms'?) (known keys: plugin, timeout_seconds, "
			     "isolation, max_attempts, default_sleep_ms)");
	expect_runtime_error("alerts:\n"
			     "  - plugin: good_alert\n"
			     "    on: [job_failed]\n"
			     "    channel: ops\n"
			     "    chanel2: x\n",
			     "test.yaml:7:5: unknown key 'chanel2' in alerts[0] (did you mean "
			     "'channel'?) (known keys: plugin, on, type, user, fold_seconds, "
			     "min_interval_ms, max_attempts, timeout_seconds, channel, "
			     "webhook_url)");
	/* accessor type errors, at the value */
	expect_runtime_error("executors:\n"
			     "  x:\n"
			     "    plugin: noop\n"
			     "    default_sleep_ms: soon\n",
			     "test.yaml:6:23: executors.x.default_sleep_ms: expected an integer, "
			     "got 'soon'");
	expect_runtime_error("executors:\n"
			     "  x: { plugin: typed_config, ratio: [1] }\n",
			     "test.yaml:4:37: executors.x.ratio: expected a number, got a list");
	expect_runtime_error("executors:\n"
			     "  x: { plugin: typed_config, enabled: maybe }\n",
			     "test.yaml:4:39: executors.x.enabled: expected true or false, got "
			     "'maybe'");
	expect_runtime_error("executors:\n"
			     "  x: { plugin: typed_config, label: { a: 1 } }\n",
			     "test.yaml:4:37: executors.x.label: expected a string, got a map");
	expect_runtime_error("executors:\n"
			     "  x: { plugin: typed_config, names: [a, [b]] }\n",
			     "test.yaml:4:41: executors.x.names: expected a list of strings, item "
			     "2 is a list");
	expect_runtime_error("executors:\n"
			     "  x: { plugin: typed_config, count: 99999999999999999999 }\n",
			     "test.yaml:4:37: executors.x.count: '99999999999999999999' is too "
			     "large for an integer");
	/* the plugin's own verdicts */
	expect_runtime_error("executors:\n"
			     "  x: { plugin: create_fails, level: 9 }\n",
			     "test.yaml:4:37: executors.x.level: must be at most 3, not 9");
	expect_runtime_error("executors:\n"
			     "  x: { plugin: create_fails }\n",
			     "test.yaml:4:6: executors.x.level: is required");
	expect_runtime_error("executors:\n"
			     "  x: { plugin: create_fails, level: 0 }\n",
			     "test.yaml:4:6: executors.x: plugin 'create_fails' refused this "
			     "instance (create() returned -1 without saying why)");
	/* create() ignored an accessor's error and said yes: still refused */
	expect_runtime_error("executors:\n"
			     "  x: { plugin: create_fails, level: 1, label: abc }\n",
			     "test.yaml:4:47: executors.x.label: expected an integer, got 'abc'");
	expect_runtime_error("alerts:\n"
			     "  - { plugin: good_alert, on: [job_failed] }\n",
			     "test.yaml:4:5: alerts[0].channel: is required");
	/* the first bad section wins; instances made before are destroyed */
	expect_runtime_error("executors:\n"
			     "  a: { plugin: noop }\n"
			     "  b: { plugin: typed_config, count: x }\n",
			     "test.yaml:5:37: executors.b.count: expected an integer, got 'x'");
}

static void t_runtime_ok(void)
{
	char secret[] = "/tmp/jv-test-secret.XXXXXX";
	int fd = mkstemp(secret);
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_FATAL(write(fd, "s3cret\n", 7) == 7);
	close(fd);
	char *yaml = jv_asprintf("executors:\n"
				 "  t:\n"
				 "    plugin: typed_config\n"
				 "    timeout_seconds: 30\n"
				 "    count: 42\n"
				 "    ratio: 0.25\n"
				 "    enabled: yes\n"
				 "    names: [a, b, c]\n"
				 "    label: hello\n"
				 "    extra: { k: [1, true, \"x\"] }\n"
				 "    secret_file: %s\n"
				 "  one:\n"
				 "    plugin: typed_config\n"
				 "    names: solo\n"
				 "    label: ~\n"
				 "  n: { plugin: noop }\n"
				 "alerts:\n"
				 "  - { plugin: good_alert, on: [job_failed], channel: ops }\n",
				 secret);
	struct fixture fx;
	int rc = fixture_up(&fx, yaml);
	free(yaml);
	if (rc)
		fprintf(stderr, "\n%s\n", fx.err);
	CU_ASSERT_EQUAL_FATAL(rc, 0);
	CU_ASSERT_EQUAL(fx.rt->n_executors, 3);
	CU_ASSERT_EQUAL(fx.rt->n_alerts, 1);
	CU_ASSERT_PTR_NULL(jv_runtime_executor(fx.rt, "nope"));
	struct jv_instance *t = jv_runtime_executor(fx.rt, "t");
	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	CU_ASSERT_STRING_EQUAL(t->name, "t");
	CU_ASSERT_PTR_EQUAL(t->executor, &fx.cfg->executors[0]);
	CU_ASSERT_EQUAL(t->executor->timeout_seconds, 30);
	/* 1.1: jobvisor's own database, for plugins that use it */
	CU_ASSERT_STRING_EQUAL(jv_host_table()->database_url(t), "postgres://localhost/x");

	struct jv_job job = {.struct_size = sizeof job, .id = 7, .type = "t", .payload = "{}",
			     .payload_len = 2, .attempt = 1, .max_attempts = 3, .timeout_ms = 1000};
	struct jv_run run;
	jv_run_init(&run, 1000, 4096);
	CU_ASSERT_EQUAL(jv_instance_execute(t, &job, &run), JV_SUCCESS);
	CU_ASSERT_STRING_EQUAL(jv_run_output(&run),
			       "count=42 ratio=0.25 enabled=1 n_names=3 names=a|b|c label=hello "
			       "extra={\"k\":[1,true,\"x\"]} secret=s3cret payload={}");
	CU_ASSERT_PTR_NULL(run.error);
	jv_run_free(&run);

	/* defaults kept for absent and null keys; a scalar is a list of one */
	struct jv_instance *one = jv_runtime_executor(fx.rt, "one");
	CU_ASSERT_PTR_NOT_NULL_FATAL(one);
	jv_run_init(&run, 1000, 4096);
	CU_ASSERT_EQUAL(jv_instance_execute(one, &job, &run), JV_SUCCESS);
	CU_ASSERT_STRING_EQUAL(jv_run_output(&run),
			       "count=-1 ratio=-1 enabled=-1 n_names=1 names=solo label=(none) "
			       "extra=(none) secret=(none) payload={}");
	jv_run_free(&run);

	/* an alert instance */
	struct jv_instance *a = fx.rt->alerts[0];
	CU_ASSERT_STRING_EQUAL(a->name, "alerts[0]");
	struct jv_alert alert = {.struct_size = sizeof alert, .event = "job_failed", .title = "t1",
				 .text = "body", .json = "{}", .processor = "p"};
	jv_run_init(&run, 1000, 4096);
	CU_ASSERT_EQUAL(jv_instance_send(a, &alert, &run), JV_SUCCESS);
	CU_ASSERT_STRING_EQUAL(jv_run_output(&run), "channel=ops url= event=job_failed title=t1");
	jv_run_free(&run);
	alert.event = "rate_limited";
	jv_run_init(&run, 1000, 4096);
	CU_ASSERT_EQUAL(jv_instance_send(a, &alert, &run), JV_RETRY);
	CU_ASSERT_EQUAL(run.retry_in_ms, 1500);
	CU_ASSERT_STRING_EQUAL(run.error, "slow down");
	jv_run_free(&run);
	/* an alert instance runs no jobs, an executor sends no alerts */
	jv_run_init(&run, 1000, 4096);
	CU_ASSERT_EQUAL(jv_instance_execute(a, &job, &run), JV_FAIL);
	CU_ASSERT_STRING_EQUAL(run.error, "instance 'alerts[0]' cannot run jobs");
	jv_run_free(&run);
	jv_run_init(&run, 1000, 4096);
	CU_ASSERT_EQUAL(jv_instance_send(t, &alert, &run), JV_FAIL);
	CU_ASSERT_STRING_EQUAL(run.error, "instance 't' cannot send alerts");
	jv_run_free(&run);

	/* plugins log through the host, prefixed with plugin and instance */
	cap_start(1);
	const struct jv_host *h = jv_host_table();
	h->log(t, JV_LOG_WARNING, "disk at %d%%", 93);
	h->log(NULL, JV_LOG_ERROR, "no instance");
	CU_ASSERT(cap_has("plugin typed_config[t]: disk at 93%"));
	CU_ASSERT(cap_has("plugin: no instance"));
	CU_ASSERT_STRING_EQUAL(h->instance_name(t), "t");
	/* accessors after create(): errors are logged, values still owned */
	const char *s;
	CU_ASSERT_EQUAL(h->config_string(t, "label", &s), 0);
	CU_ASSERT_STRING_EQUAL(s, "hello");
	int64_t i64 = 5;
	CU_ASSERT_EQUAL(h->config_int(t, "missing", &i64), JV_HOST_ENOENT);
	CU_ASSERT_EQUAL(i64, 5);
	CU_ASSERT_EQUAL(h->config_int(t, "label", &i64), JV_HOST_ETYPE);
	CU_ASSERT_EQUAL(cap_count("executors.t.label: expected an integer, got 'hello'"), 1);
	CU_ASSERT_EQUAL(h->config_int(NULL, "label", &i64), JV_HOST_EINVAL);
	CU_ASSERT_EQUAL(h->config_int(t, "label", NULL), JV_HOST_EINVAL);
	cap_stop();

	fixture_down(&fx);
	unlink(secret);
}

/* ------------------------------------------------------------ runs */

struct one {
	struct fixture fx;
	struct jv_instance *inst;
};

static void one_up(struct one *o, const char *yaml, const char *type)
{
	CU_ASSERT_EQUAL_FATAL(fixture_up(&o->fx, yaml), 0);
	o->inst = jv_runtime_executor(o->fx.rt, type);
	CU_ASSERT_PTR_NOT_NULL_FATAL(o->inst);
}

/* Run payload through o's instance into run (caller frees it). */
static int run_payload(struct one *o, const char *payload, struct jv_run *run, int64_t timeout_ms,
		       size_t max_output)
{
	struct jv_job job = {.struct_size = sizeof job, .id = 1, .type = o->inst->name,
			     .payload = payload, .payload_len = strlen(payload), .attempt = 1,
			     .max_attempts = 3, .timeout_ms = (int32_t)timeout_ms};
	jv_run_init(run, timeout_ms, max_output);
	return jv_instance_execute(o->inst, &job, run);
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void t_run_host(void)
{
	struct one o;
	one_up(&o, "executors:\n  p: { plugin: probe }\n", "p");
	struct jv_run run;

	CU_ASSERT_EQUAL(run_payload(&o, "status 42", &run, 1000, 100), JV_FAIL);
	CU_ASSERT_STRING_EQUAL(run.error, "plugin returned invalid status 42");
	jv_run_free(&run);
	CU_ASSERT_EQUAL(run_payload(&o, "status -1", &run, 1000, 100), JV_FAIL);
	CU_ASSERT_STRING_EQUAL(run.error, "plugin returned invalid status -1");
	jv_run_free(&run);
	CU_ASSERT_EQUAL(run_payload(&o, "status 1", &run, 1000, 100), JV_RETRY);
	CU_ASSERT_STRING_EQUAL(run.error, "plugin probe failed without an error message");
	jv_run_free(&run);
	CU_ASSERT_EQUAL(run_payload(&o, "silent", &run, 1000, 100), JV_FAIL);
	CU_ASSERT_STRING_EQUAL(run.error, "plugin probe failed without an error message");
	jv_run_free(&run);
	CU_ASSERT_EQUAL(run_payload(&o, "errtwice", &run, 1000, 100), JV_FAIL);
	CU_ASSERT_STRING_EQUAL(run.error, "second 2");
	jv_run_free(&run);

	/* output: bounded, the cut marked */
	CU_ASSERT_EQUAL(run_payload(&o, "output 100", &run, 1000, 100), JV_SUCCESS);
	CU_ASSERT_EQUAL(strlen(jv_run_output(&run)), 100);
	jv_run_free(&run);
	CU_ASSERT_EQUAL(run_payload(&o, "output 250", &run, 1000, 100), JV_SUCCESS);
	char want[256];
	memset(want, 'x', 100);
	snprintf(want + 100, sizeof want - 100, "\n[output truncated: 150 bytes dropped]");
	CU_ASSERT_STRING_EQUAL(jv_run_output(&run), want);
	CU_ASSERT_STRING_EQUAL(jv_run_output(&run), want); /* marked once */
	jv_run_free(&run);
	/* cut at a character boundary: 5 bytes of room hold two 2-byte chars */
	CU_ASSERT_EQUAL(run_payload(&o, "utf8 10", &run, 1000, 5), JV_SUCCESS);
	CU_ASSERT_STRING_EQUAL(jv_run_output(&run),
			       "\xc3\xa9\xc3\xa9\n[output truncated: 16 bytes dropped]");
	jv_run_free(&run);
	CU_ASSERT_EQUAL(run_payload(&o, "output 0", &run, 1000, 5), JV_SUCCESS);
	CU_ASSERT_STRING_EQUAL(jv_run_output(&run), "");
	jv_run_free(&run);

	/* result: JSON checked, stored compact */
	CU_ASSERT_EQUAL(run_payload(&o, "result [1, 2, {\"a\": null}]", &run, 1000, 100),
			JV_SUCCESS);
	CU_ASSERT_STRING_EQUAL(run.result, "[1,2,{\"a\":null}]");
	jv_run_free(&run);
	CU_ASSERT_EQUAL(run_payload(&o, "result 7", &run, 1000, 100), JV_SUCCESS);
	CU_ASSERT_STRING_EQUAL(run.result, "7");
	jv_run_free(&run);
	CU_ASSERT_EQUAL(run_payload(&o, "result {bad", &run, 1000, 100), JV_FAIL);
	CU_ASSERT_STRING_EQUAL(run.error, "result_json: -4");
	CU_ASSERT_PTR_NULL(run.result);
	jv_run_free(&run);

	/* retry delay, only with JV_RETRY */
	CU_ASSERT_EQUAL(run_payload(&o, "retry 250", &run, 1000, 100), JV_RETRY);
	CU_ASSERT_EQUAL(run.retry_in_ms, 250);
	CU_ASSERT_STRING_EQUAL(run.error, "later");
	jv_run_free(&run);
	CU_ASSERT_EQUAL(run_payload(&o, "retry -5", &run, 1000, 100), JV_RETRY);
	CU_ASSERT_EQUAL(run.retry_in_ms, -1);
	jv_run_free(&run);
	CU_ASSERT_EQUAL(run_payload(&o, "fail", &run, 1000, 100), JV_FAIL);
	CU_ASSERT_EQUAL(run.retry_in_ms, -1);
	jv_run_free(&run);

	/* deadline and cancellation as the plugin sees them */
	CU_ASSERT_EQUAL(run_payload(&o, "clock", &run, 5000, 100), JV_SUCCESS);
	long long rem = -1;
	int canc = -1;
	CU_ASSERT_EQUAL(sscanf(jv_run_output(&run), "remaining=%lld cancelled=%d", &rem, &canc), 2);
	CU_ASSERT(rem > 4000 && rem <= 5000);
	CU_ASSERT_EQUAL(canc, 0);
	jv_run_free(&run);
	struct jv_job job = {.struct_size = sizeof job, .type = "p", .payload = "clock",
			     .payload_len = 5};
	jv_run_init(&run, 0, 100);
	jv_run_cancel(&run);
	CU_ASSERT_EQUAL(jv_instance_execute(o.inst, &job, &run), JV_SUCCESS);
	char exp[64];
	snprintf(exp, sizeof exp, "remaining=%lld cancelled=1", (long long)INT64_MAX);
	CU_ASSERT_STRING_EQUAL(jv_run_output(&run), exp);
	jv_run_free(&run);

	fixture_down(&o.fx);
}

/* A result over JV_RESULT_MAX is refused, and a run that succeeds anyway
 * fails for good naming the limit (a worker's frame carries the result). */
static void t_run_result_limit(void)
{
	struct one o;
	one_up(&o, "executors:\n  p: { plugin: probe }\n", "p");
	struct jv_run run;
	char payload[64], want[256];

	snprintf(payload, sizeof payload, "bigresult %d", JV_RESULT_MAX);
	CU_ASSERT_EQUAL(run_payload(&o, payload, &run, 0, 100), JV_SUCCESS);
	CU_ASSERT_PTR_NULL(run.error);
	CU_ASSERT_EQUAL_FATAL(run.result != NULL, 1);
	CU_ASSERT_EQUAL(strlen(run.result), (size_t)JV_RESULT_MAX);
	jv_run_free(&run);

	snprintf(payload, sizeof payload, "bigresult %d", JV_RESULT_MAX + 1);
	CU_ASSERT_EQUAL(run_payload(&o, payload, &run, 0, 100), JV_FAIL);
	CU_ASSERT_PTR_NULL(run.result);
	CU_ASSERT_PTR_NOT_NULL_FATAL(run.error);
	snprintf(want, sizeof want,
		 "result is too large: %d bytes as JSON, the limit is %d bytes (plugin probe "
		 "succeeded but its result was refused)",
		 JV_RESULT_MAX + 1, JV_RESULT_MAX);
	CU_ASSERT_STRING_EQUAL(run.error, want);
	jv_run_free(&run);

	/* "result TEXT" reports what result_json() returned */
	CU_ASSERT_EQUAL(run_payload(&o, "result {\"a\": 1}", &run, 0, 100), JV_SUCCESS);
	CU_ASSERT_STRING_EQUAL(run.result, "{\"a\":1}");
	jv_run_free(&run);
	fixture_down(&o.fx);
}

/* A huge error is cut to JV_ERROR_MAX at a character boundary and marked. */
static void t_run_error_limit(void)
{
	struct one o;
	one_up(&o, "executors:\n  p: { plugin: probe }\n", "p");
	struct jv_run run;
	char want[256];

	CU_ASSERT_EQUAL(run_payload(&o, "bigerror 100000", &run, 0, 100), JV_FAIL);
	CU_ASSERT_EQUAL_FATAL(run.error != NULL, 1);
	size_t len = strlen(run.error);
	CU_ASSERT(len <= JV_ERROR_MAX && len > JV_ERROR_MAX - 64);
	const char *mark = strstr(run.error, " [error truncated: ");
	CU_ASSERT_PTR_NOT_NULL_FATAL(mark);
	CU_ASSERT_EQUAL((mark - run.error) % 2, 0); /* whole 2-byte characters kept */
	snprintf(want, sizeof want, " [error truncated: %ld bytes dropped]",
		 100000L - (long)(mark - run.error));
	CU_ASSERT_STRING_EQUAL(mark, want);
	jv_run_free(&run);

	CU_ASSERT_EQUAL(run_payload(&o, "bigerror 4096", &run, 0, 100), JV_FAIL);
	CU_ASSERT_EQUAL(strlen(run.error), 4096); /* at the limit: kept whole */
	jv_run_free(&run);

	fixture_down(&o.fx);
}

static void t_noop(void)
{
	struct one o;
	one_up(&o,
	       "executors:\n"
	       "  n: { plugin: noop }\n"
	       "  slow: { plugin: noop, default_sleep_ms: 30 }\n",
	       "n");
	struct jv_run run;

	CU_ASSERT_EQUAL(run_payload(&o, "{}", &run, 1000, 100), JV_SUCCESS);
	CU_ASSERT_STRING_EQUAL(run.result, "{\"slept_ms\":0}");
	CU_ASSERT_PTR_NULL(run.error);
	jv_run_free(&run);
	CU_ASSERT_EQUAL(run_payload(&o, "null", &run, 1000, 100), JV_SUCCESS);
	jv_run_free(&run);

	int64_t t0 = now_ms();
	CU_ASSERT_EQUAL(run_payload(&o, "{\"sleep_ms\": 40, \"outcome\": \"success\", \"output\": "
					"\"hi\\n\", \"data\": [1]}",
				    &run, 1000, 100),
			JV_SUCCESS);
	CU_ASSERT(now_ms() - t0 >= 40);
	CU_ASSERT_STRING_EQUAL(run.result, "{\"slept_ms\":40}");
	CU_ASSERT_STRING_EQUAL(jv_run_output(&run), "hi\n");
	jv_run_free(&run);

	CU_ASSERT_EQUAL(run_payload(&o, "{\"result\": {\"a\": [1, 2]}}", &run, 1000, 100),
			JV_SUCCESS);
	CU_ASSERT_STRING_EQUAL(run.result, "{\"a\":[1,2]}");
	jv_run_free(&run);

	CU_ASSERT_EQUAL(run_payload(&o, "{\"outcome\": \"retryable\"}", &run, 1000, 100),
			JV_RETRY);
	CU_ASSERT_STRING_EQUAL(run.error, "noop: retryable failure, as requested");
	CU_ASSERT_EQUAL(run.retry_in_ms, -1);
	jv_run_free(&run);
	CU_ASSERT_EQUAL(run_payload(&o,
				    "{\"outcome\": \"retryable\", \"error\": \"busy\", "
				    "\"retry_in_ms\": 1234}",
				    &run, 1000, 100),
			JV_RETRY);
	CU_ASSERT_STRING_EQUAL(run.error, "busy");
	CU_ASSERT_EQUAL(run.retry_in_ms, 1234);
	jv_run_free(&run);
	CU_ASSERT_EQUAL(run_payload(&o, "{\"outcome\": \"permanent\"}", &run, 1000, 100), JV_FAIL);
	CU_ASSERT_STRING_EQUAL(run.error, "noop: permanent failure, as requested");
	CU_ASSERT_PTR_NULL(run.result);
	jv_run_free(&run);

	/* bad payloads fail for good, saying why */
	static const struct {
		const char *payload, *error;
	} bad[] = {
		{"not json", "noop: payload is not JSON: invalid token near 'not' (at byte 3)"},
		{"", "noop: payload is not JSON: unexpected token near end of file (at byte 0)"},
		{"[1]", "noop: payload must be a JSON object"},
		{"{\"outcome\": \"explode\"}",
		 "noop: unknown outcome 'explode' (success, retryable, permanent, crash, hang)"},
		{"{\"outcome\": 3}", "noop: payload.outcome must be a string"},
		{"{\"sleep_ms\": \"x\"}", "noop: payload.sleep_ms must be an integer"},
		{"{\"sleep_ms\": 1.5}", "noop: payload.sleep_ms must be an integer"},
		{"{\"sleep_ms\": -1}", "noop: payload.sleep_ms must be between 0 and 604800000"},
		{"{\"output\": 1}", "noop: payload.output must be a string"},
		{"{\"sleep\": 1}", "noop: unknown payload key 'sleep' (known: sleep_ms, outcome, "
				   "error, retry_in_ms, output, result, data)"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		CU_ASSERT_EQUAL(run_payload(&o, bad[i].payload, &run, 1000, 100), JV_FAIL);
		CU_ASSERT_PTR_NOT_NULL_FATAL(run.error);
		if (strcmp(run.error, bad[i].error))
			fprintf(stderr, "\n  got:  %s\n  want: %s\n", run.error, bad[i].error);
		CU_ASSERT_STRING_EQUAL(run.error, bad[i].error);
		jv_run_free(&run);
	}

	/* a cancelled run stops sleeping at once */
	struct jv_job job = {.struct_size = sizeof job, .type = "n",
			     .payload = "{\"sleep_ms\": 60000}", .payload_len = 19};
	jv_run_init(&run, 120000, 100);
	jv_run_cancel(&run);
	t0 = now_ms();
	CU_ASSERT_EQUAL(jv_instance_execute(o.inst, &job, &run), JV_RETRY);
	CU_ASSERT(now_ms() - t0 < 1000);
	CU_ASSERT_STRING_EQUAL(run.error, "cancelled");
	jv_run_free(&run);
	/* and gives up at the deadline */
	t0 = now_ms();
	CU_ASSERT_EQUAL(run_payload(&o, "{\"sleep_ms\": 60000}", &run, 50, 100), JV_RETRY);
	CU_ASSERT(now_ms() - t0 >= 45 && now_ms() - t0 < 2000);
	CU_ASSERT_PTR_NOT_NULL_FATAL(run.error);
	CU_ASSERT_NSTRING_EQUAL(run.error, "deadline reached after ", 23);
	jv_run_free(&run);

	/* the instance's default_sleep_ms */
	o.inst = jv_runtime_executor(o.fx.rt, "slow");
	CU_ASSERT_PTR_NOT_NULL_FATAL(o.inst);
	CU_ASSERT_EQUAL(run_payload(&o, "{}", &run, 1000, 100), JV_SUCCESS);
	CU_ASSERT_STRING_EQUAL(run.result, "{\"slept_ms\":30}");
	jv_run_free(&run);
	CU_ASSERT_EQUAL(run_payload(&o, "{\"sleep_ms\": 0}", &run, 1000, 100), JV_SUCCESS);
	CU_ASSERT_STRING_EQUAL(run.result, "{\"slept_ms\":0}");
	jv_run_free(&run);

	fixture_down(&o.fx);

	expect_runtime_error("executors:\n  n: { plugin: noop, default_sleep_ms: -3 }\n",
			     "test.yaml:4:40: executors.n.default_sleep_ms: must be between 0 and "
			     "604800000");
}

/* The host's own keys, as plugin.h lists them for plugin authors, are the
 * keys of config.c's tables (jv_config_host_keys), in their order. */
static void t_header_host_keys(void)
{
	/* make check sets top_srcdir; run by hand, find it from this file. */
	const char *top = getenv("top_srcdir");
	char *path =
	    top ? jv_asprintf("%s/include/jobvisor/plugin.h", top)
		: jv_asprintf("%.*s/../include/jobvisor/plugin.h",
			      (int)(strrchr(__FILE__, '/') ? strrchr(__FILE__, '/') - __FILE__ : 1),
			      strrchr(__FILE__, '/') ? __FILE__ : ".");
	FILE *f = fopen(path, "r");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	struct jv_buf file = {0};
	char chunk[4096];
	size_t got;
	while ((got = fread(chunk, 1, sizeof chunk, f)) > 0)
		jv_buf_append(&file, chunk, got);
	fclose(f);
	CU_ASSERT_PTR_NOT_NULL_FATAL(file.data);
	const char *text = file.data;
	const char *from = strstr(text, "besides the host's own:");
	CU_ASSERT_PTR_NOT_NULL_FATAL(from);
	from += strlen("besides the host's own:");
	const char *to = strstr(from, ") with");
	CU_ASSERT_PTR_NOT_NULL_FATAL(to);
	/* The list as one line: comment stars and line breaks gone. */
	struct jv_buf listed = {0};
	for (const char *p = from; p < to; p++) {
		if (*p == '*' || *p == '\t' || *p == '\n' || *p == ' ') {
			if (listed.len && listed.data[listed.len - 1] != ' ')
				jv_buf_puts(&listed, " ");
			continue;
		}
		jv_buf_append(&listed, p, 1);
	}
	struct jv_buf want = {0};
	const enum jv_plugin_section sections[] = {JV_SECTION_EXECUTOR, JV_SECTION_ALERT};
	const char *const names[] = {"executors", "alerts"};
	for (size_t s = 0; s < 2; s++) {
		const char **keys = jv_config_host_keys(sections[s]);
		if (s)
			jv_buf_puts(&want, "; ");
		for (size_t i = 0; keys[i]; i++)
			jv_buf_printf(&want, "%s%s", i ? ", " : "", keys[i]);
		jv_buf_printf(&want, " for %s", names[s]);
		free(keys);
	}
	CU_ASSERT_STRING_EQUAL(listed.data, want.data);
	if (strcmp(listed.data, want.data))
		fprintf(stderr, "plugin.h lists:%s\nthe host's keys:%s\n", listed.data, want.data);
	jv_buf_free(&listed);
	jv_buf_free(&want);
	jv_buf_free(&file);
	free(path);
}

int main(void)
{
	static const struct jv_unit_test tests[] = {
		{"refusals, one line each", t_refusals},
		{"one file, reason to the caller", t_load_file},
		{"file writable by group or others", t_file_writable},
		{"dir writable, missing, not a dir", t_dir_writable},
		{"folders above the dir, links", t_dir_parents},
		{"file owned by another user", t_file_owner},
		{"file names, links, dirs, junk", t_names},
		{"host table complete", t_host_table},
		{"runtime: config errors with their place", t_runtime_errors},
		{"runtime: typed accessors, alerts, logs", t_runtime_ok},
		{"runs: status, output, result, retry, clock", t_run_host},
		{"runs: result limit", t_run_result_limit},
		{"runs: error limit", t_run_error_limit},
		{"noop executor in-process", t_noop},
		{"plugin.h lists the host's own keys", t_header_host_keys},
		{NULL, NULL},
	};
	return jv_unit_run("loader", tests);
}
