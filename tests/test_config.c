/*
 * test_config.c -- the configuration loader: broken configs each get their
 * one-line "FILE:LINE:COL: message", good ones their values and defaults.
 */
#include "config/config.h"
#include "lib/error.h"
#include "config/fdlimit.h"
#include "lib/sizelimits.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "unit.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef JV_PLUGINDIR
#define JV_PLUGINDIR "/usr/local/lib/jobvisor/plugins"
#endif

/* ---------------------------------------------------------------- helpers */

/* Write text to path with mode. */
static void write_file(const char *path, const char *text, mode_t mode)
{
	FILE *f = fopen(path, "w");
	CU_ASSERT_FATAL(f != NULL);
	fputs(text, f);
	fclose(f);
	chmod(path, mode);
}

/* A fresh temporary folder; caller frees the name and removes the folder. */
static char *temp_dir(void)
{
	char *dir = jv_strdup("/tmp/jv-test-config-XXXXXX");
	CU_ASSERT_FATAL(mkdtemp(dir) != NULL);
	return dir;
}

/* Load text expecting success; fails the test with the message otherwise. */
static struct jv_config *load_ok(const char *text)
{
	struct jv_config *cfg = NULL;
	char err[512];
	int rc = jv_config_load_string("t.yaml", text, &cfg, err, sizeof err);
	if (rc != 0)
		fprintf(stderr, "\nunexpected error: %s\n", err);
	CU_ASSERT_EQUAL(rc, 0);
	return cfg;
}

/* Load text expecting failure with a message starting with want. */
static int load_fails(const char *text, const char *want)
{
	struct jv_config *cfg = (struct jv_config *)1;
	char err[512];
	int rc = jv_config_load_string("t.yaml", text, &cfg, err, sizeof err);
	int ok = rc == JV_ECONFIG && cfg == NULL && !strncmp(err, want, strlen(want)) &&
	         !strchr(err, '\n');
	if (!ok)
		fprintf(stderr, "\n  config: %s\n  want:   %s\n  got:    %s (rc %d)\n", text, want,
		        rc ? err : "success", rc);
	if (rc == 0)
		jv_config_free(cfg);
	return ok;
}

/* ---------------------------------------------------------------- broken */

#define DB "database: {url: x}\n" /* line 1 of most cases */

/* clang-format off */

