/*
 * shell.c -- the executor that runs a program: argv straight to execve(),
 * no shell in between unless the instance allows one.
 *
 * Payload (a JSON object):
 *   command  array of strings, required unless `shell` is given: the program
 *            (an absolute path, no PATH search, no `..` component) and its
 *            arguments
 *   shell    string: run `/bin/sh -c STRING` instead; only with the
 *            instance's allow_shell: true; excludes `command`
 *   env      object of strings: variables for the program (over the
 *            instance's env); names [A-Za-z_][A-Za-z0-9_]*, each admitted
 *            by the instance's allowed_env and none of those that decide
 *            how a program starts (shell_start_vars below)
 *   cwd      string, an absolute path: the working directory (default: the
 *            worker's); a directory that cannot be entered fails for good
 *   stdin    string: written to the program's standard input (default:
 *            /dev/null)
 * Anything else, or a value of the wrong type, fails the job for good.
 *
 * Config keys of an instance:
 *   allowed_commands  list of absolute paths or fnmatch(3) globs (with
 *                     FNM_PATHNAME: `*` does not cross `/`) that command[0]
 *                     must match; absent = any absolute path (a warning is
 *                     logged). Not consulted for `shell`.
 *   allow_shell       bool, default false: accept payload.shell
 *   env               map of strings: variables for every program, over
 *                     the defaults and pass_env
 *   allowed_env       list of names and PREFIX_* entries: the variables a
 *                     payload may set (default: none)
 *   pass_env          list of names and PREFIX_* entries: variables copied
 *                     from the supervisor's environment (default: none)
 *   clear_env         true only, for old configs: the environment is always
 *                     clean now; false is refused (pointing to pass_env)
 *
 * The environment of a program is built, never inherited; later layers
 * win: PATH=/usr/local/bin:/usr/bin:/bin, LANG and TZ when the supervisor
 * has them, HOME, USER and LOGNAME of the account the job runs as; then
 * pass_env; then the instance's env; then the payload's admitted env.
 * Variables the config reads with ${NAME} are gone from the supervisor's
 * environment (the host takes them out), and pass_env may not name one.
 *   max_output_bytes  integer 0..16777216, default 65536: stdout and stderr
 *                     kept in the execution's output (the rest is counted
 *                     and dropped, and a marker line says so)
 *   exit_codes        {retryable: [N...], permanent: [N...]} (1..255): how
 *                     a non-zero exit code ends the attempt. A code listed
 *                     as permanent fails for good, one listed as retryable
 *                     is retried; any other code is retried when there is
 *                     no retryable list, and fails for good when there is.
 *
 * Outcomes: exit 0 succeeds. Exec failure (not found, not executable),
 * a refused command or a bad payload fail for good. Death by a signal,
 * a timeout and cancellation are retried. The result is
 *   {"exit_code": N|null, "signal": "SIGKILL"|null, "duration_ms": N,
 *    "stdout_bytes": N, "stderr_bytes": N, "truncated": bool}
 *
 * Workflows (ABI 1.2):
 *   dependency_results  bool, default true: before the program starts, the
 *                     results of the job's dependencies (host->
 *                     dependency_results: {"KEY": RESULT, ...}, "{}" when it
 *                     has none) are written to a file, mode 0600 in a
 *                     private directory (mode 0700) under $TMPDIR or /tmp,
 *                     named by JOBVISOR_RESULTS_FILE, and removed with its
 *                     directory after the run. It costs one database round
 *                     trip per job (shared by the jobs starting together);
 *                     false skips it (and the variable is not set).
 *   max_value_bytes   integer 0..8388608, default 1048576: a program that
 *                     exits 0 may leave a JSON value (any: object, array,
 *                     scalar) of at most this many bytes in the file named
 *                     by JOBVISOR_VALUE_FILE (in the same kind of private
 *                     directory, not created beforehand); it becomes the
 *                     result's "value". No file, or an empty one: no
 *                     value. Anything else there (not JSON, too large, not
 *                     a regular file, a symbolic link) fails the attempt
 *                     for good, naming what it found. 0: the variable is
 *                     not set, and nothing is read.
 *   Progress: the program may write lines `PERCENT [NOTE]` (an integer
 *   0..100, optionally followed by '%', then an optional note) to file
 *   descriptor 3, named by JOBVISOR_PROGRESS_FD=3; each one goes to
 *   host->progress (stored in jobs.progress/progress_note, the note cut at
 *   JV_PROGRESS_NOTE_MAX characters). A line that does not parse is
 *   ignored, a line longer than SHELL_PROGRESS_LINE_MAX bytes too (read
 *   and dropped up to its newline): the cost is the bytes read, nothing
 *   more. These variables are set after every other layer of the
 *   environment: a payload or the config cannot point them elsewhere.
 *
 * The program runs in its own process group; at the deadline, on
 * cancellation, and once the program itself has exited, the whole group is
 * killed, so nothing it started outlives the job.
 *
 * Thread-safe (isolation: thread): all per-run state lives in the call, and
 * the child does only async-signal-safe work between fork() and execve().
 *
 * Uses nothing but <jobvisor/plugin.h>, jansson and libc (Linux).
 */
#ifdef HAVE_CONFIG_H
#include "autoconf.h"
#define SHELL_VERSION PACKAGE_VERSION
#else
#define SHELL_VERSION "0.1.0"
#endif
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <jobvisor/plugin.h>

#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <jansson.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* POSIX has the application declare environ; glibc does only under _GNU_SOURCE. */
/* NOLINTNEXTLINE(readability-redundant-declaration) */
extern char **environ;

#define SHELL_DEFAULT_MAX_OUTPUT (64 * 1024)
#define SHELL_MAX_MAX_OUTPUT (16 * 1024 * 1024)
#define SHELL_SLICE_MS 100       /* longest single poll() */
#define SHELL_TERM_GRACE_MS 500  /* SIGTERM, then this long, then SIGKILL */
#define SHELL_DRAIN_MAX (1 << 20) /* bytes read after the program exited */
#define SHELL_TAIL 512           /* bytes of stderr kept for the error */
#define SHELL_LINE_MAX 200       /* of the stderr line quoted in the error */
#define SHELL_PROGRESS_FD 3      /* the program's progress descriptor */
#define SHELL_PROGRESS_LINE_MAX 1024 /* bytes of one progress line */
#define SHELL_DEFAULT_MAX_VALUE (1024 * 1024)
/* Half of JV_RESULT_MAX: the value is re-written compact (which can be
 * longer than the program wrote it: 1e2 becomes 100.0) and sits beside
 * the exit code and the byte counts, all within the host's limit. */
#define SHELL_MAX_MAX_VALUE (JV_RESULT_MAX / 2)
#define SHELL_SH "/bin/sh"
#define SHELL_PATH "/usr/local/bin:/usr/bin:/bin"

struct shell {
	const struct jv_host *host;
	struct jv_instance *inst;
	const char *const *allowed; /* owned by the host; NULL = any */
	size_t n_allowed;
	int allow_shell;
	const char *const *allowed_env; /* owned by the host; names and PREFIX* */
	size_t n_allowed_env;
	const char *const *pass_env;    /* owned by the host; names and PREFIX* */
	size_t n_pass_env;
	char **env;                 /* "K=V", NULL-terminated, owned */
	size_t n_env;
	size_t max_output;
	unsigned char code_class[256]; /* CODE_* per exit code */
	int has_retryable;
	int dependency_results;     /* write them to JOBVISOR_RESULTS_FILE */
	size_t max_value;           /* of JOBVISOR_VALUE_FILE; 0: not offered */
};

enum { CODE_DEFAULT = 0, CODE_RETRYABLE = 1, CODE_PERMANENT = 2 };

static const char *const shell_keys[] = {"allowed_commands", "allow_shell", "env",
					 "allowed_env",      "pass_env",    "clear_env",
					 "max_output_bytes", "exit_codes",  "dependency_results",
					 "max_value_bytes", NULL};