static const struct {
	const char *yaml;
	const char *want;
} broken[] = {
	/* malformed YAML */
	{"database: {url: x\n", "t.yaml:2:1: malformed YAML: did not find expected ',' or '}' (while parsing a flow mapping at 1:11)"},
	{"database:\n\turl: x\n", "t.yaml:2:1: malformed YAML: found character that cannot start any token"},
	{DB "processor:\n  batch_size: 1\n timeout_seconds: 2\n", "t.yaml:4:2: malformed YAML: did not find expected key"},
	{DB "log: \"unterminated\n", "t.yaml:3:1: malformed YAML: found unexpected end of stream"},
	{DB "log: {level: \xff}\n", "t.yaml:2:14: malformed YAML: invalid leading UTF-8 octet"},
	{"database: {url: \"a\\0b\"}\n", "t.yaml:1:17: a NUL character in a value is not supported"},
	/* the document */
	{"", "t.yaml:1:1: the configuration is empty"},
	{"# only a comment\n", "t.yaml:1:1: the configuration is empty"},
	{"---\n", "t.yaml:1:1: the configuration is empty"},
	{"- database\n- processor\n", "t.yaml:1:1: the top level must be a map of sections (database:, processor:, ...), not a list"},
	{"hello\n", "t.yaml:1:1: the top level must be a map of sections (database:, processor:, ...), not a single value"},
	{DB "---\nlog: {}\n", "t.yaml:2:1: more than one YAML document ('---') is not supported"},
	{"database: &db {url: x}\n", "t.yaml:1:11: anchors and aliases are not supported (found anchor '&db')"},
	{"database: {url: &u x}\nlog: {level: *u}\n", "t.yaml:1:17: anchors and aliases are not supported (found anchor '&u')"},
	{"database: {url: x, <<: *base}\n", "t.yaml:1:24: anchors and aliases are not supported (found alias '*base')"},
	{"database: {url: !!binary eA==}\n", "t.yaml:1:17: YAML tags are not supported (found 'tag:yaml.org,2002:binary')"},
	{DB "? [a, b]\n: c\n", "t.yaml:2:3: a key must be a plain value, not a list"},
	{DB "? {a: b}\n: c\n", "t.yaml:2:3: a key must be a plain value, not a map"},
	/* duplicate keys */
	{DB "processor:\n  batch_size: 1\n  batch_size: 2\n", "t.yaml:4:3: duplicate key 'batch_size' (first at 3:3)"},
	{DB "log: {}\nlog: {}\n", "t.yaml:3:1: duplicate key 'log' (first at 2:1)"},
	/* unknown keys */
	{DB "databse: {}\n", "t.yaml:2:1: unknown top-level key 'databse' (did you mean 'database'?)"},
	{DB "workers: 3\n", "t.yaml:2:1: unknown top-level key 'workers' (sections: database, processor,"},
	{DB "processor:\n  batchsize: 5\n", "t.yaml:3:3: unknown key 'batchsize' in processor (did you mean 'batch_size'?)"},
	{DB "api: {listen_file: /x}\n", "t.yaml:2:7: unknown key 'listen_file' in api"},
	{DB "executors: {a: {plugin: noop}}\nschedules:\n  - {name: n, cron: x, type: a, cronn: y}\n", "t.yaml:4:33: unknown key 'cronn' in schedules[0] (did you mean 'cron'?)"},
	{DB "history: {keep_days: 3}\n", "t.yaml:2:11: unknown key 'keep_days' in history"},
	/* wrong types */
	{DB "processor:\n  batch_size: lots\n", "t.yaml:3:15: processor.batch_size: expected an integer, got 'lots'"},
	{DB "processor:\n  batch_size: 10x\n", "t.yaml:3:15: processor.batch_size: expected an integer, got '10x'"},
	{DB "processor:\n  batch_size: 1.5\n", "t.yaml:3:15: processor.batch_size: expected an integer, got '1.5'"},
	{DB "processor:\n  batch_size: {a: 1}\n", "t.yaml:3:15: processor.batch_size: expected an integer, got a map"},
	{DB "processor:\n  name: {a: 1}\n", "t.yaml:3:9: processor.name: expected a string, got a map"},
	{DB "log:\n  level: [info]\n", "t.yaml:3:10: log.level: expected a string, got a list"},
	{DB "processor: [1, 2]\n", "t.yaml:2:12: processor: expected a map, got a list"},
	{DB "executors: [shell]\n", "t.yaml:2:12: executors: expected a map, got a list"},
	{DB "alerts: {plugin: slack}\n", "t.yaml:2:9: alerts: expected a list, got a map"},
	{DB "schedules: nightly\n", "t.yaml:2:12: schedules: expected a list, got 'nightly'"},
	{"database: {url: [a, b]}\n", "t.yaml:1:17: database.url: expected a string, got a list"},
	{DB "executors: {a: {plugin: noop}}\nschedules: [{name: n, cron: x, type: a, enabled: maybe}]\n", "t.yaml:3:50: schedules[0].enabled: expected true or false, got 'maybe'"},
	{DB "executors: {a: {plugin: noop}}\nschedules: [{name: n, cron: x, type: a, payload: \"{}\"}]\n", "t.yaml:3:50: schedules[0].payload: expected a map, got '{}'"},
	{DB "alerts: [{plugin: slack, on: [job_failed], user: {a: b}}]\n", "t.yaml:2:50: alerts[0].user: expected a list of strings, got a map"},
	{DB "alerts: [{plugin: slack, on: [[job_failed]]}]\n", "t.yaml:2:31: alerts[0].on: expected a string, got a list"},
	/* out of range */
	{DB "processor:\n  batch_size: 0\n", "t.yaml:3:15: processor.batch_size: 0 is out of range (1..10000)"},
	{DB "processor:\n  heartbeat_interval_ms: 99\n", "t.yaml:3:26: processor.heartbeat_interval_ms: 99 is out of range (100..3600000)"},
	{DB "processor:\n  timeout_seconds: -1\n", "t.yaml:3:20: processor.timeout_seconds: -1 is out of range (1..604800)"},
	{DB "processor:\n  prefetch: 10001\n", "t.yaml:3:13: processor.prefetch: 10001 is out of range (0..10000)"},
	{DB "processor:\n  timeout_seconds: 99999999999999999999\n", "t.yaml:3:20: processor.timeout_seconds: '99999999999999999999' is too large for an integer"},
	{DB "api: {max_connections: -1}\n", "t.yaml:2:24: api.max_connections: -1 is out of range (0..1000000)"},
	{DB "api: {max_connections_per_address: 0}\n", "t.yaml:2:36: api.max_connections_per_address: 0 is out of range (1..1000000)"},
	{DB "api: {header_timeout_seconds: 3601}\n", "t.yaml:2:31: api.header_timeout_seconds: 3601 is out of range (1..3600)"},
	{DB "history: {retention_days: 100000}\n", "t.yaml:2:27: history.retention_days: 100000 is out of range (0..36500)"},
	{DB "history: {failed_retention_days: -1}\n", "t.yaml:2:34: history.failed_retention_days: -1 is out of range (0..36500)"},
	{DB "history: {check_interval_seconds: 0}\n", "t.yaml:2:35: history.check_interval_seconds: 0 is out of range (1..86400)"},
	/* more than a worker's result frame can carry with a result at its limit */
	{DB "history: {max_output_bytes: 16777217}\n", "t.yaml:2:29: history.max_output_bytes: 16777217 is out of range (0..16777216)"},
	{DB "history: {max_output_bytes: 67108864}\n", "t.yaml:2:29: history.max_output_bytes: 67108864 is out of range (0..16777216)"},
	{DB "executors: {a: {plugin: noop, max_attempts: 0}}\n", "t.yaml:2:45: executors.a.max_attempts: 0 is out of range (1..1000)"},
	{DB "processor: {retry_base_ms: 5000, retry_max_ms: 1000}\n", "t.yaml:2:48: processor.retry_max_ms (1000) must not be less than processor.retry_base_ms (5000)"},
	{DB "processor: {heartbeat_interval_ms: 60000, stuck_job_timeout_minutes: 1}\n", "t.yaml:2:70: processor.stuck_job_timeout_minutes (1 min) must be at least two heartbeat intervals"},
	/* the horizon leaves a silent processor no time to stop its jobs first */
	{DB "processor: {heartbeat_interval_ms: 5000, stuck_job_timeout_minutes: 0.25}\n", "t.yaml:2:69: processor.stuck_job_timeout_minutes (0.25 min) must be at least two heartbeat intervals (2 x 5000 ms) plus 7000 ms for a silent processor to stop its jobs before others rescue them (0.283333 min here)"},
	{DB "processor: {stuck_job_timeout_minutes: 0.05}\n", "t.yaml:2:40: processor.stuck_job_timeout_minutes: 0.05 is out of range (0.1..10080 minutes)"},
	{DB "processor: {stuck_job_timeout_minutes: 10081}\n", "t.yaml:2:40: processor.stuck_job_timeout_minutes: 10081 is out of range (0.1..10080 minutes)"},
	{DB "processor: {stuck_job_timeout_minutes: five}\n", "t.yaml:2:40: processor.stuck_job_timeout_minutes: expected a number, got 'five'"},
	{DB "api: {statement_timeout_ms: 99}\n", "t.yaml:2:29: api.statement_timeout_ms: 99 is out of range (100..3600000)"},
	{DB "api: {lock_timeout_ms: 0}\n", "t.yaml:2:24: api.lock_timeout_ms: 0 is out of range (10..3600000)"},
	/* database */
	{"processor: {batch_size: 5}\n", "t.yaml:1:1: database.url is required"},
	{"database: {}\n", "t.yaml:1:1: database.url is required"},
	{"database:\n  url: \"\"\n", "t.yaml:1:1: database.url is required"},
	{"database: {url: x, pooler: transactions}\n", "t.yaml:1:28: database.pooler: 'transactions' is not one of: none, transaction (did you mean 'transaction'?)"},
	{"database: {url: x, pooler: session}\n", "t.yaml:1:28: database.pooler: 'session' is not one of: none, transaction"},
	{"database: {url: x, listen_url: [a]}\n", "t.yaml:1:32: database.listen_url: expected a string, got a list"},
	{"database: {url: x, listen_url: y}\n", "t.yaml:1:20: database.listen_url is only for database.pooler: transaction"},
	{"database: {url: x, pooler: none, listen_url: y}\n", "t.yaml:1:34: database.listen_url is only for database.pooler: transaction (without a pooler, database.url carries LISTEN itself)"},
	{"database: {url: x, pooler: transaction, listen_url: x}\n", "t.yaml:1:53: database.listen_url is database.url, which goes through a transaction pooler (pooler: transaction), where LISTEN is lost"},
	{"database: {url: x, listen_url_file: /nonexistent/jv-url}\n", "t.yaml:1:37: database.listen_url_file: cannot read '/nonexistent/jv-url'"},
	/* executors */
	{DB "executors:\n  shell: {timeout_seconds: 5}\n", "t.yaml:3:3: executor 'shell' has no plugin (add plugin: NAME)"},
	{DB "executors:\n  shell:\n", "t.yaml:3:3: executor 'shell' has no plugin"},
	{DB "executors:\n  shell: shell\n", "t.yaml:3:10: executors.shell: expected a map such as { plugin: NAME }, got 'shell'"},
	{DB "executors:\n  shell: {plugin: shell, isolation: fork}\n", "t.yaml:3:37: executors.shell.isolation: 'fork' is not one of: process, thread"},
	{DB "executors:\n  shell: {plugin: shell, isolation: proces}\n", "t.yaml:3:37: executors.shell.isolation: 'proces' is not one of: process, thread (did you mean 'process'?)"},
	{DB "executors:\n  \"Bad Name\": {plugin: shell}\n", "t.yaml:3:3: executor name 'Bad Name' is not valid"},
	{DB "executors:\n  shell: {plugin: ../evil}\n", "t.yaml:3:19: executors.shell.plugin: '../evil' is not a plugin name"},
	/* alerts */
	{DB "alerts:\n  - {plugin: slack, on: [job_fialed]}\n", "t.yaml:3:26: alerts[0].on: unknown value 'job_fialed' (did you mean 'job_failed'?) (one of: job_failed,"},
	{DB "alerts:\n  - {plugin: slack, on: job_failed}\n  - {plugin: slack}\n", "t.yaml:4:5: alerts[1] has no 'on' (list the events to send, e.g. on: [job_failed])"},
	{DB "alerts:\n  - {plugin: slack, on: []}\n", "t.yaml:3:25: alerts[0].on: list at least one event"},
	{DB "alerts:\n  - {on: [job_failed]}\n", "t.yaml:3:5: alerts[0] has no plugin"},
	{DB "alerts:\n  - slack\n", "t.yaml:3:5: alerts[0]: expected a map such as { plugin: NAME, on: [job_failed] }, got 'slack'"},
	/* ${VAR} */
	{"database:\n  url: ${JV_TEST_UNSET}\n", "t.yaml:2:8: database.url: environment variable 'JV_TEST_UNSET' is not set (use ${JV_TEST_UNSET:-default} for a default)"},
	{"database:\n  url: \"${JV_TEST_SET\"\n", "t.yaml:2:8: database.url: unterminated '${' (missing '}')"},
	{"database:\n  url: \"${1X}\"\n", "t.yaml:2:8: database.url: bad variable reference '${1X}'"},
	{"database:\n  url: \"${JV_TEST_SET-x}\"\n", "t.yaml:2:8: database.url: bad variable reference '${JV_TEST_SET-x}'"},
	{"database:\n  url: \"${}\"\n", "t.yaml:2:8: database.url: bad variable reference '${}'"},
	{"database:\n  url: \"${A:-${B}}\"\n", "t.yaml:2:8: database.url: a ${...} inside a default is not supported"},
	{DB "executors:\n  a: {plugin: noop, cmd: [x, \"${JV_TEST_UNSET}\"]}\n", "t.yaml:3:30: executors.a.cmd[1]: environment variable 'JV_TEST_UNSET' is not set"},
	/* pass_env: never a variable the file reads */
	{DB "api: {token: \"${JV_TEST_SET}\"}\nexecutors:\n  a: {plugin: noop, pass_env: [X, JV_TEST_SET]}\n", "t.yaml:4:35: executors.a.pass_env: 'JV_TEST_SET' is read by this configuration (${JV_TEST_SET} at 2:14), so serve takes it out of its environment and never passes it on"},
	{DB "api: {token: \"${JV_TEST_UNSET:-}\"}\nexecutors:\n  a: {plugin: noop, pass_env: JV_TEST_UNSET}\n", "t.yaml:4:31: executors.a.pass_env: 'JV_TEST_UNSET' is read by this configuration (${JV_TEST_UNSET} at 2:14)"},
	{DB "alerts:\n  - {plugin: slack, on: job_failed, webhook_url: \"x${JV_TEST_SET}\", pass_env: [JV_TEST_SET]}\n", "t.yaml:3:80: alerts[0].pass_env: 'JV_TEST_SET' is read by this configuration (${JV_TEST_SET} at 3:50)"},
	/* KEY_file */
	{DB "api:\n  token: abc\n  token_file: /etc/hostname\n", "t.yaml:4:3: api: both 'token' and 'token_file' are set; use only one"},
	{DB "api:\n  token_file: /nonexistent/jv-token\n", "t.yaml:3:15: api.token_file: cannot read '/nonexistent/jv-token': No such file or directory"},
	/* api.tokens (roles) */
	{DB "api:\n  tokens: {name: a}\n", "t.yaml:3:11: api.tokens: expected a list, got a map"},
	{DB "api:\n  tokens: [x]\n", "t.yaml:3:12: api.tokens[0]: expected a map such as { name: ci, token: \"${CI_TOKEN}\", role: operator }, got 'x'"},
	{DB "api:\n  tokens: [{name: a, token: 0123456789abcdef, role: admin, rol: x}]\n", "t.yaml:3:60: unknown key 'rol' in api.tokens[0] (did you mean 'role'?)"},
	{DB "api:\n  tokens: [{token: 0123456789abcdef, role: admin}]\n", "t.yaml:3:12: api.tokens[0]: needs a name (1 to 64 of A-Z, a-z, 0-9, '_', '.', '-')"},
	{DB "api:\n  tokens: [{name: \"a b\", token: 0123456789abcdef, role: admin}]\n", "t.yaml:3:19: api.tokens[0].name: 'a b' is not valid (1 to 64 of A-Z, a-z, 0-9, '_', '.', '-')"},
	{DB "api:\n  tokens: [{name: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa, token: 0123456789abcdef, role: admin}]\n", "t.yaml:3:19: api.tokens[0].name: 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa' is not valid"},
	{DB "api:\n  tokens: [{name: api.token, token: 0123456789abcdef, role: admin}]\n", "t.yaml:3:19: api.tokens[0].name: 'api.token' is the name of api.token: choose another"},
	{DB "api:\n  tokens: [{name: a, role: admin}]\n", "t.yaml:3:12: api.tokens[0]: token 'a' has no token"},
	{DB "api:\n  tokens: [{name: a, token: \"${JV_TEST_UNSET:-}\", role: admin}]\n", "t.yaml:3:29: api.tokens[0]: token 'a' has no token"},
	{DB "api:\n  tokens: [{name: a, token: short, role: admin}]\n", "t.yaml:3:29: api.tokens[0].token: token 'a' is 5 characters long: 16 to 1024"},
	{DB "api:\n  tokens: [{name: a, token: \"0123456789 abcdef\", role: admin}]\n", "t.yaml:3:29: api.tokens[0].token: token 'a' holds a space or a character outside visible ASCII"},
	{DB "api:\n  tokens: [{name: a, token: 0123456789abcdef}]\n", "t.yaml:3:12: api.tokens[0]: token 'a' needs a role (one of: viewer, operator, admin)"},
	{DB "api:\n  tokens: [{name: a, token: 0123456789abcdef, role: operater}]\n", "t.yaml:3:53: api.tokens[0].role: unknown role 'operater' (did you mean 'operator'?) (one of: viewer, operator, admin)"},
	{DB "api:\n  tokens:\n    - {name: a, token: 0123456789abcdef, role: admin}\n    - {name: a, token: 0123456789abcdeg, role: viewer}\n", "t.yaml:5:14: api.tokens[1].name: 'a' is already the name of api.tokens[0]"},
	{DB "api:\n  tokens:\n    - {name: a, token: 0123456789abcdef, role: admin}\n    - {name: b, token: 0123456789abcdef, role: viewer}\n", "t.yaml:5:24: api.tokens[1].token: token 'b' is the same as token 'a' (api.tokens[0]): each token names one client"},
	{DB "api:\n  token: 0123456789abcdef\n  tokens: [{name: b, token: 0123456789abcdef, role: viewer}]\n", "t.yaml:4:29: api.tokens[0].token: token 'b' is the same as api.token: each token names one client"},
	{DB "api:\n  tokens: [{name: a, token_file: /nonexistent/jv-token, role: admin}]\n", "t.yaml:3:34: api.tokens[0].token_file: cannot read '/nonexistent/jv-token': No such file or directory"},
	{DB "api:\n  listen: \"0.0.0.0:8080\"\n  tokens: []\n", "t.yaml:3:11: api.listen: 0.0.0.0:8080 is not a loopback address, and no api.token is set"},
	{DB "api:\n  token_file: [a]\n", "t.yaml:3:15: api.token_file: expected a file name, got a list"},
	{"database: {url_file: /nonexistent/jv-url}\n", "t.yaml:1:22: database.url_file: cannot read '/nonexistent/jv-url'"},
	{DB "executors:\n  a: {plugin: noop, password: x, password_file: /x}\n", "t.yaml:3:34: executors.a: both 'password' and 'password_file' are set"},
	{DB "alerts:\n  - {plugin: slack, on: job_failed, webhook_url_file: /nonexistent/jv-hook}\n", "t.yaml:3:55: alerts[0].webhook_url_file: cannot read '/nonexistent/jv-hook'"},
	/* api */
	{DB "api:\n  listen: \"127.0.0.1:70000\"\n", "t.yaml:3:11: api.listen: port 70000 is out of range (0..65535)"},
	{DB "api:\n  listen: \"0.0.0.0:8080\"\n", "t.yaml:3:11: api.listen: 0.0.0.0:8080 is not a loopback address, and no api.token is set: set a token (token: \"${JOBVISOR_API_TOKEN}\") or listen on 127.0.0.1"},
	{DB "api:\n  listen: \"[::]:8080\"\n  max_body_bytes: 10\n", "t.yaml:4:19: api.max_body_bytes: 10 is out of range (1024..67108864)"},
	{DB "api:\n  listen: localhost\n", "t.yaml:3:11: api.listen: expected HOST:PORT (e.g. 127.0.0.1:8080), got 'localhost'"},
	{DB "api:\n  listen: \"localhost:http\"\n", "t.yaml:3:11: api.listen: port 'http' is not a number"},
	{DB "api:\n  tls_cert_file: c.pem\n", "t.yaml:3:3: api.tls_cert_file is set but api.tls_key_file is not: set both for HTTPS, or neither for plain HTTP"},
	{DB "api:\n  tls_cert_file: \"\"\n  tls_key_file: k.pem\n", "t.yaml:4:3: api.tls_key_file is set but api.tls_cert_file is not: set both for HTTPS, or neither for plain HTTP"},
	{DB "api:\n  tls_key_file: [k.pem]\n  tls_cert_file: c.pem\n", "t.yaml:3:17: api.tls_key_file: expected a string, got a list"},
	/* schedules */
	{DB "executors: {shell: {plugin: shell}}\nschedules:\n  - {name: n, cron: \"* * * * *\", type: shel}\n", "t.yaml:4:40: schedules[0].type: no executor 'shel' is configured (did you mean 'shell'?) (executors: shell)"},
	{DB "schedules:\n  - {name: n, cron: \"* * * * *\", type: x}\n", "t.yaml:3:40: schedules[0].type: no executor 'x' is configured (executors: none)"},
	{DB "executors: {a: {plugin: noop}}\nschedules:\n  - {name: n, cron: x, type: a}\n  - {name: n, cron: y, type: a}\n", "t.yaml:5:12: schedules[1].name: duplicate schedule name 'n' (first at 4:12)"},
	{DB "executors: {a: {plugin: noop}}\nschedules:\n  - {name: n, type: a}\n", "t.yaml:4:5: schedule 'n' has no cron"},
	{DB "executors: {a: {plugin: noop}}\nschedules:\n  - {name: n, cron: \"0 25 * * *\", type: a}\n", "t.yaml:4:21: schedules[0].cron: hour (field 2) at position 3: 25 is out of range 0-23"},
	{DB "executors: {a: {plugin: noop}}\nschedules:\n  - {name: n, cron: \"@daily\", type: a, timezone: Mars/Olympus}\n", "t.yaml:4:50: schedules[0].timezone: unknown time zone 'Mars/Olympus' (an IANA name such as Europe/Berlin, or UTC)"},
	{DB "executors: {a: {plugin: noop}}\nschedules:\n  - {name: n, cron: \"@daily\", type: a, timezone: ../../etc/passwd}\n", "t.yaml:4:50: schedules[0].timezone: unknown time zone '../../etc/passwd' (an IANA name such as Europe/Berlin, or UTC)"},
	{DB "executors: {a: {plugin: noop}}\nschedules:\n  - {cron: x, type: a}\n", "t.yaml:4:5: schedules[0] has no name"},
	{DB "executors: {a: {plugin: noop}}\nschedules:\n  - {name: n, cron: x}\n", "t.yaml:4:5: schedule 'n' has no type"},
	{DB "executors: {a: {plugin: noop}}\nschedules:\n  - {name: \"a b\", cron: x, type: a}\n", "t.yaml:4:12: schedules[0].name: 'a b' is not valid"},
	{DB "executors: {a: {plugin: noop}}\nschedules:\n  - {name: n, cron: x, type: a, catch_up: sometimes}\n", "t.yaml:4:43: schedules[0].catch_up: 'sometimes' is not one of: none, latest, all"},
	{DB "executors: {a: {plugin: noop}}\nschedules:\n  - {name: n, cron: x, type: a, priority: 5000}\n", "t.yaml:4:43: schedules[0].priority: 5000 is out of range (-1000..1000)"},
	/* queues */
	{DB "queues: [mail]\n", "t.yaml:2:9: queues: expected a map, got a list"},
	{DB "queues: {Mail: {}}\n", "t.yaml:2:10: queue name 'Mail' is not valid (use 1 to 64 of a-z, 0-9, '_', '.', '-')"},
	{DB "queues: {\"a b\": {}}\n", "t.yaml:2:10: queue name 'a b' is not valid (use 1 to 64 of a-z, 0-9, '_', '.', '-')"},
	{DB "queues: {mail: 5}\n", "t.yaml:2:16: queues.mail: expected a map such as { concurrency: 5 }, got '5'"},
	{DB "queues: {mail: {concurency: 5}}\n", "t.yaml:2:17: unknown key 'concurency' in queues.mail (did you mean 'concurrency'?) (known keys: concurrency, global_concurrency, paused, rate_limit)"},
	{DB "queues: {mail: {concurrency: 0}}\n", "t.yaml:2:30: queues.mail.concurrency: 0 is out of range (1..10000)"},
	{DB "queues: {mail: {global_concurrency: -1}}\n", "t.yaml:2:37: queues.mail.global_concurrency: -1 is out of range (1..1000000)"},
	{DB "queues: {mail: {paused: maybe}}\n", "t.yaml:2:25: queues.mail.paused: expected true or false, got 'maybe'"},
	{DB "queues:\n  mail:\n    rate_limit: {allowed: 0, period_seconds: 60}\n", "t.yaml:4:27: queues.mail.rate_limit.allowed: 0 is out of range (1..1000000)"},
	{DB "queues:\n  mail:\n    rate_limit: {allowed: 10, period_seconds: -5}\n", "t.yaml:4:47: queues.mail.rate_limit.period_seconds: -5 is out of range (1..86400)"},
	{DB "queues:\n  mail:\n    rate_limit: {allowed: 10, period_seconds: 86401}\n", "t.yaml:4:47: queues.mail.rate_limit.period_seconds: 86401 is out of range (1..86400)"},
	{DB "queues:\n  mail:\n    rate_limit: {allowed: 10}\n", "t.yaml:4:17: queues.mail.rate_limit has no period_seconds (the window, 1 to 86400)"},
	{DB "queues:\n  mail:\n    rate_limit: {period_seconds: 60}\n", "t.yaml:4:17: queues.mail.rate_limit has no allowed (the starts allowed per period)"},
	{DB "queues:\n  mail:\n    rate_limit: {allowed: 10, period_secs: 60}\n", "t.yaml:4:31: unknown key 'period_secs' in queues.mail.rate_limit (did you mean 'period_seconds'?) (known keys: allowed, period_seconds, partition_by)"},
	{DB "queues:\n  mail:\n    rate_limit: {allowed: 10, period_seconds: 60, partition_by: users}\n", "t.yaml:4:65: queues.mail.rate_limit.partition_by: 'users' is not one of: none, user_id, type"},
	{DB "queues:\n  mail:\n    rate_limit: 10\n", "t.yaml:4:17: queues.mail.rate_limit: expected a map such as { allowed: 10, period_seconds: 60 }, got '10'"},
	{DB "queues: {mail: {}}\nprocessor:\n  queues: [mail, mial]\n", "t.yaml:4:18: processor.queues: unknown queue 'mial' (queues: default, mail; add it under queues:)"},
	{DB "processor:\n  queues: [mail]\n", "t.yaml:3:12: processor.queues: unknown queue 'mail' (queues: default; add it under queues:)"},
	{DB "queues: {mail: {}}\nexecutors: {a: {plugin: noop}}\nschedules:\n  - {name: n, cron: x, type: a, queue: bulk}\n", "t.yaml:5:40: schedules[0].queue: unknown queue 'bulk' (queues: default, mail; add it under queues:)"},
	/* who serve runs as */
	{DB "user: jv_no_such_account\n", "t.yaml:2:7: user: unknown account 'jv_no_such_account' (no such user on this host)"},
	{DB "user: root\n", "t.yaml:2:7: user: 'root' is uid 0, which is root: name an unprivileged account (or set allow_root: true, discouraged)"},
	{DB "user: [nobody]\n", "t.yaml:2:7: user: expected an account name, got a list"},
	{DB "user: {name: nobody}\n", "t.yaml:2:7: user: expected an account name, got a map"},
	{DB "allow_root: maybe\n", "t.yaml:2:13: allow_root: expected true or false, got 'maybe'"},
	{DB "allow_root: [yes]\n", "t.yaml:2:13: allow_root: expected true or false, got a list"},
	{DB "allow_roots: true\n", "t.yaml:2:1: unknown top-level key 'allow_roots' (did you mean 'allow_root'?) (sections: database,"},
	{DB "usr: nobody\n", "t.yaml:2:1: unknown top-level key 'usr' (did you mean 'user'?)"},
	/* log */
	{DB "log:\n  level: verbose\n", "t.yaml:3:10: log.level: 'verbose' is not one of: error, warning, info, debug"},
	{DB "log: {format: jsn}\n", "t.yaml:2:15: log.format: 'jsn' is not one of: text, json (did you mean 'json'?)"},
};
/* clang-format on */