/* Variables that decide how a program starts: what the dynamic loader, the
 * C library, a shell or an interpreter loads or runs before the program's
 * own first line, or which program a name finds. A payload never sets
 * one, whatever allowed_env says (the instance's env may). Matched without
 * regard to case (zsh ties `path` to PATH); a trailing '*' is a prefix. */
static const struct {
	const char *pattern;
	const char *what;
} shell_start_vars[] = {
    {"LD_*", "the dynamic loader"},
    /* glibc's list of variables it ignores for setuid programs, but TMPDIR */
    {"GCONV_PATH", "the C library"},
    {"GETCONF_DIR", "the C library"},
    {"GLIBC_TUNABLES", "the C library"},
    {"HOSTALIASES", "the C library"},
    {"LOCALDOMAIN", "the C library"},
    {"LOCPATH", "the C library"},
    {"MALLOC_TRACE", "the C library"},
    {"NIS_PATH", "the C library"},
    {"NLSPATH", "the C library"},
    {"RESOLV_HOST_CONF", "the C library"},
    {"RES_OPTIONS", "the C library"},
    {"TZDIR", "the C library"},
    {"PATH", "which program a name finds"},
    {"SHELL", "which shell other programs run"},
    {"BASH*", "the shell"},
    {"ENV", "the shell"},
    {"SHELLOPTS", "the shell"},
    {"IFS", "the shell"},
    {"CDPATH", "the shell"},
    {"FPATH", "the shell"},
    {"ZDOTDIR", "the shell"},
    {"PS1", "the shell"},
    {"PS2", "the shell"},
    {"PS3", "the shell"},
    {"PS4", "the shell"},
    {"PROMPT_COMMAND", "the shell"},
    {"PERL*", "Perl"},
    {"PYTHON*", "Python"},
    {"NODE_*", "Node.js"},
    {"RUBY*", "Ruby"},
    {"JAVA_TOOL_OPTIONS", "the Java VM"},
    {"_JAVA_OPTIONS", "the Java VM"},
    {"JDK_JAVA_OPTIONS", "the Java VM"},
    {"CLASSPATH", "the Java VM"},
    {"LUA_*", "Lua"},
    {"PHPRC", "PHP"},
    {"PHP_INI_SCAN_DIR", "PHP"},
    {"TCLLIBPATH", "Tcl"},
    {"OPENSSL_*", "OpenSSL, which loads modules it names"},
};

/* ------------------------------------------------------------ helpers */

static int64_t shell_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int shell_env_name_ok(const char *s)
{
	if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || *s == '_'))
		return 0;
	for (s++; *s; s++)
		if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
		      (*s >= '0' && *s <= '9') || *s == '_'))
			return 0;
	return 1;
}

/* Does name match pattern (a name, or a prefix ending in '*')? */
static int shell_name_match(const char *pattern, const char *name, int nocase)
{
	size_t plen = strlen(pattern);
	if (plen && pattern[plen - 1] == '*')
		return nocase ? !strncasecmp(pattern, name, plen - 1)
			      : !strncmp(pattern, name, plen - 1);
	return nocase ? !strcasecmp(pattern, name) : !strcmp(pattern, name);
}

/* What name decides of a program's start (shell_start_vars), or NULL. */
static const char *shell_start_var(const char *name)
{
	for (size_t i = 0; i < sizeof shell_start_vars / sizeof *shell_start_vars; i++)
		if (shell_name_match(shell_start_vars[i].pattern, name, 1))
			return shell_start_vars[i].what;
	return NULL;
}

/* Has path a `..` component? */
static int shell_has_dotdot(const char *path)
{
	for (const char *p = path; (p = strstr(p, "..")) != NULL; p += 2)
		if ((p == path || p[-1] == '/') && (p[2] == '\0' || p[2] == '/'))
			return 1;
	return 0;
}

/* A NULL-terminated growable list of "K=V" strings. */
struct shell_envlist {
	char **v;
	size_t n, cap;
};

static int shell_env_put(struct shell_envlist *l, const char *kv)
{
	size_t klen = strcspn(kv, "=");
	char *copy = strdup(kv);
	if (!copy)
		return -1;
	for (size_t i = 0; i < l->n; i++)
		if (!strncmp(l->v[i], kv, klen) && l->v[i][klen] == '=') {
			free(l->v[i]);
			l->v[i] = copy;
			return 0;
		}
	if (l->n + 2 > l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		char **v = realloc(l->v, cap * sizeof *v);
		if (!v) {
			free(copy);
			return -1;
		}
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n++] = copy;
	l->v[l->n] = NULL;
	return 0;
}

static int shell_env_put_kv(struct shell_envlist *l, const char *k, const char *v)
{
	size_t len = strlen(k) + strlen(v) + 2;
	char *kv = malloc(len);
	if (!kv)
		return -1;
	snprintf(kv, len, "%s=%s", k, v);
	int rc = shell_env_put(l, kv);
	free(kv);
	return rc;
}

static void shell_env_free(struct shell_envlist *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	memset(l, 0, sizeof *l);
}

/* ------------------------------------------------------------ config */

static int shell_read_codes(struct shell *s, json_t *list, const char *which, int cls)
{
	const struct jv_host *h = s->host;
	if (!json_is_array(list))
		return h->config_error(s->inst, "exit_codes", "%s must be a list of exit codes",
				       which);
	size_t i;
	json_t *v;
	json_array_foreach(list, i, v)
	{
		if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > 255)
			return h->config_error(s->inst, "exit_codes",
					       "%s: item %zu must be an exit code from 1 to 255",
					       which, i + 1);
		int code = (int)json_integer_value(v);
		if (s->code_class[code] && s->code_class[code] != cls)
			return h->config_error(s->inst, "exit_codes",
					       "exit code %d is both retryable and permanent", code);
		s->code_class[code] = (unsigned char)cls;
	}
	if (cls == CODE_RETRYABLE)
		s->has_retryable = 1;
	return 0;
}

static int shell_read_exit_codes(struct shell *s)
{
	const struct jv_host *h = s->host;
	const char *text = NULL;
	int rc = h->config_json(s->inst, "exit_codes", &text);
	if (rc == JV_HOST_ENOENT)
		return 0;
	if (rc != 0)
		return rc;
	json_t *o = json_loads(text, JSON_DECODE_ANY, NULL);
	if (!json_is_object(o)) {
		json_decref(o);
		return h->config_error(s->inst, "exit_codes",
				       "must be a map {retryable: [...], permanent: [...]}");
	}
	const char *key;
	json_t *v;
	rc = 0;
	json_object_foreach(o, key, v)
	{
		if (!strcmp(key, "retryable"))
			rc = shell_read_codes(s, v, "retryable", CODE_RETRYABLE);
		else if (!strcmp(key, "permanent"))
			rc = shell_read_codes(s, v, "permanent", CODE_PERMANENT);
		else if (!json_is_null(v))
			rc = h->config_error(s->inst, "exit_codes",
					     "unknown key '%s' (known: retryable, permanent)", key);
		if (rc)
			break;
	}
	json_decref(o);
	return rc;
}

static int shell_read_env(struct shell *s)
{
	const struct jv_host *h = s->host;
	const char *text = NULL;
	int rc = h->config_json(s->inst, "env", &text);
	if (rc == JV_HOST_ENOENT)
		return 0;
	if (rc != 0)
		return rc;
	json_t *o = json_loads(text, JSON_DECODE_ANY, NULL);
	if (!json_is_object(o)) {
		json_decref(o);
		return h->config_error(s->inst, "env", "must be a map of NAME: value");
	}
	struct shell_envlist l = {0};
	const char *key;
	json_t *v;
	rc = 0;
	json_object_foreach(o, key, v)
	{
		if (!shell_env_name_ok(key)) {
			rc = h->config_error(s->inst, "env",
					     "'%.64s' is not a valid variable name "
					     "([A-Za-z_][A-Za-z0-9_]*)",
					     key);
			break;
		}
		if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v)) {
			rc = h->config_error(s->inst, "env",
					     "%s: the value must be a string (quote numbers and "
					     "booleans)",
					     key);
			break;
		}
		if (shell_env_put_kv(&l, key, json_string_value(v)) != 0) {
			h->log(s->inst, JV_LOG_ERROR, "out of memory");
			rc = JV_HOST_ENOMEM;
			break;
		}
	}
	json_decref(o);
	if (rc) {
		shell_env_free(&l);
		return rc;
	}
	s->env = l.v;
	s->n_env = l.n;
	return 0;
}