static void t_broken(void)
{
	setenv("JV_TEST_SET", "set", 1);
	unsetenv("JV_TEST_UNSET");
	size_t n = sizeof broken / sizeof broken[0];
	CU_ASSERT(n >= 30);
	for (size_t i = 0; i < n; i++)
		CU_ASSERT(load_fails(broken[i].yaml, broken[i].want));
}

/* api.tokens: each entry's name, token and role; api.token stays apart
 * (the admin named api.token); tokens alone let the API listen beyond
 * loopback, as api.token does. */
static void t_api_tokens(void)
{
	struct jv_config *cfg = load_ok(DB "api:\n"
	                                   "  listen: \"0.0.0.0:8080\"\n"
	                                   "  tokens:\n"
	                                   "    - {name: dash.board, token: \"0123456789abcdef\", role: viewer}\n"
	                                   "    - {name: CI_1, token: \"0123456789abcdeg\", role: operator}\n"
	                                   "    - {name: ops, token: \"0123456789abcdeh\", role: admin}\n");
	CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
	CU_ASSERT_PTR_NULL(cfg->api.token);
	CU_ASSERT_EQUAL_FATAL(cfg->api.n_tokens, 3);
	CU_ASSERT_STRING_EQUAL(cfg->api.tokens[0].name, "dash.board");
	CU_ASSERT_STRING_EQUAL(cfg->api.tokens[0].token, "0123456789abcdef");
	CU_ASSERT_EQUAL(cfg->api.tokens[0].role, JV_ROLE_VIEWER);
	CU_ASSERT_STRING_EQUAL(cfg->api.tokens[1].name, "CI_1");
	CU_ASSERT_EQUAL(cfg->api.tokens[1].role, JV_ROLE_OPERATOR);
	CU_ASSERT_EQUAL(cfg->api.tokens[2].role, JV_ROLE_ADMIN);
	jv_config_free(cfg);
	cfg = load_ok(DB "api: {token: \"t\", tokens: null}\n");
	CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
	CU_ASSERT_STRING_EQUAL(cfg->api.token, "t");
	CU_ASSERT_EQUAL(cfg->api.n_tokens, 0);
	jv_config_free(cfg);
}

/* queues: the forms accepted and what they mean; processor.queues and a
 * schedule's queue among them ('default' always is). */
static void t_queues(void)
{
	struct jv_config *cfg = load_ok(DB "executors: {a: {plugin: noop}}\n"
	                                   "queues:\n"
	                                   "  mail:\n"
	                                   "    concurrency: 5\n"
	                                   "    global_concurrency: 20\n"
	                                   "    paused: true\n"
	                                   "    rate_limit: {allowed: 100, period_seconds: 60, "
	                                   "partition_by: user_id}\n"
	                                   "  bulk:\n"
	                                   "  reports.v2-x_y: {}\n"
	                                   "  by-type: {rate_limit: {allowed: 1, period_seconds: 86400, "
	                                   "partition_by: type}}\n"
	                                   "  plain-rate: {rate_limit: {allowed: 1000000, period_seconds: 1}}\n"
	                                   "  no-rate: {rate_limit: null}\n"
	                                   "processor:\n"
	                                   "  queues: [mail, default, bulk]\n"
	                                   "schedules:\n"
	                                   "  - {name: s1, cron: \"@daily\", type: a, queue: mail}\n"
	                                   "  - {name: s2, cron: \"@daily\", type: a, queue: default}\n"
	                                   "  - {name: s3, cron: \"@daily\", type: a}\n");
	CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
	CU_ASSERT_EQUAL_FATAL(cfg->n_queues, 6);
	const struct jv_queue_cfg *q = &cfg->queues[0];
	CU_ASSERT_STRING_EQUAL(q->name, "mail");
	CU_ASSERT_EQUAL(q->concurrency, 5);
	CU_ASSERT_EQUAL(q->global_concurrency, 20);
	CU_ASSERT_EQUAL(q->paused, 1);
	CU_ASSERT_EQUAL(q->rate_allowed, 100);
	CU_ASSERT_EQUAL(q->rate_period_seconds, 60);
	CU_ASSERT_EQUAL(q->rate_partition, JV_RATE_USER);
	CU_ASSERT_STRING_EQUAL(jv_rate_partition_names[q->rate_partition], "user_id");
	q = &cfg->queues[1]; /* a queue with no limits of its own */
	CU_ASSERT_STRING_EQUAL(q->name, "bulk");
	CU_ASSERT_EQUAL(q->concurrency, 0);
	CU_ASSERT_EQUAL(q->global_concurrency, 0);
	CU_ASSERT_EQUAL(q->paused, 0);
	CU_ASSERT_EQUAL(q->rate_allowed, 0);
	CU_ASSERT_EQUAL(q->rate_partition, JV_RATE_NONE);
	CU_ASSERT_STRING_EQUAL(cfg->queues[2].name, "reports.v2-x_y");
	CU_ASSERT_EQUAL(cfg->queues[2].rate_allowed, 0);
	q = &cfg->queues[3];
	CU_ASSERT_EQUAL(q->rate_allowed, 1);
	CU_ASSERT_EQUAL(q->rate_period_seconds, 86400);
	CU_ASSERT_EQUAL(q->rate_partition, JV_RATE_TYPE);
	q = &cfg->queues[4]; /* partition_by defaults to none */
	CU_ASSERT_EQUAL(q->rate_allowed, 1000000);
	CU_ASSERT_EQUAL(q->rate_period_seconds, 1);
	CU_ASSERT_EQUAL(q->rate_partition, JV_RATE_NONE);
	CU_ASSERT_EQUAL(cfg->queues[5].rate_allowed, 0); /* rate_limit: null is none */
	CU_ASSERT_PTR_NOT_NULL_FATAL(cfg->processor.queues);
	CU_ASSERT_STRING_EQUAL(cfg->processor.queues[0], "mail");
	CU_ASSERT_STRING_EQUAL(cfg->processor.queues[1], "default");
	CU_ASSERT_STRING_EQUAL(cfg->processor.queues[2], "bulk");
	CU_ASSERT_PTR_NULL(cfg->processor.queues[3]);
	CU_ASSERT_EQUAL_FATAL(cfg->n_schedules, 3);
	CU_ASSERT_STRING_EQUAL(cfg->schedules[0].queue, "mail");
	CU_ASSERT_STRING_EQUAL(cfg->schedules[1].queue, "default");
	CU_ASSERT_PTR_NULL(cfg->schedules[2].queue);
	jv_config_free(cfg);

	/* none at all: no queues, every queue served */
	cfg = load_ok(DB);
	CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
	CU_ASSERT_EQUAL(cfg->n_queues, 0);
	CU_ASSERT_PTR_NULL(cfg->processor.queues);
	jv_config_free(cfg);
	/* an empty map; 'default' served without being configured; a 64-byte name */
	cfg = load_ok(DB "queues: {}\nprocessor: {queues: [default]}\n");
	CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
	CU_ASSERT_EQUAL(cfg->n_queues, 0);
	jv_config_free(cfg);
	char yaml[256];
	snprintf(yaml, sizeof yaml, DB "queues: {%.*s: {}}\n", JV_QUEUE_NAME_MAX,
	         "abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz0123456789");
	cfg = load_ok(yaml);
	CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
	CU_ASSERT_EQUAL(strlen(cfg->queues[0].name), JV_QUEUE_NAME_MAX);
	jv_config_free(cfg);
	snprintf(yaml, sizeof yaml, DB "queues: {%.*s: {}}\n", JV_QUEUE_NAME_MAX + 1,
	         "abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz0123456789");
	CU_ASSERT(load_fails(yaml, "t.yaml:2:10: queue name 'abcdefghij"));

	/* the name rule the CLI and the API check with */
	CU_ASSERT(jv_queue_name_ok("mail"));
	CU_ASSERT(jv_queue_name_ok("a.b-c_9"));
	CU_ASSERT(!jv_queue_name_ok(""));
	CU_ASSERT(!jv_queue_name_ok("Mail"));
	CU_ASSERT(!jv_queue_name_ok("a b"));
	CU_ASSERT(!jv_queue_name_ok(NULL));
}

/* A nesting too deep for the parser's stack must be an error, not a crash. */
static void t_deep_nesting(void)
{
	struct jv_buf b = {0};
	jv_buf_puts(&b, DB "executors: {a: {plugin: noop, x: ");
	for (int i = 0; i < 1000; i++)
		jv_buf_puts(&b, "[");
	for (int i = 0; i < 1000; i++)
		jv_buf_puts(&b, "]");
	jv_buf_puts(&b, "}}\n");
	CU_ASSERT(load_fails(b.data, "t.yaml:2:"));
	char err[256];
	struct jv_config *cfg;
	jv_config_load_string("t.yaml", b.data, &cfg, err, sizeof err);
	CU_ASSERT(strstr(err, "nesting deeper than 64 levels is not supported") != NULL);
	jv_buf_free(&b);
}

/* A schedule's job template within the job limits (JV_USER_MAX,
 * JV_PAYLOAD_MAX), or an error at its place; at the limit it loads. */
static void t_schedule_limits(void)
{
	struct jv_buf b = {0};
	jv_buf_puts(&b, DB "executors: {a: {plugin: noop}}\nschedules:\n  - {name: n, cron: x, "
			   "type: a, user: ");
	for (int i = 0; i < JV_USER_MAX + 1; i++)
		jv_buf_puts(&b, "u");
	jv_buf_puts(&b, "}\n");
	CU_ASSERT(load_fails(b.data, "t.yaml:4:39: schedules[0].user: 257 bytes, the limit is 256 "
				     "bytes"));
	jv_buf_free(&b);

	/* {"d":"x..."}: 8 bytes around the string */
	for (int over = 0; over <= 1; over++) {
		jv_buf_puts(&b, DB "executors: {a: {plugin: noop}}\nschedules:\n  - {name: n, cron: "
				   "\"@daily\", type: a, payload: {d: ");
		for (int i = 0; i < JV_PAYLOAD_MAX - 8 + over; i++)
			jv_buf_puts(&b, "x");
		jv_buf_puts(&b, "}}\n");
		if (over) {
			CU_ASSERT(load_fails(b.data, "t.yaml:4:49: schedules[0].payload: 1048577 bytes "
						     "as JSON, the limit is 1048576 bytes"));
		} else {
			struct jv_config *cfg = load_ok(b.data);
			CU_ASSERT_FATAL(cfg != NULL);
			CU_ASSERT_EQUAL(strlen(cfg->schedules[0].payload_json), JV_PAYLOAD_MAX);
			jv_config_free(cfg);
		}
		jv_buf_free(&b);
	}
}

/* The error buffer may be tiny: messages are cut, never overflow. */
static void t_small_err_buffer(void)
{
	char err[8];
	struct jv_config *cfg;
	CU_ASSERT_EQUAL(jv_config_load_string("t.yaml", "x: 1\n", &cfg, err, sizeof err),
	                JV_ECONFIG);
	CU_ASSERT_STRING_EQUAL(err, "t.yaml:");
	CU_ASSERT_EQUAL(jv_config_load_string("t.yaml", "x: 1\n", &cfg, NULL, 0), JV_ECONFIG);
}

static void t_missing_file(void)
{
	struct jv_config *cfg = (struct jv_config *)1;
	char err[256];
	CU_ASSERT_EQUAL(jv_config_load("/nonexistent/jv.yaml", &cfg, err, sizeof err), JV_ECONFIG);
	CU_ASSERT_PTR_NULL(cfg);
	CU_ASSERT_STRING_EQUAL(err, "/nonexistent/jv.yaml: cannot open: No such file or directory");
	CU_ASSERT_EQUAL(jv_config_load("/tmp", &cfg, err, sizeof err), JV_ECONFIG);
	CU_ASSERT_STRING_EQUAL(err, "/tmp: not a regular file");
}

/* ---------------------------------------------------------------- good */

/* The rescue horizon in decimal minutes, its fencing margin, the pooler. */
static void t_horizon_pooler(void)
{
	struct jv_config *cfg = load_ok("database: {url: \"postgresql:///jv\"}\n"
					"processor: {heartbeat_interval_ms: 1000, "
					"stuck_job_timeout_minutes: 0.25}\n");
	CU_ASSERT_FATAL(cfg != NULL);
	CU_ASSERT_EQUAL(cfg->processor.stuck_job_timeout_ms, 15000);
	/* the margin: the kill grace and 5 s of slack, or a thousandth of a
	 * horizon longer than 83 min */
	CU_ASSERT_EQUAL(jv_config_fence_margin_ms(cfg), 7000);
	CU_ASSERT_EQUAL(jv_config_min_stuck_ms(cfg), 2 * 1000 + 7000);
	cfg->processor.stuck_job_timeout_ms = 604800000;
	CU_ASSERT_EQUAL(jv_config_fence_margin_ms(cfg), 2000 + 604800);
	jv_config_free(cfg);
	cfg = load_ok("database: {url: \"postgresql:///jv\", pooler: transaction,\n"
		      "           listen_url: \"postgresql://direct/jv\"}\n");
	CU_ASSERT_FATAL(cfg != NULL);
	CU_ASSERT_EQUAL(cfg->database.pooler, JV_POOLER_TRANSACTION);
	CU_ASSERT_STRING_EQUAL(cfg->database.listen_url, "postgresql://direct/jv");
	jv_config_free(cfg);
}

static void t_defaults(void)
{
	struct jv_config *cfg = load_ok("database: {url: \"postgresql:///jv\"}\n");
	CU_ASSERT_FATAL(cfg != NULL);
	char host[256];
	CU_ASSERT_EQUAL(gethostname(host, sizeof host), 0);
	host[sizeof host - 1] = '\0';
	CU_ASSERT_STRING_EQUAL(cfg->path, "t.yaml");
	CU_ASSERT_STRING_EQUAL(cfg->database.url, "postgresql:///jv");
	CU_ASSERT_EQUAL(cfg->database.pooler, JV_POOLER_NONE);
	CU_ASSERT_PTR_NULL(cfg->database.listen_url);
	CU_ASSERT_STRING_EQUAL(cfg->processor.name, host);
	CU_ASSERT_EQUAL(cfg->processor.batch_size, 20);
	CU_ASSERT_EQUAL(cfg->processor.max_concurrent_jobs, 10);
	CU_ASSERT_EQUAL(cfg->processor.per_user_limit, 0);
	CU_ASSERT_EQUAL(cfg->processor.timeout_seconds, 120);
	CU_ASSERT_EQUAL(cfg->processor.heartbeat_interval_ms, 30000);
	CU_ASSERT_EQUAL(cfg->processor.stuck_job_timeout_ms, 300000);
	CU_ASSERT_EQUAL(cfg->database.pooler, JV_POOLER_NONE);
	CU_ASSERT_PTR_NULL(cfg->database.listen_url);
	CU_ASSERT_EQUAL(cfg->processor.shutdown_grace_seconds, 30);
	CU_ASSERT_EQUAL(cfg->processor.poll_interval_ms, 1000);
	CU_ASSERT_EQUAL(cfg->processor.worker_max_jobs, 0);
	CU_ASSERT_EQUAL(cfg->processor.prefetch, 0);
	CU_ASSERT_EQUAL(cfg->processor.threads, 0);
	CU_ASSERT_EQUAL(cfg->processor.retry_base_ms, 1000);
	CU_ASSERT_EQUAL(cfg->processor.retry_max_ms, 3600000);
	CU_ASSERT_STRING_EQUAL(cfg->plugins.dir, JV_PLUGINDIR);
	CU_ASSERT_EQUAL(cfg->n_executors, 0);
	CU_ASSERT_EQUAL(cfg->n_alerts, 0);
	CU_ASSERT_EQUAL(cfg->n_schedules, 0);
	CU_ASSERT_EQUAL(cfg->api.enabled, 0);
	CU_ASSERT_STRING_EQUAL(cfg->api.listen, "127.0.0.1:8080");
	CU_ASSERT_PTR_NULL(cfg->api.token);
	CU_ASSERT_PTR_NULL(cfg->api.webhook_secret);
	CU_ASSERT_PTR_NULL(cfg->api.dashboard_url);
	CU_ASSERT_EQUAL(cfg->api.max_connections, 0);
	CU_ASSERT_EQUAL(cfg->api.max_connections_per_address, 64);
	CU_ASSERT_EQUAL(cfg->api.header_timeout_seconds, 10);
	CU_ASSERT_EQUAL(cfg->api.statement_timeout_ms, 10000);
	CU_ASSERT_EQUAL(cfg->api.lock_timeout_ms, 2000);
	CU_ASSERT_EQUAL(cfg->history.retention_days, 30);
	CU_ASSERT_EQUAL(cfg->history.failed_retention_days, -1); /* = retention_days */
	CU_ASSERT_EQUAL(cfg->history.check_interval_seconds, 60);
	CU_ASSERT_EQUAL(cfg->history.max_output_bytes, 65536);
	CU_ASSERT_EQUAL(cfg->api.max_body_bytes, 2 * 1024 * 1024); /* > JV_PAYLOAD_MAX */
	CU_ASSERT_STRING_EQUAL(cfg->log.level, "info");
	CU_ASSERT_STRING_EQUAL(cfg->log.format, "text");
	CU_ASSERT_PTR_NULL(cfg->user);
	CU_ASSERT_EQUAL(cfg->allow_root, 0);
	jv_config_free(cfg);

	/* Null sections and null values mean "use the defaults". */
	cfg = load_ok("database: {url: x}\nprocessor:\napi: ~\nexecutors:\nalerts:\nschedules: []\n"
	              "history: {retention_days: ~, max_output_bytes: }\nlog: {level: \"\"}\n");
	CU_ASSERT_FATAL(cfg != NULL);
	CU_ASSERT_EQUAL(cfg->processor.batch_size, 20);
	CU_ASSERT_EQUAL(cfg->api.enabled, 1);
	CU_ASSERT_STRING_EQUAL(cfg->api.listen, "127.0.0.1:8080");
	CU_ASSERT_EQUAL(cfg->history.retention_days, 30);
	CU_ASSERT_EQUAL(cfg->history.max_output_bytes, 65536);
	CU_ASSERT_STRING_EQUAL(cfg->log.level, "info");
	jv_config_free(cfg);
}