/* allowed_env or pass_env: a list of names and PREFIX* entries. For
 * allowed_env (payload set), an entry that admits only variables of
 * shell_start_vars is refused: it could never admit anything. */
static int shell_read_names(struct shell *s, const char *key, const char *const **out, size_t *n,
			    int payload)
{
	const struct jv_host *h = s->host;
	int rc = h->config_strings(s->inst, key, out, n);
	if (rc == JV_HOST_ENOENT) {
		*out = NULL;
		*n = 0;
		return 0;
	}
	if (rc != 0)
		return rc;
	for (size_t i = 0; i < *n; i++) {
		const char *e = (*out)[i];
		size_t len = strlen(e);
		int prefix = len > 0 && e[len - 1] == '*';
		char name[128];
		if (len - (size_t)prefix >= sizeof name)
			return h->config_error(s->inst, key, "item %zu is longer than %zu characters",
					       i + 1, sizeof name - 1);
		memcpy(name, e, len - (size_t)prefix);
		name[len - (size_t)prefix] = '\0';
		if (!shell_env_name_ok(name))
			return h->config_error(s->inst, key,
					       "item %zu ('%.64s') must be a variable name "
					       "([A-Za-z_][A-Za-z0-9_]*) or a prefix of one followed "
					       "by '*', such as APP_*",
					       i + 1, e);
		if (!payload)
			continue;
		const char *what = prefix ? NULL : shell_start_var(name);
		for (size_t k = 0; prefix && !what && k < sizeof shell_start_vars /
								 sizeof *shell_start_vars;
		     k++) {
			const char *d = shell_start_vars[k].pattern;
			size_t dlen = strlen(d);
			if (d[dlen - 1] == '*' && !strncasecmp(d, name, dlen - 1))
				what = shell_start_vars[k].what;
		}
		if (what)
			return h->config_error(s->inst, key,
					       "item %zu ('%s') %s how a program starts (%s), "
					       "which a payload may never set; set it under env: if "
					       "every job needs it",
					       i + 1, e,
					       prefix ? "admits only variables that decide"
						      : "is a variable that decides",
					       what);
	}
	return 0;
}

static void shell_destroy(void *state)
{
	struct shell *s = state;
	if (!s)
		return;
	for (size_t i = 0; i < s->n_env; i++)
		free(s->env[i]);
	free(s->env);
	free(s);
}

static int shell_create(const struct jv_host *host, struct jv_instance *inst, void **state)
{
	struct shell *s = calloc(1, sizeof *s);
	if (!s) {
		host->log(inst, JV_LOG_ERROR, "out of memory");
		return JV_HOST_ENOMEM;
	}
	s->host = host;
	s->inst = inst;
	int rc;
	int64_t max_output = SHELL_DEFAULT_MAX_OUTPUT;

	rc = host->config_strings(inst, "allowed_commands", &s->allowed, &s->n_allowed);
	if (rc == JV_HOST_ENOENT) {
		s->allowed = NULL;
		host->log(inst, JV_LOG_WARNING,
			  "allows any command; set allowed_commands to limit what jobs may run");
	} else if (rc != 0) {
		goto fail;
	} else {
		for (size_t i = 0; i < s->n_allowed; i++) {
			const char *a = s->allowed[i];
			if (a[0] != '/') {
				rc = host->config_error(inst, "allowed_commands",
							"item %zu ('%.100s') must be an absolute "
							"path or glob",
							i + 1, a);
				goto fail;
			}
			if (shell_has_dotdot(a)) {
				rc = host->config_error(inst, "allowed_commands",
							"item %zu ('%.100s') must not contain '..'",
							i + 1, a);
				goto fail;
			}
		}
	}
	if ((rc = host->config_bool(inst, "allow_shell", &s->allow_shell)) != 0 &&
	    rc != JV_HOST_ENOENT)
		goto fail;
	s->dependency_results = 1;
	if ((rc = host->config_bool(inst, "dependency_results", &s->dependency_results)) != 0 &&
	    rc != JV_HOST_ENOENT)
		goto fail;
	if (host->abi_minor < 2)
		s->dependency_results = 0; /* (a host before 1.2 has none to give) */
	int clear_env = 1;
	if ((rc = host->config_bool(inst, "clear_env", &clear_env)) != 0 && rc != JV_HOST_ENOENT)
		goto fail;
	if (!clear_env) {
		rc = host->config_error(inst, "clear_env",
					"false is no longer supported: programs start from a clean "
					"environment; list what they need from the supervisor's in "
					"pass_env: [NAME, PREFIX_*]");
		goto fail;
	}
	if ((rc = shell_read_names(s, "allowed_env", &s->allowed_env, &s->n_allowed_env, 1)) != 0)
		goto fail;
	if ((rc = shell_read_names(s, "pass_env", &s->pass_env, &s->n_pass_env, 0)) != 0)
		goto fail;
	if ((rc = host->config_int(inst, "max_output_bytes", &max_output)) != 0 &&
	    rc != JV_HOST_ENOENT)
		goto fail;
	if (max_output < 0 || max_output > SHELL_MAX_MAX_OUTPUT) {
		rc = host->config_error(inst, "max_output_bytes", "must be between 0 and %d",
					SHELL_MAX_MAX_OUTPUT);
		goto fail;
	}
	s->max_output = (size_t)max_output;
	int64_t max_value = SHELL_DEFAULT_MAX_VALUE;
	if ((rc = host->config_int(inst, "max_value_bytes", &max_value)) != 0 &&
	    rc != JV_HOST_ENOENT)
		goto fail;
	if (max_value < 0 || max_value > SHELL_MAX_MAX_VALUE) {
		rc = host->config_error(inst, "max_value_bytes", "must be between 0 and %d",
					SHELL_MAX_MAX_VALUE);
		goto fail;
	}
	s->max_value = (size_t)max_value;
	if ((rc = shell_read_exit_codes(s)) != 0)
		goto fail;
	if ((rc = shell_read_env(s)) != 0)
		goto fail;
	if (s->allow_shell)
		host->log(inst, JV_LOG_INFO, "allow_shell: jobs may run any %s -c command",
			  SHELL_SH);
	*state = s;
	return 0;
fail:
	shell_destroy(s);
	return rc ? rc : JV_HOST_EINVAL;
}

/* ------------------------------------------------------------ environment */

/* HOME, USER and LOGNAME of the account this process runs as (after the
 * supervisor dropped privileges), as login(1) sets them; nothing when the
 * account has no entry. Returns 0, or -1 out of memory. */
static int shell_env_account(struct shell_envlist *l)
{
	struct passwd pw, *found = NULL;
	size_t size = 4096;
	char *buf = NULL;
	int rc;
	do {
		char *nbuf = realloc(buf, size);
		if (!nbuf) {
			free(buf);
			return -1;
		}
		buf = nbuf;
		rc = getpwuid_r(geteuid(), &pw, buf, size, &found);
		size *= 2;
	} while (rc == ERANGE && size <= 1024 * 1024);
	int out = 0;
	if (rc == 0 && found) {
		if (pw.pw_dir && shell_env_put_kv(l, "HOME", pw.pw_dir) != 0)
			out = -1;
		if (pw.pw_name && (shell_env_put_kv(l, "USER", pw.pw_name) != 0 ||
				   shell_env_put_kv(l, "LOGNAME", pw.pw_name) != 0))
			out = -1;
	}
	free(buf);
	return out;
}

/* The environment every program of this instance starts from: PATH, LANG
 * and TZ, the account's HOME, USER and LOGNAME, then pass_env from the
 * supervisor's environment, then the instance's env. The supervisor
 * changes its environment only before it starts a thread, so reading it
 * here (in a worker, or on a thread) races with nothing. Returns 0, or -1
 * out of memory. */
static int shell_env_base(const struct shell *s, struct shell_envlist *l)
{
	static const char *const from_supervisor[] = {"LANG", "TZ"};
	if (shell_env_put_kv(l, "PATH", SHELL_PATH) != 0)
		return -1;
	for (size_t i = 0; i < sizeof from_supervisor / sizeof *from_supervisor; i++) {
		const char *v = getenv(from_supervisor[i]);
		if (v && shell_env_put_kv(l, from_supervisor[i], v) != 0)
			return -1;
	}
	if (shell_env_account(l) != 0)
		return -1;
	for (size_t i = 0; i < s->n_pass_env; i++)
		for (char **e = environ; e && *e; e++) {
			const char *eq = strchr(*e, '=');
			char name[128];
			if (!eq || (size_t)(eq - *e) >= sizeof name)
				continue;
			memcpy(name, *e, (size_t)(eq - *e));
			name[eq - *e] = '\0';
			if (shell_name_match(s->pass_env[i], name, 0) && shell_env_put(l, *e) != 0)
				return -1;
		}
	for (size_t i = 0; i < s->n_env; i++)
		if (shell_env_put(l, s->env[i]) != 0)
			return -1;
	return 0;
}

/* ------------------------------------------------------------ payload */

/* What one run needs, built before fork(); freed by shell_spec_free. */
struct shell_spec {
	char **argv;          /* owned array; strings borrowed from the payload */
	struct shell_envlist env;
	const char *cwd;      /* borrowed, or NULL */
	const char *stdin_data; /* borrowed, or NULL */
	size_t stdin_len;
	const char *value_file; /* JOBVISOR_VALUE_FILE, or NULL */
};

static void shell_spec_free(struct shell_spec *sp)
{
	free(sp->argv);
	shell_env_free(&sp->env);
}

static int shell_known_key(const char *key)
{
	static const char *const keys[] = {"command", "shell", "env", "cwd", "stdin", NULL};
	for (const char *const *k = keys; *k; k++)
		if (!strcmp(*k, key))
			return 1;
	return 0;
}

/* A string without NUL bytes, or NULL. */
static const char *shell_cstr(json_t *v)
{
	if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v))
		return NULL;
	return json_string_value(v);
}

/* Check the payload and build sp. Returns 0, or JV_FAIL with the error set. */
static int shell_parse(const struct shell *s, struct jv_run *run, json_t *p, struct shell_spec *sp)
{
	const struct jv_host *h = s->host;
	if (!json_is_object(p)) {
		h->error(run, "shell: payload must be a JSON object like {\"command\": "
			      "[\"/path/prog\", \"arg\"]}");
		return JV_FAIL;
	}
	const char *key;
	json_t *v;
	json_object_foreach(p, key, v)
	{
		if (!shell_known_key(key)) {
			h->error(run, "shell: unknown payload key '%.64s' (known: command, shell, "
				      "env, cwd, stdin)",
				 key);
			return JV_FAIL;
		}
	}
	json_t *cmd = json_object_get(p, "command");
	json_t *sh = json_object_get(p, "shell");
	if (cmd && sh) {
		h->error(run, "shell: payload.command and payload.shell exclude each other");
		return JV_FAIL;
	}
	if (sh) {
		if (!s->allow_shell) {
			h->error(run, "shell: payload.shell is refused: executor '%s' does not set "
				      "allow_shell: true (give payload.command instead)",
				 h->instance_name(s->inst));
			return JV_FAIL;
		}
		const char *str = shell_cstr(sh);
		if (!str) {
			h->error(run, "shell: payload.shell must be a string (without NUL bytes)");
			return JV_FAIL;
		}
		sp->argv = calloc(4, sizeof *sp->argv);
		if (!sp->argv)
			goto oom;
		sp->argv[0] = (char *)SHELL_SH;
		sp->argv[1] = (char *)"-c";
		sp->argv[2] = (char *)str;
	} else {
		if (!cmd) {
			h->error(run, "shell: payload.command is required: an array like "
				      "[\"/path/prog\", \"arg\"]");
			return JV_FAIL;
		}
		if (!json_is_array(cmd) || json_array_size(cmd) == 0) {
			h->error(run, "shell: payload.command must be a non-empty array of strings");
			return JV_FAIL;
		}
		size_t n = json_array_size(cmd);
		sp->argv = calloc(n + 1, sizeof *sp->argv);
		if (!sp->argv)
			goto oom;
		for (size_t i = 0; i < n; i++) {
			const char *a = shell_cstr(json_array_get(cmd, i));
			if (!a) {
				h->error(run, "shell: payload.command[%zu] must be a string (without "
					      "NUL bytes)",
					 i);
				return JV_FAIL;
			}
			sp->argv[i] = (char *)a;
		}
		const char *prog = sp->argv[0];
		/* command has at least one element, checked above. */
		/* NOLINTNEXTLINE(clang-analyzer-core.NullDereference) */
		if (prog[0] != '/') {
			h->error(run, "shell: payload.command[0] must be an absolute path, not "
				      "'%.100s' (no PATH search)",
				 prog);
			return JV_FAIL;
		}
		if (shell_has_dotdot(prog)) {
			h->error(run, "shell: payload.command[0] must not contain '..': '%.100s'",
				 prog);
			return JV_FAIL;
		}
		if (s->allowed) {
			size_t i;
			for (i = 0; i < s->n_allowed; i++)
				if (fnmatch(s->allowed[i], prog, FNM_PATHNAME) == 0)
					break;
			if (i == s->n_allowed) {
				h->error(run, "shell: command '%.200s' is not in allowed_commands of "
					      "executor '%s'",
					 prog, h->instance_name(s->inst));
				return JV_FAIL;
			}
		}
	}

	if ((v = json_object_get(p, "cwd")) != NULL) {
		sp->cwd = shell_cstr(v);
		if (!sp->cwd || sp->cwd[0] != '/') {
			h->error(run, "shell: payload.cwd must be an absolute path (a string)");
			return JV_FAIL;
		}
	}
	if ((v = json_object_get(p, "stdin")) != NULL) {
		if (!json_is_string(v)) {
			h->error(run, "shell: payload.stdin must be a string");
			return JV_FAIL;
		}
		sp->stdin_data = json_string_value(v);
		sp->stdin_len = json_string_length(v);
	}

	/* The environment, built (never inherited); the later wins. */
	if (shell_env_base(s, &sp->env) != 0)
		goto oom;
	json_t *env = json_object_get(p, "env");
	if (env && !json_is_null(env)) {
		if (!json_is_object(env)) {
			h->error(run, "shell: payload.env must be an object of NAME: \"value\"");
			return JV_FAIL;
		}
		json_object_foreach(env, key, v)
		{
			if (!shell_env_name_ok(key)) {
				h->error(run, "shell: payload.env: '%.64s' is not a valid variable "
					      "name ([A-Za-z_][A-Za-z0-9_]*)",
					 key);
				return JV_FAIL;
			}
			const char *val = shell_cstr(v);
			if (!val) {
				h->error(run, "shell: payload.env.%.64s must be a string", key);
				return JV_FAIL;
			}
			const char *what = shell_start_var(key);
			if (what) {
				h->error(run, "shell: payload.env.%.64s is refused: it decides how a "
					      "program starts (%s), which a payload never may",
					 key, what);
				return JV_FAIL;
			}
			size_t i;
			for (i = 0; i < s->n_allowed_env; i++)
				if (shell_name_match(s->allowed_env[i], key, 0))
					break;
			if (i == s->n_allowed_env) {
				h->error(run, "shell: payload.env.%.64s is refused: it is not in "
					      "allowed_env of executor '%s'",
					 key, h->instance_name(s->inst));
				return JV_FAIL;
			}
			if (shell_env_put_kv(&sp->env, key, val) != 0)
				goto oom;
		}
	}
	return 0;
oom:
	h->error(run, "shell: out of memory");
	return JV_RETRY;
}