static const char full_config[] =
    "database:\n"
    "  url: \"postgresql://jv@db/jv\"\n"
    "processor:\n"
    "  name: worker-1\n"
    "  batch_size: 50\n"
    "  max_concurrent_jobs: 8\n"
    "  per_user_limit: 2\n"
    "  timeout_seconds: 300\n"
    "  heartbeat_interval_ms: 10000\n"
    "  stuck_job_timeout_minutes: 0.5\n"
    "  shutdown_grace_seconds: 0\n"
    "  poll_interval_ms: 250\n"
    "  worker_max_jobs: 1000\n"
    "  prefetch: 64\n"
    "  threads: 12\n"
    "  retry_base_ms: 500\n"
    "  retry_max_ms: \"60000\"\n"
    "plugins: { dir: /opt/jv/plugins }\n"
    "executors:\n"
    "  shell: { plugin: shell }\n"
    "  http:\n"
    "    plugin: http\n"
    "    timeout_seconds: 30\n"
    "    isolation: thread\n"
    "    max_attempts: 7\n"
    "    headers: { Accept: application/json }\n"
    "alerts:\n"
    "  - { plugin: slack, webhook_url: \"https://hooks/x\", on: [job_failed, processor_down] }\n"
    "  - { plugin: email, on: job_timed_out, type: http, user: [u1, u2] }\n"
    "api:\n"
    "  listen: \"[::1]:9090\"\n"
    "  token: \"${JV_TEST_TOKEN}\"\n"
    "  webhook_secret: \"${JV_TEST_UNSET:-fallback}\"\n"
    "  dashboard_url: https://jobs.example.com/\n"
    "schedules:\n"
    "  - name: nightly\n"
    "    cron: \"0 3 * * *\"\n"
    "    timezone: Europe/Berlin\n"
    "    type: shell\n"
    "    payload: { command: [\"/usr/bin/true\", \"-x\"], env: { A: \"1\" }, n: 2 }\n"
    "    user: alice\n"
    "    priority: -5\n"
    "    max_attempts: 2\n"
    "    enabled: false\n"
    "    catch_up: all\n"
    "    jitter_seconds: 30\n"
    "  - { name: hourly, cron: \"0 * * * *\", type: http }\n"
    "history: { retention_days: 0, max_output_bytes: 1024, failed_retention_days: 90,\n"
    "           check_interval_seconds: 5 }\n"
    "log: { level: debug, format: json }\n"
    "user: nobody\n"
    "allow_root: yes\n";

static void t_full(void)
{
	setenv("JV_TEST_TOKEN", "tok", 1);
	unsetenv("JV_TEST_UNSET");
	struct jv_config *cfg = load_ok(full_config);
	CU_ASSERT_FATAL(cfg != NULL);
	CU_ASSERT_STRING_EQUAL(cfg->database.url, "postgresql://jv@db/jv");
	CU_ASSERT_STRING_EQUAL(cfg->processor.name, "worker-1");
	CU_ASSERT_EQUAL(cfg->processor.batch_size, 50);
	CU_ASSERT_EQUAL(cfg->processor.max_concurrent_jobs, 8);
	CU_ASSERT_EQUAL(cfg->processor.per_user_limit, 2);
	CU_ASSERT_EQUAL(cfg->processor.timeout_seconds, 300);
	CU_ASSERT_EQUAL(cfg->processor.heartbeat_interval_ms, 10000);
	CU_ASSERT_EQUAL(cfg->processor.stuck_job_timeout_ms, 30000);
	CU_ASSERT_EQUAL(cfg->processor.shutdown_grace_seconds, 0);
	CU_ASSERT_EQUAL(cfg->processor.poll_interval_ms, 250);
	CU_ASSERT_EQUAL(cfg->processor.worker_max_jobs, 1000);
	CU_ASSERT_EQUAL(cfg->processor.prefetch, 64);
	CU_ASSERT_EQUAL(cfg->processor.threads, 12);
	CU_ASSERT_EQUAL(cfg->processor.retry_base_ms, 500);
	CU_ASSERT_EQUAL(cfg->processor.retry_max_ms, 60000);
	CU_ASSERT_STRING_EQUAL(cfg->plugins.dir, "/opt/jv/plugins");

	CU_ASSERT_FATAL(cfg->n_executors == 2);
	CU_ASSERT_STRING_EQUAL(cfg->executors[0].name, "shell");
	CU_ASSERT_STRING_EQUAL(cfg->executors[0].plugin, "shell");
	CU_ASSERT_EQUAL(cfg->executors[0].timeout_seconds, 0);
	CU_ASSERT_EQUAL(cfg->executors[0].isolation, JV_ISOLATION_PROCESS);
	CU_ASSERT_EQUAL(cfg->executors[0].max_attempts, 0);
	CU_ASSERT_STRING_EQUAL(cfg->executors[1].name, "http");
	CU_ASSERT_EQUAL(cfg->executors[1].timeout_seconds, 30);
	CU_ASSERT_EQUAL(cfg->executors[1].isolation, JV_ISOLATION_THREAD);
	CU_ASSERT_EQUAL(cfg->executors[1].max_attempts, 7);
	const struct jv_node *headers = jv_node_get(cfg->executors[1].node, "headers");
	CU_ASSERT_FATAL(headers != NULL);
	CU_ASSERT_EQUAL(headers->type, JV_NODE_MAP);
	CU_ASSERT_EQUAL(headers->key_line, 26);
	CU_ASSERT_EQUAL(headers->key_col, 5);
	CU_ASSERT_STRING_EQUAL(jv_node_get(headers, "Accept")->value, "application/json");
	CU_ASSERT_PTR_NULL(jv_node_get(headers, "accept"));

	CU_ASSERT_FATAL(cfg->n_alerts == 2);
	CU_ASSERT_STRING_EQUAL(cfg->alerts[0].plugin, "slack");
	CU_ASSERT_STRING_EQUAL(cfg->alerts[0].on[0], "job_failed");
	CU_ASSERT_STRING_EQUAL(cfg->alerts[0].on[1], "processor_down");
	CU_ASSERT_PTR_NULL(cfg->alerts[0].on[2]);
	CU_ASSERT_PTR_NULL(cfg->alerts[0].types);
	CU_ASSERT_PTR_NULL(cfg->alerts[0].users);
	CU_ASSERT_STRING_EQUAL(jv_node_get(cfg->alerts[0].node, "webhook_url")->value,
	                       "https://hooks/x");
	CU_ASSERT_STRING_EQUAL(cfg->alerts[1].on[0], "job_timed_out");
	CU_ASSERT_PTR_NULL(cfg->alerts[1].on[1]);
	CU_ASSERT_STRING_EQUAL(cfg->alerts[1].types[0], "http");
	CU_ASSERT_PTR_NULL(cfg->alerts[1].types[1]);
	CU_ASSERT_STRING_EQUAL(cfg->alerts[1].users[1], "u2");

	CU_ASSERT_EQUAL(cfg->api.enabled, 1);
	CU_ASSERT_STRING_EQUAL(cfg->api.listen, "[::1]:9090");
	CU_ASSERT_STRING_EQUAL(cfg->api.token, "tok");
	CU_ASSERT_STRING_EQUAL(cfg->api.webhook_secret, "fallback");
	CU_ASSERT_STRING_EQUAL(cfg->api.dashboard_url, "https://jobs.example.com/");

	CU_ASSERT_FATAL(cfg->n_schedules == 2);
	struct jv_schedule_cfg *s = &cfg->schedules[0];
	CU_ASSERT_STRING_EQUAL(s->name, "nightly");
	CU_ASSERT_STRING_EQUAL(s->cron, "0 3 * * *");
	CU_ASSERT_STRING_EQUAL(s->timezone, "Europe/Berlin");
	CU_ASSERT_STRING_EQUAL(s->type, "shell");
	CU_ASSERT_STRING_EQUAL(
	    s->payload_json,
	    "{\"command\":[\"/usr/bin/true\",\"-x\"],\"env\":{\"A\":\"1\"},\"n\":2}");
	CU_ASSERT_STRING_EQUAL(s->user_id, "alice");
	CU_ASSERT_EQUAL(s->priority, -5);
	CU_ASSERT_EQUAL(s->max_attempts, 2);
	CU_ASSERT_EQUAL(s->enabled, 0);
	CU_ASSERT_STRING_EQUAL(s->catch_up, "all");
	CU_ASSERT_EQUAL(s->jitter_seconds, 30);
	s = &cfg->schedules[1];
	CU_ASSERT_STRING_EQUAL(s->timezone, "UTC");
	CU_ASSERT_STRING_EQUAL(s->payload_json, "{}");
	CU_ASSERT_PTR_NULL(s->user_id);
	CU_ASSERT_EQUAL(s->priority, 0);
	CU_ASSERT_EQUAL(s->max_attempts, 0);
	CU_ASSERT_EQUAL(s->enabled, 1);
	CU_ASSERT_STRING_EQUAL(s->catch_up, "latest");
	CU_ASSERT_EQUAL(s->jitter_seconds, 0);

	CU_ASSERT_EQUAL(cfg->history.retention_days, 0);
	CU_ASSERT_EQUAL(cfg->history.max_output_bytes, 1024);
	CU_ASSERT_EQUAL(cfg->history.failed_retention_days, 90);
	CU_ASSERT_EQUAL(cfg->history.check_interval_seconds, 5);
	CU_ASSERT_STRING_EQUAL(cfg->log.level, "debug");
	CU_ASSERT_STRING_EQUAL(cfg->log.format, "json");
	CU_ASSERT_STRING_EQUAL(cfg->user, "nobody");
	CU_ASSERT_EQUAL(cfg->allow_root, 1);
	jv_config_free(cfg);
	unsetenv("JV_TEST_TOKEN");
}

/* Many executors: the node arrays grow past their first allocation. */
static void t_many(void)
{
	struct jv_buf b = {0};
	jv_buf_puts(&b, "database: {url: x}\nexecutors:\n");
	for (int i = 0; i < 100; i++)
		jv_buf_printf(&b, "  e%d: {plugin: noop, timeout_seconds: %d}\n", i, i + 1);
	struct jv_config *cfg = load_ok(b.data);
	CU_ASSERT_FATAL(cfg != NULL);
	CU_ASSERT_EQUAL(cfg->n_executors, 100);
	CU_ASSERT_STRING_EQUAL(cfg->executors[99].name, "e99");
	CU_ASSERT_EQUAL(cfg->executors[99].timeout_seconds, 100);
	CU_ASSERT_EQUAL(cfg->executors[99].node->key_line, 102);
	jv_config_free(cfg);
	jv_buf_free(&b);
}

static void t_expansion(void)
{
	setenv("JV_TEST_SET", "set", 1);
	setenv("JV_TEST_EMPTY", "", 1);
	setenv("JV_TEST_NUM", "42", 1);
	unsetenv("JV_TEST_UNSET");
	struct jv_config *cfg =
	    load_ok("database:\n"
	            "  url: \"a${JV_TEST_SET}b${JV_TEST_UNSET:-dflt}c\"\n"
	            "processor:\n"
	            "  batch_size: ${JV_TEST_NUM}\n"
	            "  name: \"${JV_TEST_EMPTY:-fromdefault}\"\n"
	            "api:\n"
	            "  token: ${JV_TEST_UNSET:-}\n"
	            "  webhook_secret: \"$$HOME and $HOME and cost: 5$ ${JV_TEST_EMPTY}.\"\n"
	            "executors:\n"
	            "  a: {plugin: noop, \"${JV_TEST_SET}\": v, d: \"${JV_TEST_UNSET:-x y}\"}\n");
	CU_ASSERT_FATAL(cfg != NULL);
	CU_ASSERT_STRING_EQUAL(cfg->database.url, "asetbdfltc");
	CU_ASSERT_EQUAL(cfg->processor.batch_size, 42);
	CU_ASSERT_STRING_EQUAL(cfg->processor.name, "fromdefault");
	CU_ASSERT_PTR_NULL(cfg->api.token); /* empty is "not set" */
	CU_ASSERT_STRING_EQUAL(cfg->api.webhook_secret, "$HOME and $HOME and cost: 5$ .");
	/* Keys are never expanded. */
	CU_ASSERT_PTR_NOT_NULL(jv_node_get(cfg->executors[0].node, "${JV_TEST_SET}"));
	CU_ASSERT_STRING_EQUAL(jv_node_get(cfg->executors[0].node, "d")->value, "x y");

	/* from_secret: set when a variable came from the environment. */
	const struct jv_node *db = jv_node_get(cfg->root, "database");
	CU_ASSERT_EQUAL(jv_node_get(db, "url")->from_secret, 1);
	CU_ASSERT_EQUAL(jv_node_get(cfg->executors[0].node, "d")->from_secret, 0); /* a default */
	CU_ASSERT_EQUAL(jv_node_get(jv_node_get(cfg->root, "api"), "webhook_secret")->from_secret,
	                1);
	jv_config_free(cfg);
	unsetenv("JV_TEST_EMPTY");
	unsetenv("JV_TEST_NUM");
}