/* ------------------------------------------------------------ the child */

/* What the child reports through its close-on-exec pipe before _exit. */
struct shell_child_err {
	int stage; /* SHELL_STAGE_* */
	int err;   /* errno */
};

enum { SHELL_STAGE_SETUP = 1, SHELL_STAGE_CHDIR = 2, SHELL_STAGE_EXEC = 3 };

/* Between fork() and execve(): async-signal-safe calls only. */
static void shell_child(const struct shell_spec *sp, pid_t parent, int in_fd, int out_fd,
			int err_fd, int prog_fd, int report_fd)
{
	struct shell_child_err ce = {SHELL_STAGE_SETUP, 0};
	setpgid(0, 0);
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(127);
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = SIG_DFL;
	for (int sig = 1; sig < NSIG; sig++)
		sigaction(sig, &sa, NULL); /* fails harmlessly for KILL, STOP, RT internals */
	if (in_fd < 0)
		in_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	/* Lift every descriptor we keep above SHELL_PROGRESS_FD first, so
	 * that the dup2()s below cannot clobber one another whatever numbers
	 * the pipes got. */
	int low = SHELL_PROGRESS_FD + 1;
	int rep = fcntl(report_fd, F_DUPFD_CLOEXEC, low);
	int a = fcntl(in_fd, F_DUPFD, low), b = fcntl(out_fd, F_DUPFD, low),
	    c = fcntl(err_fd, F_DUPFD, low), d = fcntl(prog_fd, F_DUPFD, low);
	if (rep < 0 || in_fd < 0 || a < 0 || b < 0 || c < 0 || d < 0 || dup2(a, 0) < 0 ||
	    dup2(b, 1) < 0 || dup2(c, 2) < 0 || dup2(d, SHELL_PROGRESS_FD) < 0)
		goto fail;
	report_fd = rep;
	/* Every other descriptor goes, but the report pipe (close-on-exec). */
	if (report_fd > low)
		close_range((unsigned)low, (unsigned)report_fd - 1, 0);
	close_range((unsigned)report_fd + 1, ~0U, 0);
	if (sp->cwd && chdir(sp->cwd) != 0) {
		ce.stage = SHELL_STAGE_CHDIR;
		goto fail;
	}
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	execve(sp->argv[0], sp->argv, sp->env.v);
	ce.stage = SHELL_STAGE_EXEC;
fail:
	ce.err = errno;
	if (write(report_fd, &ce, sizeof ce) < 0) {
		/* nothing left to tell it with */
	}
	_exit(ce.err == ENOENT ? 127 : 126);
}

/* ------------------------------------------------------------ the parent */

/* One run's state, on execute()'s stack. */
struct shell_run {
	const struct shell *s;
	struct jv_run *run;
	pid_t pid;
	int out_fd, err_fd, in_fd, report_fd;
	int pid_fd;                    /* pidfd of the child: readable once it exits */
	int prog_fd;                   /* the read end of the program's progress pipe */
	char pline[SHELL_PROGRESS_LINE_MAX + 1]; /* the progress line being read */
	size_t pline_len;
	int pline_skip;                /* the line is too long: dropped up to its newline */
	uint64_t prog_lines, prog_bad; /* progress lines read, and those ignored */
	size_t in_off;
	const char *in_data;
	size_t in_len;
	uint64_t out_bytes, err_bytes; /* everything read */
	size_t kept;                   /* bytes given to host->output */
	uint64_t dropped;
	char last;                     /* last byte kept, for the marker */
	char tail[SHELL_TAIL];         /* the end of stderr, a ring */
	size_t tail_len, tail_pos;
	char buf[65536];
};

static void shell_close(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* Pass a chunk on to the output, within max_output. */
static void shell_keep(struct shell_run *r, char *data, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (data[i] == '\0')
			data[i] = '?'; /* the output is text: no NULs in it */
	size_t room = r->s->max_output > r->kept ? r->s->max_output - r->kept : 0;
	if (r->dropped)
		room = 0;
	size_t keep = len < room ? len : room;
	/* cppcheck-suppress knownConditionTrueFalse ; 2.10 misreads x = a < b ? a : b */
	if (keep < len)
		while (keep > 0 && ((unsigned char)data[keep] & 0xC0) == 0x80)
			keep--; /* cut at a UTF-8 character boundary */
	if (keep) {
		r->s->host->output(r->run, data, keep);
		r->kept += keep;
		r->last = data[keep - 1];
	}
	r->dropped += len - keep;
}

static void shell_tail(struct shell_run *r, const char *data, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		r->tail[r->tail_pos] = data[i];
		r->tail_pos = (r->tail_pos + 1) % SHELL_TAIL;
		if (r->tail_len < SHELL_TAIL)
			r->tail_len++;
	}
}

/* Read what fd has now. Returns bytes read, 0 at EOF (fd closed), -1 when
 * nothing is there. */
static ssize_t shell_read(struct shell_run *r, int *fd, int is_err)
{
	ssize_t n;
	do
		n = read(*fd, r->buf, sizeof r->buf);
	while (n < 0 && errno == EINTR);
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
		shell_close(fd);
		return 0;
	}
	if (n < 0)
		return -1;
	if (is_err) {
		r->err_bytes += (uint64_t)n;
		shell_tail(r, r->buf, (size_t)n);
	} else {
		r->out_bytes += (uint64_t)n;
	}
	shell_keep(r, r->buf, (size_t)n);
	return n;
}

/* write(), without a SIGPIPE for this process (a worker dies of one) when
 * the program closed its stdin: SIGPIPE is blocked in this thread around
 * the write, and one it raised is taken back before unblocking. */
static ssize_t shell_write_nosig(int fd, const char *data, size_t len)
{
	sigset_t pipe_set, old, pending;
	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	sigpending(&pending);
	int was_pending = sigismember(&pending, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
	ssize_t n = write(fd, data, len);
	int saved = errno;
	if (n < 0 && errno == EPIPE && !was_pending) {
		struct timespec zero = {0, 0};
		while (sigtimedwait(&pipe_set, NULL, &zero) < 0 && errno == EINTR)
			;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	errno = saved;
	return n;
}

/* Write what the pipe takes of stdin; close it when all is written. */
static void shell_write_stdin(struct shell_run *r)
{
	while (r->in_fd >= 0 && r->in_off < r->in_len) {
		ssize_t n = shell_write_nosig(r->in_fd, r->in_data + r->in_off,
					      r->in_len - r->in_off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				shell_close(&r->in_fd); /* EPIPE: it does not want more */
			return;
		}
		r->in_off += (size_t)n;
	}
	if (r->in_off >= r->in_len)
		shell_close(&r->in_fd);
}

/* One whole progress line: `PERCENT[%] [NOTE]`, else ignored. */
static void shell_progress_line(struct shell_run *r, char *line)
{
	r->prog_lines++;
	char *p = line;
	while (*p == ' ' || *p == '\t')
		p++;
	int percent = 0, digits = 0;
	while (*p >= '0' && *p <= '9' && digits < 4) {
		percent = percent * 10 + (*p++ - '0');
		digits++;
	}
	if (*p == '%')
		p++;
	if (digits == 0 || percent > 100 || (*p && *p != ' ' && *p != '\t' && *p != '\r')) {
		r->prog_bad++;
		return;
	}
	while (*p == ' ' || *p == '\t')
		p++;
	size_t n = strlen(p);
	while (n > 0 && (p[n - 1] == '\r' || p[n - 1] == ' ' || p[n - 1] == '\t'))
		p[--n] = '\0';
	/* (the host cuts the note and makes it clean text) */
	if (r->s->host->abi_minor >= 2)
		r->s->host->progress(r->run, percent, n ? p : NULL);
}

/* Read what the progress pipe has now; each complete line is handled.
 * Returns bytes read, 0 at EOF, -1 when nothing is there. */
static ssize_t shell_read_progress(struct shell_run *r)
{
	ssize_t n;
	do
		n = read(r->prog_fd, r->buf, sizeof r->buf);
	while (n < 0 && errno == EINTR);
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
		shell_close(&r->prog_fd);
		if (r->pline_len > 0 && !r->pline_skip) { /* the last line, unended */
			r->pline[r->pline_len] = '\0';
			shell_progress_line(r, r->pline);
		}
		r->pline_len = 0;
		return 0;
	}
	if (n < 0)
		return -1;
	for (ssize_t i = 0; i < n; i++) {
		char ch = r->buf[i];
		if (ch == '\n') {
			if (!r->pline_skip) {
				r->pline[r->pline_len] = '\0';
				shell_progress_line(r, r->pline);
			} else {
				r->prog_lines++;
				r->prog_bad++;
			}
			r->pline_len = 0;
			r->pline_skip = 0;
		} else if (r->pline_skip) {
			continue;
		} else if (r->pline_len == SHELL_PROGRESS_LINE_MAX || ch == '\0') {
			r->pline_skip = 1;
		} else {
			r->pline[r->pline_len++] = ch;
		}
	}
	return n;
}

/* Poll the pipes for at most ms and handle what is ready. */
static void shell_pump(struct shell_run *r, int ms)
{
	struct pollfd pfd[5];
	int n = 0, io = -1, ie = -1, ii = -1, ip = -1;
	if (r->pid_fd >= 0)
		pfd[n++] = (struct pollfd){r->pid_fd, POLLIN, 0};
	if (r->out_fd >= 0) {
		io = n;
		pfd[n++] = (struct pollfd){r->out_fd, POLLIN, 0};
	}
	if (r->err_fd >= 0) {
		ie = n;
		pfd[n++] = (struct pollfd){r->err_fd, POLLIN, 0};
	}
	if (r->in_fd >= 0) {
		ii = n;
		pfd[n++] = (struct pollfd){r->in_fd, POLLOUT, 0};
	}
	if (r->prog_fd >= 0) {
		ip = n;
		pfd[n++] = (struct pollfd){r->prog_fd, POLLIN, 0};
	}
	if (n == 0) {
		struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
		nanosleep(&ts, NULL);
		return;
	}
	if (poll(pfd, (nfds_t)n, ms) <= 0)
		return;
	if (io >= 0 && pfd[io].revents)
		shell_read(r, &r->out_fd, 0);
	if (ie >= 0 && pfd[ie].revents)
		shell_read(r, &r->err_fd, 1);
	if (ip >= 0 && pfd[ip].revents)
		shell_read_progress(r);
	if (ii >= 0 && pfd[ii].revents) {
		if (pfd[ii].revents & (POLLERR | POLLHUP))
			shell_close(&r->in_fd);
		else
			shell_write_stdin(r);
	}
}

/* Has the child ended? Leaves it a zombie (its pid, and so its process
 * group id, stay taken) until shell_reap. */
static int shell_exited(const struct shell_run *r)
{
	siginfo_t si;
	memset(&si, 0, sizeof si);
	int rc;
	do
		rc = waitid(P_PID, (id_t)r->pid, &si, WEXITED | WNOHANG | WNOWAIT);
	while (rc < 0 && errno == EINTR);
	return rc < 0 || si.si_pid == r->pid;
}

/* Reap the child: its wait status, or -1 when it was not ours to reap
 * (someone else waited for it, or SIGCHLD is ignored). */
static int shell_reap(const struct shell_run *r)
{
	int status = 0;
	pid_t got;
	do
		got = waitpid(r->pid, &status, 0);
	while (got < 0 && errno == EINTR);
	return got == r->pid ? status : -1;
}

/* Read what is left in the pipes, without waiting for EOF (a background
 * grandchild may hold them open), and within SHELL_DRAIN_MAX. */
static void shell_drain(struct shell_run *r)
{
	size_t total = 0;
	ssize_t n;
	while (r->out_fd >= 0 && total < SHELL_DRAIN_MAX && (n = shell_read(r, &r->out_fd, 0)) > 0)
		total += (size_t)n;
	while (r->err_fd >= 0 && total < SHELL_DRAIN_MAX && (n = shell_read(r, &r->err_fd, 1)) > 0)
		total += (size_t)n;
	while (r->prog_fd >= 0 && total < SHELL_DRAIN_MAX && (n = shell_read_progress(r)) > 0)
		total += (size_t)n;
}

/* The last non-empty line of stderr, trimmed and bounded, into out. */
static void shell_last_line(const struct shell_run *r, char *out, size_t size)
{
	char t[SHELL_TAIL + 1];
	size_t start = r->tail_len < SHELL_TAIL ? 0 : r->tail_pos;
	for (size_t i = 0; i < r->tail_len; i++)
		t[i] = r->tail[(start + i) % SHELL_TAIL];
	t[r->tail_len] = '\0';
	size_t end = r->tail_len;
	while (end > 0 && (unsigned char)t[end - 1] <= ' ')
		end--;
	t[end] = '\0';
	size_t b = end;
	while (b > 0 && t[b - 1] != '\n' && t[b - 1] != '\r')
		b--;
	while (t[b] == ' ' || t[b] == '\t')
		b++;
	for (char *c = t + b; *c; c++)
		if ((unsigned char)*c < ' ')
			*c = ' ';
	if (strlen(t + b) > SHELL_LINE_MAX) {
		size_t cut = SHELL_LINE_MAX;
		/* t[b + cut] is within the strlen checked above. */
		/* NOLINTNEXTLINE(clang-analyzer-core.UndefinedBinaryOperatorResult) */
		while (cut > 0 && ((unsigned char)t[b + cut] & 0xC0) == 0x80)
			cut--;
		snprintf(out, size, "%.*s...", (int)cut, t + b);
	} else {
		snprintf(out, size, "%s", t + b);
	}
}

static const char *shell_signame(int sig, char *buf, size_t size)
{
	const char *abbrev = sigabbrev_np(sig);
	if (abbrev)
		snprintf(buf, size, "SIG%s", abbrev);
	else
		snprintf(buf, size, "SIG%d", sig);
	return buf;
}

/*
 * The JSON value the program left in its JOBVISOR_VALUE_FILE: 0 with
 * *value NULL when it left none (no file, or an empty one), 0 with the
 * value, or JV_FAIL with the error set when the file holds anything else:
 * not a regular file (a FIFO would block this read for good), a symbolic
 * link (the program does not choose what the supervisor reads), more than
 * max_value_bytes, or not JSON.
 */
static int shell_value_read(const struct shell *s, struct jv_run *run, const char *path,
			    json_t **value)
{
	const struct jv_host *h = s->host;
	*value = NULL;
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return 0;
		h->error(run, "shell: cannot read JOBVISOR_VALUE_FILE: %s",
			 errno == ELOOP ? "it is a symbolic link" : strerror(errno));
		return JV_FAIL;
	}
	struct stat st;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		h->error(run, "shell: JOBVISOR_VALUE_FILE is not a regular file");
		close(fd);
		return JV_FAIL;
	}
	/* At most one byte past the limit: the file may still grow (something
	 * the program left behind), and its size is only a hint. */
	size_t cap = s->max_value + 1, len = 0;
	char *buf = malloc(cap);
	while (buf && len < cap) {
		ssize_t n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	int rc = 0;
	if (!buf) {
		h->error(run, "shell: out of memory reading JOBVISOR_VALUE_FILE");
		rc = JV_FAIL;
	} else if (len > s->max_value) {
		h->error(run, "shell: JOBVISOR_VALUE_FILE holds more than max_value_bytes (%zu bytes)",
			 s->max_value);
		rc = JV_FAIL;
	} else if (len > 0) {
		json_error_t e;
		*value = json_loadb(buf, len, JSON_DECODE_ANY, &e);
		if (!*value) {
			h->error(run, "shell: JOBVISOR_VALUE_FILE is not JSON: %s (line %d, column %d)",
				 e.text, e.line, e.column);
			rc = JV_FAIL;
		}
	}
	free(buf);
	return rc;
}