static void t_key_file(void)
{
	char *dir = temp_dir();
	char *tok = jv_asprintf("%s/token", dir);
	char *pw = jv_asprintf("%s/pw", dir);
	char *url = jv_asprintf("%s/url", dir);
	char *empty = jv_asprintf("%s/empty", dir);
	char *conf = jv_asprintf("%s/jv.yaml", dir);
	write_file(tok, "s3cret\r\n\n", 0600);
	write_file(pw, "hunter2", 0600);
	write_file(url, "postgresql://u:p@h/db\n", 0600);
	write_file(empty, "\n", 0600);

	char *yaml =
	    jv_asprintf("database: {url: x}\n"
	                "api: {token_file: \"%s\", webhook_secret_file: \"${JV_TEST_DIR}/pw\"}\n"
	                "executors:\n  mail: {plugin: noop, password_file: %s}\n"
	                "alerts:\n  - {plugin: noop, on: job_failed, webhook_url_file: %s}\n",
	                tok, pw, tok);
	setenv("JV_TEST_DIR", dir, 1);
	struct jv_config *cfg = load_ok(yaml);
	CU_ASSERT_FATAL(cfg != NULL);
	CU_ASSERT_STRING_EQUAL(cfg->api.token, "s3cret");
	CU_ASSERT_STRING_EQUAL(cfg->api.webhook_secret, "hunter2");
	const struct jv_node *p = jv_node_get(cfg->executors[0].node, "password");
	CU_ASSERT_FATAL(p != NULL);
	CU_ASSERT_STRING_EQUAL(p->value, "hunter2");
	CU_ASSERT_EQUAL(p->from_secret, 1);
	CU_ASSERT_EQUAL(p->quoted, 1);
	CU_ASSERT_PTR_NULL(jv_node_get(cfg->executors[0].node, "password_file"));
	CU_ASSERT_STRING_EQUAL(jv_node_get(cfg->alerts[0].node, "webhook_url")->value, "s3cret");
	jv_config_free(cfg);
	free(yaml);

	/* A relative KEY_file is relative to the config file's folder. */
	write_file(conf, "database: {url_file: url}\n", 0600);
	char err[512];
	CU_ASSERT_EQUAL(jv_config_load(conf, &cfg, err, sizeof err), 0);
	CU_ASSERT_FATAL(cfg != NULL);
	CU_ASSERT_STRING_EQUAL(cfg->database.url, "postgresql://u:p@h/db");
	jv_config_free(cfg);

	/* An empty secret file is an error, not an empty secret. */
	yaml = jv_asprintf("database: {url: x}\napi:\n  token_file: %s\n", empty);
	char *want =
	    jv_asprintf("t.yaml:3:15: api.token_file: cannot read '%s': it is empty", empty);
	CU_ASSERT(load_fails(yaml, want));
	free(yaml);
	free(want);

	/* One larger than 1 MiB is refused, naming the limit; one of exactly
	 * 1 MiB (a newline at its end) is read. */
	char *big = jv_asprintf("%s/big", dir);
	char *text = jv_malloc(1024 * 1024 + 2);
	memset(text, 'k', 1024 * 1024 + 1);
	text[1024 * 1024 + 1] = '\0';
	write_file(big, text, 0600);
	yaml = jv_asprintf("database: {url: x}\napi:\n  token_file: %s\n", big);
	want = jv_asprintf("t.yaml:3:15: api.token_file: cannot read '%s': larger than 1048576 bytes",
			   big);
	CU_ASSERT(load_fails(yaml, want));
	free(want);
	free(yaml);
	text[1024 * 1024 - 1] = '\n';
	text[1024 * 1024] = '\0';
	write_file(big, text, 0600);
	yaml = jv_asprintf("database: {url: x}\nexecutors:\n  mail: {plugin: noop, password_file: %s}\n",
			   big);
	cfg = load_ok(yaml);
	CU_ASSERT_FATAL(cfg != NULL);
	p = jv_node_get(cfg->executors[0].node, "password");
	CU_ASSERT_FATAL(p != NULL);
	CU_ASSERT_EQUAL(strlen(p->value), 1024 * 1024 - 1);
	jv_config_free(cfg);
	free(yaml);
	unlink(big);
	free(big);
	free(text);

	/* An unreadable one names the file. */
	if (geteuid() != 0) {
		chmod(pw, 0);
		yaml = jv_asprintf("database: {url: x}\napi:\n  token_file: %s\n", pw);
		want = jv_asprintf(
		    "t.yaml:3:15: api.token_file: cannot read '%s': Permission denied", pw);
		CU_ASSERT(load_fails(yaml, want));
		free(yaml);
		free(want);
	}

	unlink(tok), unlink(pw), unlink(url), unlink(empty), unlink(conf);
	rmdir(dir);
	free(tok), free(pw), free(url), free(empty), free(conf), free(dir);
	unsetenv("JV_TEST_DIR");
}

/* api.tls_cert_file and api.tls_key_file: paths only (the files are read
 * by check-config and serve, api/tls.h), a relative one made absolute from
 * the config's folder; none by default. */
static void t_tls_files(void)
{
	struct jv_config *cfg = load_ok(DB "api: {}\n");
	CU_ASSERT_FATAL(cfg != NULL);
	CU_ASSERT_PTR_NULL(cfg->api.tls_cert_file);
	CU_ASSERT_PTR_NULL(cfg->api.tls_key_file);
	jv_config_free(cfg);

	/* not read here: a file that is not there still loads */
	cfg = load_ok(DB "api: {tls_cert_file: /nonexistent/c.pem, tls_key_file: /nonexistent/k.pem}\n");
	CU_ASSERT_FATAL(cfg != NULL);
	CU_ASSERT_STRING_EQUAL(cfg->api.tls_cert_file, "/nonexistent/c.pem");
	CU_ASSERT_STRING_EQUAL(cfg->api.tls_key_file, "/nonexistent/k.pem");
	jv_config_free(cfg);

	char *dir = temp_dir();
	char *conf = jv_asprintf("%s/jobvisor.yaml", dir);
	write_file(conf, "database: {url: x}\napi:\n  tls_cert_file: tls/cert.pem\n"
			 "  tls_key_file: /etc/k.pem\n", 0600);
	char err[512];
	CU_ASSERT_EQUAL(jv_config_load(conf, &cfg, err, sizeof err), 0);
	CU_ASSERT_FATAL(cfg != NULL);
	char *want = jv_asprintf("%s/tls/cert.pem", dir);
	CU_ASSERT_STRING_EQUAL(cfg->api.tls_cert_file, want);
	CU_ASSERT_STRING_EQUAL(cfg->api.tls_key_file, "/etc/k.pem");
	jv_config_free(cfg);
	unlink(conf);
	rmdir(dir);
	free(want), free(conf), free(dir);
}

static void t_to_json(void)
{
	struct jv_config *cfg = load_ok(
	    "database: {url: x}\n"
	    "executors:\n"
	    "  a:\n"
	    "    plugin: noop\n"
	    "    v: {a: 1, b: \"1\", c: true, d: \"true\", e: ~, f: 1.5, g: hello, h: [1, x, "
	    "False],\n"
	    "        i: {j: null}, k: 1e3, l: -7, m: '', n: .inf, o: 0x1F, p: "
	    "99999999999999999999,\n"
	    "        q: !!str 12, r: \"tab\\there \\u00e9\", s: yes, t: +3, u: ., w: [], x: {}}\n");
	CU_ASSERT_FATAL(cfg != NULL);
	char *js = jv_node_to_json(jv_node_get(cfg->executors[0].node, "v"));
	CU_ASSERT_STRING_EQUAL(
	    js, "{\"a\":1,\"b\":\"1\",\"c\":true,\"d\":\"true\",\"e\":null,\"f\":1.5,"
	        "\"g\":\"hello\",\"h\":[1,\"x\",false],\"i\":{\"j\":null},\"k\":1000.0,"
	        "\"l\":-7,\"m\":\"\",\"n\":\".inf\",\"o\":\"0x1F\",\"p\":\"99999999999999999999\","
	        "\"q\":\"12\",\"r\":\"tab\\there \xc3\xa9\",\"s\":\"yes\",\"t\":3,"
	        "\"u\":\".\",\"w\":[],\"x\":{}}");
	free(js);
	js = jv_node_to_json(jv_node_get(cfg->executors[0].node, "plugin"));
	CU_ASSERT_STRING_EQUAL(js, "\"noop\"");
	free(js);
	js = jv_node_to_json(NULL);
	CU_ASSERT_STRING_EQUAL(js, "null");
	free(js);
	jv_config_free(cfg);
}

static void t_typed_readers(void)
{
	struct jv_node n = {.type = JV_NODE_SCALAR};
	char err[128];
	int64_t i;
	double d;
	int b;

	static const struct {
		const char *text;
		int ok;
		int64_t want;
	} ints[] = {{"0", 1, 0},
	            {"-12", 1, -12},
	            {"+7", 1, 7},
	            {"9223372036854775807", 1, INT64_MAX},
	            {"-9223372036854775808", 1, INT64_MIN},
	            {"9223372036854775808", 0, 0},
	            {"12 ", 0, 0},
	            {" 12", 0, 0},
	            {"1e3", 0, 0},
	            {"0x10", 0, 0},
	            {"", 0, 0},
	            {"-", 0, 0},
	            {"1_000", 0, 0},
	            {"3.0", 0, 0}};
	for (size_t k = 0; k < sizeof ints / sizeof ints[0]; k++) {
		n.value = (char *)ints[k].text;
		int rc = jv_node_int(&n, &i, err, sizeof err);
		CU_ASSERT_EQUAL(rc == 0, ints[k].ok);
		if (ints[k].ok && rc == 0)
			CU_ASSERT_EQUAL(i, ints[k].want);
	}
	n.value = (char *)"abc";
	CU_ASSERT_EQUAL(jv_node_int(&n, &i, err, sizeof err), JV_EINVAL);
	CU_ASSERT_STRING_EQUAL(err, "expected an integer, got 'abc'");
	n.value = (char *)"99999999999999999999";
	jv_node_int(&n, &i, err, sizeof err);
	CU_ASSERT_STRING_EQUAL(err, "'99999999999999999999' is too large for an integer");
	n.from_secret = 1;
	n.value = (char *)"hunter2";
	jv_node_int(&n, &i, err, sizeof err);
	CU_ASSERT_STRING_EQUAL(err,
	                       "expected an integer, got a value from the environment or a file");
	n.from_secret = 0;

	n.value = (char *)"1.25e2";
	CU_ASSERT_EQUAL(jv_node_double(&n, &d, err, sizeof err), 0);
	CU_ASSERT_DOUBLE_EQUAL(d, 125.0, 1e-9);
	n.value = (char *)"-.5";
	CU_ASSERT_EQUAL(jv_node_double(&n, &d, err, sizeof err), 0);
	CU_ASSERT_DOUBLE_EQUAL(d, -0.5, 1e-9);
	n.value = (char *)"7";
	CU_ASSERT_EQUAL(jv_node_double(&n, &d, err, sizeof err), 0);
	CU_ASSERT_DOUBLE_EQUAL(d, 7.0, 1e-9);
	static const char *const bad_doubles[] = {"1.5x", "nan", "inf", "0x1p3", "1e999",
	                                          "",     "e5",  ".",   "1e"};
	for (size_t k = 0; k < sizeof bad_doubles / sizeof bad_doubles[0]; k++) {
		n.value = (char *)bad_doubles[k];
		CU_ASSERT_EQUAL(jv_node_double(&n, &d, err, sizeof err), JV_EINVAL);
	}

	static const char *const trues[] = {"true", "True", "TRUE", "yes", "on"};
	static const char *const falses[] = {"false", "False", "no", "off", "OFF"};
	for (size_t k = 0; k < 5; k++) {
		n.value = (char *)trues[k];
		CU_ASSERT(jv_node_bool(&n, &b, err, sizeof err) == 0 && b == 1);
		n.value = (char *)falses[k];
		CU_ASSERT(jv_node_bool(&n, &b, err, sizeof err) == 0 && b == 0);
	}
	n.value = (char *)"1";
	CU_ASSERT_EQUAL(jv_node_bool(&n, &b, err, sizeof err), JV_EINVAL);
	CU_ASSERT_STRING_EQUAL(err, "expected true or false, got '1'");

	struct jv_node m = {.type = JV_NODE_MAP};
	CU_ASSERT_EQUAL(jv_node_int(&m, &i, err, sizeof err), JV_EINVAL);
	CU_ASSERT_STRING_EQUAL(err, "expected an integer, got a map");
	CU_ASSERT_EQUAL(jv_node_int(NULL, &i, err, sizeof err), JV_EINVAL);
	CU_ASSERT_PTR_NULL(jv_node_get(&m, "x"));
	CU_ASSERT_PTR_NULL(jv_node_get(NULL, "x"));
}