/* The run's result: the exit status, the byte counts, and the value the
 * program left (a reference taken), when it did. Returns the host's
 * answer (0, or JV_HOST_ERANGE and the like). */
static int shell_set_result(struct shell_run *r, int status, int64_t duration_ms, json_t *value)
{
	char sigbuf[32];
	json_t *code = WIFEXITED(status) ? json_integer(WEXITSTATUS(status)) : json_null();
	json_t *sig = WIFSIGNALED(status)
			      ? json_string(shell_signame(WTERMSIG(status), sigbuf, sizeof sigbuf))
			      : json_null();
	json_t *o = json_pack("{s:o, s:o, s:I, s:I, s:I, s:b}", "exit_code", code, "signal", sig,
			      "duration_ms", (json_int_t)duration_ms, "stdout_bytes",
			      (json_int_t)r->out_bytes, "stderr_bytes", (json_int_t)r->err_bytes,
			      "truncated", r->dropped > 0);
	if (o && value)
		json_object_set(o, "value", value);
	char *text = o ? json_dumps(o, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
	int rc = text ? r->s->host->result_json(r->run, text) : JV_HOST_ENOMEM;
	free(text);
	json_decref(o);
	return rc;
}

/* Stop the group: SIGTERM, up to SHELL_TERM_GRACE_MS for the leader to go
 * (reading output meanwhile), then SIGKILL. Returns the wait status. */
static int shell_stop(struct shell_run *r)
{
	kill(-r->pid, SIGTERM);
	int64_t until = shell_now_ms() + SHELL_TERM_GRACE_MS;
	while (!shell_exited(r)) {
		int64_t left = until - shell_now_ms();
		if (left <= 0)
			break;
		shell_pump(r, left < 20 ? (int)left : 20);
	}
	shell_drain(r);
	kill(-r->pid, SIGKILL);
	return shell_reap(r);
}

static int shell_spawn_and_wait(const struct shell *s, const struct jv_job *job,
				struct jv_run *run, const struct shell_spec *sp)
{
	const struct jv_host *h = s->host;
	struct shell_run *r = calloc(1, sizeof *r);
	if (!r) {
		h->error(run, "shell: out of memory");
		return JV_RETRY;
	}
	r->s = s;
	r->run = run;
	r->out_fd = r->err_fd = r->in_fd = r->report_fd = r->pid_fd = r->prog_fd = -1;
	r->in_data = sp->stdin_data;
	r->in_len = sp->stdin_len;

	int po[2] = {-1, -1}, pe[2] = {-1, -1}, pi[2] = {-1, -1}, pr[2] = {-1, -1};
	int pg[2] = {-1, -1};
	int rc = JV_RETRY;
	if (pipe2(po, O_CLOEXEC) || pipe2(pe, O_CLOEXEC) || pipe2(pr, O_CLOEXEC) ||
	    pipe2(pg, O_CLOEXEC) ||
	    (sp->stdin_data && pipe2(pi, O_CLOEXEC))) {
		h->error(run, "shell: pipe: %s", strerror(errno));
		goto out;
	}
	/* Signals stay blocked across fork() so that no handler of this
	 * process runs in the child before it reset them. */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	pid_t parent = getpid();
	int64_t t0 = shell_now_ms();
	pid_t pid = fork();
	if (pid == 0)
		shell_child(sp, parent, pi[0], po[1], pe[1], pg[1], pr[1]);
	int fork_errno = errno;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (pid < 0) {
		h->error(run, "shell: fork: %s", strerror(fork_errno));
		goto out;
	}
	setpgid(pid, pid); /* also done in the child: whichever runs first */
	r->pid = pid;
	r->pid_fd = pidfd_open(pid, 0); /* -1 (old kernel): poll in slices */
	shell_close(&po[1]);
	shell_close(&pe[1]);
	shell_close(&pr[1]);
	shell_close(&pi[0]);
	shell_close(&pg[1]);
	r->prog_fd = pg[0];
	pg[0] = -1;
	fcntl(r->prog_fd, F_SETFL, O_NONBLOCK);
	r->out_fd = po[0];
	r->err_fd = pe[0];
	r->report_fd = pr[0];
	r->in_fd = pi[1];
	po[0] = pe[0] = pr[0] = pi[1] = -1;
	fcntl(r->out_fd, F_SETFL, O_NONBLOCK);
	fcntl(r->err_fd, F_SETFL, O_NONBLOCK);
	fcntl(r->report_fd, F_SETFL, O_NONBLOCK);
	if (r->in_fd >= 0)
		fcntl(r->in_fd, F_SETFL, O_NONBLOCK);
	if (r->in_fd >= 0 && r->in_len == 0)
		shell_close(&r->in_fd);
	h->log(s->inst, JV_LOG_DEBUG, "job %lld: started %s as pid %d", (long long)job->id,
	       sp->argv[0], (int)pid);

	int status = 0, stopped = 0;
	for (;;) {
		if (shell_exited(r)) {
			shell_drain(r);
			kill(-pid, SIGKILL); /* what it left behind in its group */
			status = shell_reap(r);
			break;
		}
		if (h->cancelled(run)) {
			/* The supervisor's clock for the deadline starts a little
			 * before ours: a stop this close to it is the timeout. */
			stopped = h->remaining_ms(run) < SHELL_SLICE_MS ? 1 : 2;
			status = shell_stop(r);
			break;
		}
		int64_t left = h->remaining_ms(run);
		shell_pump(r, left < SHELL_SLICE_MS ? (int)left : SHELL_SLICE_MS);
	}
	int64_t duration = shell_now_ms() - t0;
	if (r->prog_bad > 0)
		h->log(s->inst, JV_LOG_DEBUG,
		       "job %lld: %llu of %llu progress lines ignored (not `PERCENT [NOTE]`, "
		       "PERCENT 0..100, at most %d bytes)",
		       (long long)job->id, (unsigned long long)r->prog_bad,
		       (unsigned long long)r->prog_lines, SHELL_PROGRESS_LINE_MAX);

	struct shell_child_err ce = {0, 0};
	ssize_t got = read(r->report_fd, &ce, sizeof ce);
	if (r->dropped) {
		char marker[96];
		int len = snprintf(marker, sizeof marker,
				   "%s[shell: output truncated, %llu bytes dropped]\n",
				   r->kept && r->last != '\n' ? "\n" : "",
				   (unsigned long long)r->dropped);
		h->output(run, marker, (size_t)len);
	}
	/* The value counts only when the program itself ended well. */
	json_t *value = NULL;
	int bad_value = 0;
	if (sp->value_file && status != -1 && !stopped && WIFEXITED(status) &&
	    WEXITSTATUS(status) == 0 && !(got == (ssize_t)sizeof ce && ce.stage))
		bad_value = shell_value_read(s, run, sp->value_file, &value) != 0;
	int set = status != -1 ? shell_set_result(r, status, duration, value) : 0;
	if (set != 0 && value) {
		if (set == JV_HOST_ERANGE)
			h->error(run, "shell: the result with its value is larger than %d bytes",
				 JV_RESULT_MAX);
		else
			h->error(run, "shell: could not store the result with its value (error %d)",
				 set);
		bad_value = 1;
	}
	json_decref(value);

	char line[SHELL_LINE_MAX + 8];
	shell_last_line(r, line, sizeof line);
	const char *sep = line[0] ? ": " : "";
	if (status == -1) {
		h->error(run, "shell: lost the exit status of pid %d (was it reaped elsewhere, or "
			      "is SIGCHLD ignored?)",
			 (int)pid);
		rc = JV_RETRY;
	} else if (got == (ssize_t)sizeof ce && ce.stage) {
		if (ce.stage == SHELL_STAGE_CHDIR)
			h->error(run, "shell: cannot change directory to %s: %s", sp->cwd,
				 strerror(ce.err));
		else if (ce.stage == SHELL_STAGE_EXEC)
			h->error(run, "shell: cannot execute %s: %s", sp->argv[0],
				 strerror(ce.err));
		else
			h->error(run, "shell: cannot set up the child process: %s",
				 strerror(ce.err));
		rc = ce.stage == SHELL_STAGE_SETUP ? JV_RETRY : JV_FAIL;
	} else if (stopped == 1) {
		h->error(run, "shell: timed out: killed process group %d after %lld ms", (int)pid,
			 (long long)duration);
		rc = JV_RETRY;
	} else if (stopped == 2) {
		h->error(run, "shell: cancelled: killed process group %d after %lld ms", (int)pid,
			 (long long)duration);
		rc = JV_RETRY;
	} else if (WIFSIGNALED(status)) {
		char sigbuf[32];
		int sig = WTERMSIG(status);
		h->error(run, "shell: %s killed by signal %d (%s)%s%s", sp->argv[0], sig,
			 shell_signame(sig, sigbuf, sizeof sigbuf), sep, line);
		rc = JV_RETRY;
	} else if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		rc = bad_value ? JV_FAIL : JV_SUCCESS;
	} else {
		int code = WEXITSTATUS(status);
		int cls = s->code_class[code];
		if (cls == CODE_DEFAULT)
			cls = s->has_retryable ? CODE_PERMANENT : CODE_RETRYABLE;
		const char *why = s->code_class[code] == CODE_PERMANENT   ? " (exit_codes.permanent)"
				  : s->code_class[code] == CODE_RETRYABLE ? " (exit_codes.retryable)"
				  : cls == CODE_PERMANENT ? " (not in exit_codes.retryable)"
							  : "";
		h->error(run, "shell: %s exited with code %d%s%s%s", sp->argv[0], code, why, sep,
			 line);
		rc = cls == CODE_PERMANENT ? JV_FAIL : JV_RETRY;
	}
out:
	shell_close(&po[0]);
	shell_close(&po[1]);
	shell_close(&pe[0]);
	shell_close(&pe[1]);
	shell_close(&pi[0]);
	shell_close(&pi[1]);
	shell_close(&pr[0]);
	shell_close(&pr[1]);
	shell_close(&pg[0]);
	shell_close(&pg[1]);
	shell_close(&r->prog_fd);
	shell_close(&r->out_fd);
	shell_close(&r->err_fd);
	shell_close(&r->in_fd);
	shell_close(&r->report_fd);
	shell_close(&r->pid_fd);
	free(r);
	return rc;
}