static void t_errorf(void)
{
	struct jv_config *cfg =
	    load_ok("database: {url: x}\nexecutors:\n  a: {plugin: noop, n: 5}\n");
	CU_ASSERT_FATAL(cfg != NULL);
	char err[128];
	CU_ASSERT_EQUAL(jv_config_errorf(cfg, jv_node_get(cfg->executors[0].node, "n"), err,
	                                 sizeof err, "a.n: %d is too %s", 5, "small"),
	                JV_ECONFIG);
	CU_ASSERT_STRING_EQUAL(err, "t.yaml:3:24: a.n: 5 is too small");
	jv_config_errorf(cfg, NULL, err, sizeof err, "no place\nsecond line");
	CU_ASSERT_STRING_EQUAL(err, "t.yaml: no place second line");
	jv_config_free(cfg);
	jv_config_free(NULL);
}

/* ---------------------------------------------------------------- warnings */

static struct jv_buf captured;

static void capture(enum jv_level level, const char *line, void *arg)
{
	(void)arg;
	jv_buf_printf(&captured, "%d|%s\n", (int)level, line);
}

static void t_readable_secret_warning(void)
{
	char *dir = temp_dir();
	char *conf = jv_asprintf("%s/jv.yaml", dir);
	char err[512];
	struct jv_config *cfg;
	setenv("JV_TEST_TOKEN", "fromenv", 1);
	jv_log_capture(capture, NULL);

	/* Readable by others, literal secrets: one warning each, no values. */
	write_file(
	    conf,
	    "database: {url: \"postgresql://jv:dbpass@h/jv\"}\n"
	    "api:\n  token: literaltoken\n  webhook_secret: \"${JV_TEST_TOKEN}\"\n"
	    "alerts:\n  - {plugin: slack, on: job_failed, webhook_url: https://hooks/T0/B0/XX,"
	    " channel: ops}\n",
	    0644);
	CU_ASSERT_EQUAL(jv_config_load(conf, &cfg, err, sizeof err), 0);
	jv_config_free(cfg);
	CU_ASSERT_PTR_NOT_NULL_FATAL(captured.data);
	char *want = jv_asprintf(
	    "1|%s:3:10: api.token holds a literal secret and %s is readable by others", conf, conf);
	CU_ASSERT_PTR_NOT_NULL(strstr(captured.data, want));
	free(want);
	want = jv_asprintf("1|%s:1:17: database.url holds a literal secret", conf);
	CU_ASSERT_PTR_NOT_NULL(strstr(captured.data, want));
	free(want);
	want = jv_asprintf("1|%s:6:50: alerts[0].webhook_url holds a literal secret", conf);
	CU_ASSERT_PTR_NOT_NULL(strstr(captured.data, want));
	free(want);
	CU_ASSERT_PTR_NULL(strstr(captured.data, "webhook_secret"));
	CU_ASSERT_PTR_NULL(strstr(captured.data, "channel"));
	CU_ASSERT_PTR_NULL(strstr(captured.data, "literaltoken"));
	CU_ASSERT_PTR_NULL(strstr(captured.data, "dbpass"));
	CU_ASSERT_PTR_NULL(strstr(captured.data, "XX"));
	jv_buf_free(&captured);

	/* Not readable by others: no warning. */
	chmod(conf, 0640);
	CU_ASSERT_EQUAL(jv_config_load(conf, &cfg, err, sizeof err), 0);
	jv_config_free(cfg);
	CU_ASSERT_PTR_NULL(captured.data);

	/* Readable, but secrets only through ${VAR}: no warning; a URL without
	 * a password is no secret. */
	write_file(
	    conf, "database: {url: \"postgresql://jv@h/jv\"}\napi: {token: \"${JV_TEST_TOKEN}\"}\n",
	    0644);
	CU_ASSERT_EQUAL(jv_config_load(conf, &cfg, err, sizeof err), 0);
	CU_ASSERT_STRING_EQUAL(cfg->api.token, "fromenv");
	jv_config_free(cfg);
	CU_ASSERT_PTR_NULL(captured.data);

	jv_log_capture(NULL, NULL);
	jv_buf_free(&captured);
	unlink(conf);
	rmdir(dir);
	free(conf);
	free(dir);
	unsetenv("JV_TEST_TOKEN");
}

/* database.pooler and database.listen_url: the two modes, listen_url from
 * a file (it is a secret like url), and its password warned about when
 * written literally into a file others can read. */
static void t_pooler(void)
{
	struct jv_config *cfg =
	    load_ok("database: {url: \"postgresql://pgb:6432/jv\", pooler: transaction}\n");
	CU_ASSERT_FATAL(cfg != NULL);
	CU_ASSERT_EQUAL(cfg->database.pooler, JV_POOLER_TRANSACTION);
	CU_ASSERT_PTR_NULL(cfg->database.listen_url);
	jv_config_free(cfg);
	cfg = load_ok(
	    "database: {url: x, pooler: transaction, listen_url: \"postgresql://db/jv\"}\n");
	CU_ASSERT_FATAL(cfg != NULL);
	CU_ASSERT_EQUAL(cfg->database.pooler, JV_POOLER_TRANSACTION);
	CU_ASSERT_STRING_EQUAL(cfg->database.listen_url, "postgresql://db/jv");
	jv_config_free(cfg);
	cfg = load_ok("database: {url: x, pooler: \"\", listen_url: \"\"}\n");
	CU_ASSERT_FATAL(cfg != NULL);
	CU_ASSERT_EQUAL(cfg->database.pooler, JV_POOLER_NONE);
	CU_ASSERT_PTR_NULL(cfg->database.listen_url);
	jv_config_free(cfg);

	char *dir = temp_dir();
	char *url = jv_asprintf("%s/listen-url", dir);
	char *conf = jv_asprintf("%s/jv.yaml", dir);
	write_file(url, "postgresql://jv:listenpass@db:5432/jv\n", 0600);
	write_file(conf,
	           "database:\n  url: \"postgresql://pgb:6432/jv\"\n  pooler: transaction\n"
	           "  listen_url_file: listen-url\n",
	           0600);
	char err[512];
	CU_ASSERT_EQUAL(jv_config_load(conf, &cfg, err, sizeof err), 0);
	CU_ASSERT_FATAL(cfg != NULL);
	CU_ASSERT_STRING_EQUAL(cfg->database.listen_url, "postgresql://jv:listenpass@db:5432/jv");
	CU_ASSERT_PTR_NULL(jv_node_get(jv_node_get(cfg->root, "database"), "listen_url_file"));
	jv_config_free(cfg);

	jv_log_capture(capture, NULL);
	write_file(conf,
	           "database:\n  url: \"postgresql://pgb:6432/jv\"\n  pooler: transaction\n"
	           "  listen_url: \"postgresql://jv:listenpass@db/jv\"\n",
	           0644);
	CU_ASSERT_EQUAL(jv_config_load(conf, &cfg, err, sizeof err), 0);
	jv_config_free(cfg);
	CU_ASSERT_PTR_NOT_NULL_FATAL(captured.data);
	char *want = jv_asprintf("1|%s:4:15: database.listen_url holds a literal secret", conf);
	CU_ASSERT_PTR_NOT_NULL(strstr(captured.data, want));
	CU_ASSERT_PTR_NULL(strstr(captured.data, "listenpass"));
	free(want);
	jv_log_capture(NULL, NULL);
	jv_buf_free(&captured);

	unlink(url), unlink(conf);
	rmdir(dir);
	free(url), free(conf), free(dir);
}

/* Secrets in plugin sections beyond KEY: a credential header of a headers:
 * map (http executor, webhook alert) and URLs carrying a token in their
 * user, path or query. One warning each, naming the place, never the value;
 * ${VAR} values and URLs without a credential get none. */
static void t_readable_secret_headers_urls(void)
{
	char *dir = temp_dir();
	char *conf = jv_asprintf("%s/jv.yaml", dir);
	char err[512];
	struct jv_config *cfg;
	setenv("JV_TEST_TOKEN", "fromenv", 1);
	jv_log_capture(capture, NULL);
	write_file(
	    conf,
	    /* 1 */
	    "database: {url: \"postgresql:///jv\"}\n"
	    /* 2 */ "executors:\n"
	    /* 3 */ "  web:\n"
	    /* 4 */ "    plugin: http\n"
	    /* 5 */ "    base_url: \"https://api.example/v2?limit=5&api_key=Lit1Query\"\n"
	    /* 6 */ "    headers:\n"
	    /* 7 */ "      Authorization: \"Bearer Lit2Bearer\"\n"
	    /* 8 */ "      x-api-key: Lit3Key\n"
	    /* 9 */ "      Accept: application/json\n"
	    /* 10 */ "      Proxy-Authorization: \"Basic ${JV_TEST_TOKEN}\"\n"
	    /* 11 */ "  bare:\n"
	    /* 12 */ "    plugin: http\n"
	    /* 13 */ "    headers: {Authorization: \"Bearer ${JV_TEST_UNSET:-}\"}\n"
	    /* 14 */ "  plain: {plugin: http, base_url: \"https://api.example/v1/jobs-runner\"}\n"
	    /* 15 */ "alerts:\n"
	    /* 16 */ "  - plugin: webhook\n"
	    /* 17 */ "    on: job_failed\n"
	    /* 18 */ "    url: \"https://hooks.example/services/T0AB12CD3/B0EF45GH6/"
	    "Lit4abcdEFGH1234ijklMNOP\"\n"
	    /* 19 */ "    headers: {X-Auth-Token: Lit5Header, X-Team: ops}\n"
	    /* 20 */ "  - {plugin: webhook, on: job_failed, url: "
	    "\"https://Lit6abcdef0123456789@e.example/1\"}\n"
	    /* 21 */ "  - {plugin: webhook, on: job_failed, url: "
	             "\"https://e.example/n?Token=Lit7Tok\"}\n"
	    /* 22 */ "  - {plugin: webhook, on: job_failed, url: "
	    "\"https://e.example/hooks/${JV_TEST_TOKEN}\"}\n"
	    /* 23 */ "  - {plugin: webhook, on: job_failed, url: "
	    "\"https://ops@e.example/api/v1/notifications?channel=ops\"}\n",
	    0644);
	CU_ASSERT_EQUAL(jv_config_load(conf, &cfg, err, sizeof err), 0);
	if (cfg == NULL)
		fprintf(stderr, "\n%s\n", err);
	jv_config_free(cfg);
	CU_ASSERT_PTR_NOT_NULL_FATAL(captured.data);
	static const struct {
		const char *place, *path, *hint;
	} want[] = {
	    {"5:15", "executors.web.base_url", "use ${VAR} or base_url_file: PATH instead"},
	    {"7:22", "executors.web.headers.Authorization", "use ${VAR} instead, or chmod"},
	    {"8:18", "executors.web.headers.x-api-key", "use ${VAR} instead, or chmod"},
	    {"18:10", "alerts[0].url", "use ${VAR} or url_file: PATH instead"},
	    {"19:29", "alerts[0].headers.X-Auth-Token", "use ${VAR} instead, or chmod"},
	    {"20:44", "alerts[1].url", "use ${VAR} or url_file: PATH instead"},
	    {"21:44", "alerts[2].url", "use ${VAR} or url_file: PATH instead"},
	};
	size_t n_want = sizeof want / sizeof want[0];
	for (size_t i = 0; i < n_want; i++) {
		char *line = jv_asprintf("1|%s:%s: %s holds a literal secret and %s is readable by "
		                         "others (mode 0644); %s",
		                         conf, want[i].place, want[i].path, conf, want[i].hint);
		const char *at = strstr(captured.data, line);
		CU_ASSERT_PTR_NOT_NULL(at);
		if (!at)
			fprintf(stderr, "\nmissing: %s\n", line);
		free(line);
	}
	size_t lines = 0;
	for (const char *p = captured.data; (p = strchr(p, '\n')); p++)
		lines++;
	CU_ASSERT_EQUAL(lines, n_want); /* nothing else: not Accept, ${VAR}, plain URLs */
	if (lines != n_want)
		fprintf(stderr, "\n%s\n", captured.data);
	CU_ASSERT_PTR_NULL(strstr(captured.data, "Lit")); /* no value shown */
	jv_buf_free(&captured);

	jv_log_capture(NULL, NULL);
	unlink(conf);
	rmdir(dir);
	free(conf);
	free(dir);
	unsetenv("JV_TEST_TOKEN");
}