/* The private directory of one run, with the file of its dependencies'
 * results and the name offered for its own value. */
struct shell_results {
	char dir[512];
	char file[600];
	char value_file[600];
};

/* Make the run's private directory (mode 0700, under $TMPDIR or /tmp) if
 * it has none yet. 0, or JV_RETRY with the error set. */
static int shell_private_dir(const struct shell *s, struct jv_run *run,
			     struct shell_results *res)
{
	if (res->dir[0])
		return 0;
	const char *tmp = getenv("TMPDIR");
	if (!tmp || tmp[0] != '/' || strlen(tmp) > 300)
		tmp = "/tmp";
	snprintf(res->dir, sizeof res->dir, "%s/jobvisor-results.XXXXXX", tmp);
	if (!mkdtemp(res->dir)) {
		s->host->error(run, "shell: cannot make a private directory for the job in %s: %s",
			       tmp, strerror(errno));
		res->dir[0] = '\0';
		return JV_RETRY;
	}
	return 0;
}

/*
 * Fetch the job's dependencies' results and write them to a file of their
 * own, mode 0600 in a fresh directory of mode 0700, named in the program's
 * environment (JOBVISOR_RESULTS_FILE). Returns 0, or a status to end the
 * run with (the error set).
 */
static int shell_results_write(const struct shell *s, struct jv_run *run, struct shell_spec *sp,
			       struct shell_results *res)
{
	const struct jv_host *h = s->host;
	const char *json = NULL;
	int rc = h->dependency_results(run, &json);
	if (rc == JV_HOST_ENOENT)
		return 0; /* not a job's run: nothing to give */
	if (rc == JV_HOST_ERANGE) {
		h->error(run, "shell: the results of this job's dependencies are larger than %d "
			      "bytes",
			 JV_DEPENDENCY_RESULTS_MAX);
		return JV_FAIL;
	}
	if (rc != 0) {
		h->error(run, "shell: could not get the results of this job's dependencies "
			      "(error %d); retrying",
			 rc);
		return JV_RETRY;
	}
	if ((rc = shell_private_dir(s, run, res)) != 0)
		return rc;
	snprintf(res->file, sizeof res->file, "%s/results.json", res->dir);
	int fd = open(res->file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	size_t len = strlen(json), off = 0;
	while (fd >= 0 && off < len) {
		ssize_t n = write(fd, json + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	int saved = errno;
	if (fd < 0 || off < len || close(fd) != 0) {
		h->error(run, "shell: cannot write the dependency results to %s: %s", res->file,
			 strerror(fd < 0 || off < len ? saved : errno));
		return JV_RETRY;
	}
	if (shell_env_put_kv(&sp->env, "JOBVISOR_RESULTS_FILE", res->file) != 0) {
		h->error(run, "shell: out of memory");
		return JV_RETRY;
	}
	return 0;
}

/* Offer the program JOBVISOR_VALUE_FILE: a name in the private
 * directory, not created (the program's to write). 0, or JV_RETRY. */
static int shell_value_offer(const struct shell *s, struct jv_run *run, struct shell_spec *sp,
			     struct shell_results *res)
{
	int rc = shell_private_dir(s, run, res);
	if (rc != 0)
		return rc;
	snprintf(res->value_file, sizeof res->value_file, "%s/value.json", res->dir);
	if (shell_env_put_kv(&sp->env, "JOBVISOR_VALUE_FILE", res->value_file) != 0) {
		s->host->error(run, "shell: out of memory");
		return JV_RETRY;
	}
	sp->value_file = res->value_file;
	return 0;
}

/* Remove the run's files and its directory. What else the program left
 * there stays, and so does the directory then (its name is random, its
 * mode 0700). */
static void shell_results_remove(struct shell_results *res)
{
	if (res->file[0])
		unlink(res->file);
	if (res->value_file[0])
		unlink(res->value_file);
	if (res->dir[0])
		rmdir(res->dir);
}

static int shell_execute(void *state, const struct jv_job *job, struct jv_run *run)
{
	const struct shell *s = state;
	json_error_t e;
	json_t *payload = json_loadb(job->payload, job->payload_len, JSON_DECODE_ANY, &e);
	if (!payload) {
		s->host->error(run, "shell: payload is not JSON: %s (at byte %d)", e.text,
			       e.position);
		return JV_FAIL;
	}
	struct shell_spec sp;
	memset(&sp, 0, sizeof sp);
	struct shell_results res;
	memset(&res, 0, sizeof res);
	int rc = shell_parse(s, run, payload, &sp);
	/* set last: no other layer of the environment may point them elsewhere */
	if (rc == 0 && s->host->abi_minor >= 2 &&
	    shell_env_put(&sp.env, "JOBVISOR_PROGRESS_FD=3") != 0) {
		s->host->error(run, "shell: out of memory");
		rc = JV_RETRY;
	}
	if (rc == 0 && s->dependency_results)
		rc = shell_results_write(s, run, &sp, &res);
	if (rc == 0 && s->max_value > 0)
		rc = shell_value_offer(s, run, &sp, &res);
	if (rc == 0)
		rc = shell_spawn_and_wait(s, job, run, &sp);
	shell_results_remove(&res);
	shell_spec_free(&sp);
	json_decref(payload);
	return rc;
}

static const struct jv_plugin shell_plugin = {
	JV_PLUGIN_HEADER,
	.kind = JV_PLUGIN_EXECUTOR,
	.name = "shell",
	.version = SHELL_VERSION,
	.description = "runs a program (argv, env, cwd, stdin) in its own process group",
	.config_keys = shell_keys,
	.create = shell_create,
	.destroy = shell_destroy,
	.execute = shell_execute,
};

JV_PLUGIN_ENTRY(shell_plugin)