/* ---------------------------------------------------------------- the example */

/* The shortest safe rescue horizon, and a horizon exactly at it. */
static void t_rescue_horizon(void)
{
	struct jv_config *cfg = load_ok("database: {url: x}\n");
	CU_ASSERT_FATAL(cfg != NULL);
	CU_ASSERT_EQUAL(jv_config_min_stuck_ms(cfg), 2 * 30000 + 2000 + 5000);
	jv_config_free(cfg);
	cfg = load_ok("database: {url: x}\n"
		      "processor: {heartbeat_interval_ms: 26500, stuck_job_timeout_minutes: 1}\n");
	CU_ASSERT_FATAL(cfg != NULL);
	CU_ASSERT_EQUAL(jv_config_min_stuck_ms(cfg), 60000);
	jv_config_free(cfg);
	cfg = load_ok("database: {url: x}\n"
		      "processor: {heartbeat_interval_ms: 90000, stuck_job_timeout_minutes: 4}\n");
	CU_ASSERT_FATAL(cfg != NULL);
	CU_ASSERT_EQUAL(jv_config_min_stuck_ms(cfg), 187000);
	jv_config_free(cfg);
}

static void t_example_config(void)
{
	/* make check sets top_srcdir; run by hand, find it from this file. */
	const char *top = getenv("top_srcdir");
	char *path =
	    top ? jv_asprintf("%s/conf/jobvisor.yaml", top)
	        : jv_asprintf("%.*s/../conf/jobvisor.yaml",
	                      (int)(strrchr(__FILE__, '/') ? strrchr(__FILE__, '/') - __FILE__ : 1),
	                      strrchr(__FILE__, '/') ? __FILE__ : ".");
	setenv("DATABASE_URL", "postgresql:///jobvisor", 1);
	unsetenv("JOBVISOR_API_TOKEN");
	unsetenv("CRON_WEBHOOK_SECRET");
	unsetenv("JOBVISOR_PLUGIN_DIR");
	struct jv_config *cfg = NULL;
	char err[512];
	int rc = jv_config_load(path, &cfg, err, sizeof err);
	if (rc)
		fprintf(stderr, "\n%s\n", err);
	CU_ASSERT_EQUAL_FATAL(rc, 0);
	CU_ASSERT_STRING_EQUAL(cfg->database.url, "postgresql:///jobvisor");
	CU_ASSERT_STRING_EQUAL(cfg->plugins.dir, JV_PLUGINDIR);
	CU_ASSERT_EQUAL_FATAL(cfg->n_executors, 4);
	CU_ASSERT_STRING_EQUAL(cfg->executors[0].plugin, "noop");
	CU_ASSERT_STRING_EQUAL(cfg->executors[1].plugin, "shell");
	CU_ASSERT_STRING_EQUAL(cfg->executors[2].plugin, "http");
	CU_ASSERT_STRING_EQUAL(cfg->executors[3].plugin, "sql");
	CU_ASSERT_EQUAL(cfg->executors[3].isolation, JV_ISOLATION_THREAD);
	CU_ASSERT_EQUAL(cfg->api.enabled, 1);
	CU_ASSERT_PTR_NULL(cfg->api.token);
	CU_ASSERT_PTR_NULL(cfg->api.webhook_secret);
	CU_ASSERT_EQUAL(cfg->n_schedules, 1);
	CU_ASSERT_STRING_EQUAL(cfg->schedules[0].type, "noop");
	CU_ASSERT_STRING_EQUAL(cfg->schedules[0].payload_json,
	                       "{\"sleep_ms\":10,\"outcome\":\"success\"}");
	jv_config_free(cfg);

	/* Without DATABASE_URL it says so. */
	unsetenv("DATABASE_URL");
	CU_ASSERT_EQUAL(jv_config_load(path, &cfg, err, sizeof err), JV_ECONFIG);
	CU_ASSERT_PTR_NOT_NULL(
	    strstr(err, "database.url: environment variable 'DATABASE_URL' is not set"));
	free(path);
}

/* serve's seal: what the config reads leaves the environment, a reload
 * still expands it, a variable first read at a reload is warned about.
 * Process-wide and once: the last test. */
static void t_env_seal(void)
{
	setenv("JV_TEST_SEAL", "sealed-value", 1);
	setenv("JV_TEST_LATE", "late", 1);
	setenv("JV_TEST_KEEP", "kept", 1);
	const char *yaml =
	    "database: {url: \"postgresql:///${JV_TEST_SEAL}\"}\n"
	    "executors:\n  a: {plugin: noop, x: \"${JV_TEST_SEAL}${JV_TEST_NONE:-}\"}\n";
	struct jv_config *cfg = load_ok(yaml);
	CU_ASSERT_FATAL(cfg != NULL);
	CU_ASSERT_EQUAL_FATAL(cfg->n_env_refs, 2);
	CU_ASSERT_STRING_EQUAL(cfg->env_refs[0].name, "JV_TEST_SEAL");
	CU_ASSERT_EQUAL(cfg->env_refs[0].line, 1);
	CU_ASSERT_STRING_EQUAL(cfg->env_refs[1].name, "JV_TEST_NONE");
	CU_ASSERT_EQUAL(jv_config_env_seal(cfg), 1);
	jv_config_free(cfg);
	CU_ASSERT_PTR_NULL(getenv("JV_TEST_SEAL"));
	CU_ASSERT_STRING_EQUAL(getenv("JV_TEST_KEEP"), "kept");

	/* A reload reads the private copy, and takes nothing more out. */
	jv_log_capture(capture, NULL);
	cfg = load_ok(yaml);
	CU_ASSERT_FATAL(cfg != NULL);
	CU_ASSERT_STRING_EQUAL(cfg->database.url, "postgresql:///sealed-value");
	CU_ASSERT_EQUAL(jv_config_env_seal(cfg), 0);
	jv_config_free(cfg);
	CU_ASSERT_PTR_NULL(captured.data);

	/* A variable first read at a reload stays; serve says so, by place. */
	cfg = load_ok(DB "api: {token: \"${JV_TEST_LATE}\"}\n");
	CU_ASSERT_FATAL(cfg != NULL);
	CU_ASSERT_EQUAL(jv_config_env_seal(cfg), 0);
	jv_config_free(cfg);
	CU_ASSERT_STRING_EQUAL(getenv("JV_TEST_LATE"), "late");
	CU_ASSERT_PTR_NOT_NULL_FATAL(captured.data);
	CU_ASSERT_PTR_NOT_NULL(
	    strstr(captured.data, "1|t.yaml:2:14: ${JV_TEST_LATE} was not read at start-up"));
	CU_ASSERT_PTR_NULL(strstr(captured.data, "late\n"));
	jv_log_capture(NULL, NULL);
	jv_buf_free(&captured);
}

/* The descriptor budget (fdlimit.h): the reserve grows with what the
 * configuration runs, and the API gets what it leaves, within bounds. */
static void t_fd_budget(void)
{
	char err[512];
	struct jv_config *cfg = load_ok("database: {url: x}\n"
					"processor: {max_concurrent_jobs: 10}\n"
					"executors: {a: {plugin: noop}, b: {plugin: noop}}\n"
					"alerts: [{plugin: slack, on: [job_failed]}]\n");
	CU_ASSERT_FATAL(cfg != NULL);
	/* no api: section */
	CU_ASSERT_EQUAL(jv_fd_reserve(cfg), 64 + 8 * 10 + 16 * 2 + 4 * 1);
	CU_ASSERT_EQUAL(jv_fd_wanted(cfg), jv_fd_reserve(cfg));
	jv_config_free(cfg);

	cfg = load_ok("database: {url: x}\n"
		      "processor: {max_concurrent_jobs: 10}\n"
		      "executors: {a: {plugin: noop}, b: {plugin: noop}}\n"
		      "api: {threads: 4, db_connections: 4}\n");
	CU_ASSERT_FATAL(cfg != NULL);
	long reserve = 64 + 8 * 10 + 16 * 2 + 4 + 1 + 2 * 4; /* (+1: the audit writer) */
	CU_ASSERT_EQUAL(jv_fd_reserve(cfg), reserve);
	CU_ASSERT_EQUAL(jv_fd_wanted(cfg), reserve + JV_API_MAX_CONNECTIONS);
	/* what the limit leaves, at most JV_API_MAX_CONNECTIONS */
	CU_ASSERT_EQUAL(jv_fd_api_cap(cfg, 1024, err, sizeof err), 1024 - reserve);
	CU_ASSERT_EQUAL(jv_fd_api_cap(cfg, 65536, err, sizeof err), JV_API_MAX_CONNECTIONS);
	CU_ASSERT_EQUAL(jv_fd_api_cap(cfg, reserve + JV_API_MIN_CONNECTIONS, err, sizeof err),
			JV_API_MIN_CONNECTIONS);
	/* too little left: refused, saying what to do */
	long too_few = reserve + JV_API_MIN_CONNECTIONS - 1;
	CU_ASSERT_EQUAL(jv_fd_api_cap(cfg, too_few, err, sizeof err), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "kept for workers, database connections and plugins"));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "LimitNOFILE="));
	/* an explicit cap must fit */
	cfg->api.max_connections = 5000;
	CU_ASSERT_EQUAL(jv_fd_wanted(cfg), reserve + 5000);
	CU_ASSERT_EQUAL(jv_fd_api_cap(cfg, 65536, err, sizeof err), 5000);
	CU_ASSERT_EQUAL(jv_fd_api_cap(cfg, 4096, err, sizeof err), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "api.max_connections 5000 does not fit"));
	cfg->api.max_connections = 100;
	CU_ASSERT_EQUAL(jv_fd_api_cap(cfg, 1024, err, sizeof err), 100);
	jv_config_free(cfg);
}

int main(void)
{
	static const struct jv_unit_test tests[] = {
	    {"broken configs, one line each", t_broken},
	    {"queues", t_queues},
	    {"api.tokens", t_api_tokens},
	    {"deep nesting", t_deep_nesting},
	    {"schedule template limits", t_schedule_limits},
	    {"small error buffer", t_small_err_buffer},
	    {"missing file", t_missing_file},
	    {"defaults", t_defaults},
	    {"rescue horizon, fencing margin, pooler", t_horizon_pooler},
	    {"every key", t_full},
	    {"many entries", t_many},
	    {"${VAR} expansion", t_expansion},
	    {"KEY_file secrets", t_key_file},
	    {"api.tls_cert_file, api.tls_key_file", t_tls_files},
	    {"database.pooler and listen_url", t_pooler},
	    {"node to JSON", t_to_json},
	    {"typed readers", t_typed_readers},
	    {"jv_config_errorf", t_errorf},
	    {"readable secret warning", t_readable_secret_warning},
	    {"readable secret warning: headers, URLs", t_readable_secret_headers_urls},
	    {"rescue horizon", t_rescue_horizon},
	    {"conf/jobvisor.yaml", t_example_config},
	    {"descriptor budget", t_fd_budget},
	    {"environment sealed for serve (last: process-wide)", t_env_seal},
	    {NULL, NULL},
	};
	return jv_unit_run("config", tests);
}
