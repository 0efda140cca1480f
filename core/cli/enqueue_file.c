/*
 * enqueue_file.c -- `jobvisor enqueue --file F.ndjson` (or `-`, standard
 * input): one job per line, a JSON object with the REST API's field names
 * (api/jobspec.h), all inserted in one transaction or none.
 *
 * How, and why so:
 * - Each line is read (at most JV_ENQUEUE_LINE_MAX bytes), checked here as
 *   the API checks a body, and streamed with COPY into a temporary table
 *   as it is read: memory stays flat whatever the file's size, and a bad
 *   line stops everything before the database has inserted a job.
 * - Then one call of a temporary PL/pgSQL function inserts them in line
 *   order through jobvisor.enqueue() -- the same checks, defaults,
 *   unique-key and dependency handling as every other path -- and returns
 *   the ids. Its one exception block re-raises the first error with the
 *   line it came from ("line 17: ..."), so what only the database can
 *   refuse (a runAt that is not a time, an unknown queue or dependency, a
 *   payload that grows past its limit as PostgreSQL writes it) names the
 *   line too. The block's subtransaction is also what tells a job added
 *   here from one that already held a unique key: the first is written
 *   by that subtransaction, whose xid a marker row gives.
 * - Both the table and the function live in this transaction only (ON
 *   COMMIT DROP, DROP FUNCTION before COMMIT; a rollback removes them), so
 *   nothing outlives it in the session -- also behind a pooler in
 *   transaction mode.
 */
#include "api/jobspec.h"
#include "cli/cli.h"
#include "config/config.h"
#include "engine/migrate.h"
#include "lib/db.h"
#include "lib/error.h"
#include "lib/jsontext.h"
#include "lib/mem.h"
#include "lib/sizelimits.h"

#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char sql_setup_table[] =
    "CREATE TEMPORARY TABLE jv_enqueue_file (line bigint NOT NULL, job text NOT NULL)"
    " ON COMMIT DROP;"
    "CREATE TEMPORARY TABLE jv_enqueue_mark (x integer) ON COMMIT DROP";

/* The lines in order, each through jobvisor.enqueue(); what a line leaves
 * out takes enqueue()'s default. */
static const char sql_setup_function[] =
    "CREATE OR REPLACE FUNCTION pg_temp.jv_enqueue_file(OUT job_id bigint, OUT job_created "
    "boolean)\n"
    "RETURNS SETOF record LANGUAGE plpgsql AS $f$\n"
    "DECLARE\n"
    "  r record;\n"
    "  j jsonb;\n"
    "  v_line bigint := 0;\n"
    "  v_xid xid;\n"
    "  v_at timestamptz;\n"
    "  v_state text;\n"
    "  v_msg text;\n"
    "  v_detail text;\n"
    "  v_hint text;\n"
    "BEGIN\n"
    "  INSERT INTO pg_temp.jv_enqueue_mark VALUES (1) RETURNING xmin INTO v_xid;\n"
    "  FOR r IN SELECT f.line, f.job FROM pg_temp.jv_enqueue_file f ORDER BY f.line LOOP\n"
    "    v_line := r.line;\n"
    "    j := r.job::jsonb;\n"
    "    v_at := (j->>'runAt')::timestamptz;\n"
    "    IF NOT isfinite(v_at) THEN\n"
    "      RAISE EXCEPTION 'runAt: must be a finite time, such as 2026-12-01T03:00:00Z'\n"
    "        USING ERRCODE = 'invalid_datetime_format';\n"
    "    END IF;\n"
    "    job_id := jobvisor.enqueue(\n"
    "      j->>'type',\n"
    "      coalesce(nullif(j->'payload', 'null'), '{}'),\n"
    "      coalesce(j->>'user', j->>'userId'),\n"
    "      coalesce(v_at, now()),\n"
    "      coalesce((j->>'priority')::integer, 0),\n"
    "      coalesce((j->>'maxAttempts')::integer, 3),\n"
    "      (j->>'timeoutSeconds')::integer,\n"
    "      j->>'uniqueKey',\n"
    "      CASE WHEN jsonb_typeof(j->'uniqueStates') = 'array'\n"
    "        THEN ARRAY(SELECT jsonb_array_elements_text(j->'uniqueStates')) END,\n"
    "      coalesce(j->>'queue', 'default'),\n"
    "      depends_on => CASE WHEN jsonb_typeof(j->'dependsOn') = 'array'\n"
    "        THEN nullif(ARRAY(SELECT DISTINCT (e #>> '{}')::bigint\n"
    "                          FROM jsonb_array_elements(j->'dependsOn') e), '{}') END,\n"
    "      run_when => coalesce(j->>'runWhen', 'success'));\n"
    "    SELECT x.xmin = v_xid INTO job_created FROM jobvisor.jobs x WHERE x.id = job_id;\n"
    "    RETURN NEXT;\n"
    "  END LOOP;\n"
    "EXCEPTION WHEN OTHERS THEN\n"
    "  GET STACKED DIAGNOSTICS v_state = RETURNED_SQLSTATE, v_msg = MESSAGE_TEXT,\n"
    "    v_detail = PG_EXCEPTION_DETAIL, v_hint = PG_EXCEPTION_HINT;\n"
    "  v_msg := 'line ' || v_line || ': ' || v_msg;\n"
    "  IF v_detail <> '' AND v_hint <> '' THEN\n"
    "    RAISE EXCEPTION USING ERRCODE = v_state, MESSAGE = v_msg, DETAIL = v_detail,"
    " HINT = v_hint;\n"
    "  ELSIF v_detail <> '' THEN\n"
    "    RAISE EXCEPTION USING ERRCODE = v_state, MESSAGE = v_msg, DETAIL = v_detail;\n"
    "  ELSIF v_hint <> '' THEN\n"
    "    RAISE EXCEPTION USING ERRCODE = v_state, MESSAGE = v_msg, HINT = v_hint;\n"
    "  END IF;\n"
    "  RAISE EXCEPTION USING ERRCODE = v_state, MESSAGE = v_msg;\n"
    "END\n"
    "$f$";

/* What a run has read and where. */
struct ef {
	const char *cmd;
	const char *name; /* the file as messages name it */
	FILE *in;
	const struct jv_config *cfg;
	PGconn *conn;
	struct jv_buf line;  /* the current line, without its newline */
	struct jv_buf copy;  /* COPY data not sent yet */
	long lineno;         /* of the current line */
	long jobs;           /* lines holding a job so far */
};

/* "F:LINE: message" on stderr; JV_EXIT_USER. */
static int line_fail(const struct ef *f, long line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int line_fail(const struct ef *f, long line, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *msg = jv_vasprintf(fmt, ap);
	va_end(ap);
	fprintf(stderr, "%s:%ld: %s\n", f->name, line, msg);
	free(msg);
	return JV_EXIT_USER;
}

/* Read the next line into f->line. 1 read, 0 at the end, or JV_EXIT_USER
 * after naming a line too long or holding a NUL byte, or a read error. A
 * trailing CR (a CRLF file) is dropped. */
static int read_line(struct ef *f)
{
	jv_buf_reset(&f->line);
	int c, any = 0;
	f->lineno++;
	while ((c = getc_unlocked(f->in)) != EOF && c != '\n') {
		any = 1;
		if (c == '\0')
			return line_fail(f, f->lineno, "a NUL byte: not a line of JSON text");
		if (f->line.len >= JV_ENQUEUE_LINE_MAX)
			return line_fail(f, f->lineno, "too long: the limit is %d bytes a line",
			                 JV_ENQUEUE_LINE_MAX);
		char ch = (char)c;
		jv_buf_append(&f->line, &ch, 1);
	}
	if (ferror(f->in))
		return jv_cli_fail(f->cmd, JV_EXIT_USER, "cannot read %s: %s", f->name,
		                   strerror(errno));
	if (c == EOF && !any)
		return 0;
	if (f->line.len && f->line.data[f->line.len - 1] == '\r')
		f->line.data[--f->line.len] = '\0';
	if (!f->line.data)
		jv_buf_puts(&f->line, "");
	return 1;
}

static int blank(const struct jv_buf *b)
{
	for (size_t i = 0; i < b->len; i++)
		if (!strchr(" \t\r", b->data[i]))
			return 0;
	return 1;
}

/* Check the current line as a job of the config. 0, or JV_EXIT_USER after
 * naming the line and the field. */
static int check_line(struct ef *f)
{
	char why[512];
	json_t *j = jv_json_load_pg(f->line.data, f->line.len, JSON_REJECT_DUPLICATES, why,
	                            sizeof why);
	if (!j)
		return line_fail(f, f->lineno, "%s", why);
	struct jv_jobspec js;
	int rc = 0;
	if (jv_jobspec_read(j, &js, why, sizeof why) < 0) {
		rc = line_fail(f, f->lineno, "%s", why);
	} else {
		size_t i = 0;
		while (i < f->cfg->n_executors && strcmp(f->cfg->executors[i].name, js.type))
			i++;
		if (i == f->cfg->n_executors)
			rc = line_fail(f, f->lineno, "type: unknown job type '%s' (not an executor of %s)",
			               js.type, f->cfg->path ? f->cfg->path : "the config");
	}
	json_decref(j);
	return rc;
}

/* Send what is buffered for COPY; 0 or JV_EXIT_INTERNAL. */
static int copy_flush(struct ef *f)
{
	if (f->copy.len && PQputCopyData(f->conn, f->copy.data, (int)f->copy.len) != 1)
		return jv_cli_fail(f->cmd, JV_EXIT_INTERNAL, "could not enqueue: %s",
		                   PQerrorMessage(f->conn));
	jv_buf_reset(&f->copy);
	return 0;
}

/* The current line as a row of COPY's text format: "LINE\tTEXT\n", with
 * backslash, tab and CR escaped (the line has no newline nor NUL). */
static int copy_line(struct ef *f)
{
	jv_buf_printf(&f->copy, "%ld\t", f->lineno);
	const char *s = f->line.data;
	for (size_t i = 0, start = 0; i <= f->line.len; i++) {
		const char *esc = i == f->line.len ? NULL
		                  : s[i] == '\\'   ? "\\\\"
		                  : s[i] == '\t'   ? "\\t"
		                  : s[i] == '\r'   ? "\\r"
		                                   : NULL;
		if (esc || i == f->line.len) {
			jv_buf_append(&f->copy, s + start, i - start);
			if (esc)
				jv_buf_puts(&f->copy, esc);
			start = i + 1;
		}
	}
	jv_buf_puts(&f->copy, "\n");
	return f->copy.len >= 256 * 1024 ? copy_flush(f) : 0;
}

/* Read, check and COPY every line; then end the COPY. 0, or an exit code
 * after the COPY was ended (aborted on a bad line). */
static int copy_lines(struct ef *f)
{
	char err[1024];
	PGresult *res = PQexec(f->conn, "COPY jv_enqueue_file (line, job) FROM STDIN");
	if (PQresultStatus(res) != PGRES_COPY_IN) {
		jv_db_format_error(f->conn, res, err, sizeof err);
		PQclear(res);
		return jv_cli_fail(f->cmd, JV_EXIT_INTERNAL, "could not enqueue: %s", err);
	}
	PQclear(res);
	int rc = 0, got;
	while (rc == 0 && (got = read_line(f)) != 0) {
		if (got != 1) {
			rc = got;
		} else if (!blank(&f->line)) {
			if (++f->jobs > JV_ENQUEUE_FILE_JOBS_MAX)
				rc = line_fail(f, f->lineno,
				               "more than %d jobs in one file: split it (each file is "
				               "one transaction)",
				               JV_ENQUEUE_FILE_JOBS_MAX);
			else if ((rc = check_line(f)) == 0)
				rc = copy_line(f);
		}
	}
	if (rc == 0)
		rc = copy_flush(f);
	if (PQputCopyEnd(f->conn, rc ? "a bad line" : NULL) != 1 && rc == 0)
		rc = jv_cli_fail(f->cmd, JV_EXIT_INTERNAL, "could not enqueue: %s",
		                 PQerrorMessage(f->conn));
	while ((res = PQgetResult(f->conn)) != NULL) {
		if (rc == 0 && PQresultStatus(res) != PGRES_COMMAND_OK) {
			jv_db_format_error(f->conn, res, err, sizeof err);
			rc = jv_cli_fail(f->cmd, JV_EXIT_INTERNAL, "could not enqueue: %s", err);
		}
		PQclear(res);
	}
	return rc;
}

/* An error of the function: "line N: message" names the line. */
static int insert_fail(const struct ef *f, const char *state, const char *err)
{
	int code = !strncmp(state, "22", 2) || !strncmp(state, "23", 2) ? JV_EXIT_USER
	                                                                 : JV_EXIT_INTERNAL;
	char *end;
	long line = 0;
	if (!strncmp(err, "line ", 5)) {
		line = strtol(err + 5, &end, 10);
		if (line > 0 && !strncmp(end, ": ", 2)) {
			if (code == JV_EXIT_USER)
				return line_fail(f, line, "%s", end + 2);
			return jv_cli_fail(f->cmd, code, "could not enqueue %s:%ld: %s", f->name, line,
			                   end + 2);
		}
	}
	return jv_cli_fail(f->cmd, code, "could not enqueue: %s", err);
}

/* The ids, in line order: text or JSON ({"count", "created", "ids"}). */
static int print_ids(const struct ef *f, PGresult *res, int json)
{
	int n = PQntuples(res);
	long created = 0;
	int contiguous = 1;
	for (int i = 0; i < n; i++) {
		created += !strcmp(PQgetvalue(res, i, 1), "t");
		if (i && strtoll(PQgetvalue(res, i, 0), NULL, 10) !=
		             strtoll(PQgetvalue(res, i - 1, 0), NULL, 10) + 1)
			contiguous = 0;
	}
	if (json) {
		json_t *ids = json_array();
		for (int i = 0; i < n; i++)
			json_array_append_new(ids, json_integer(strtoll(PQgetvalue(res, i, 0), NULL, 10)));
		json_t *o = json_pack("{s:i, s:I, s:o}", "count", n, "created", (json_int_t)created,
		                      "ids", ids);
		char *text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
		json_decref(o);
		if (!text)
			return jv_cli_fail(f->cmd, JV_EXIT_INTERNAL, "could not format JSON");
		printf("%s\n", text);
		free(text);
	} else if (n == 0) {
		printf("enqueued 0 jobs (%s has none)\n", f->name);
	} else {
		printf("enqueued %d job%s, ids %s to %s%s\n", n, n == 1 ? "" : "s",
		       PQgetvalue(res, 0, 0), PQgetvalue(res, n - 1, 0),
		       contiguous ? "" : " (not contiguous: --json lists each)");
	}
	if (created < n)
		fprintf(stderr, "%ld line%s named a unique key an existing job holds: no job added for "
		                "%s\n",
		        n - created, n - created == 1 ? "" : "s", n - created == 1 ? "it" : "them");
	return JV_EXIT_OK;
}

/* Set up, COPY, insert, commit: one transaction, each failure ending it. */
static int enqueue_file_run(struct ef *f, int json)
{
	char err[1024], state[6] = "";
	int rc;
	if (jv_schema_check(f->conn, err, sizeof err) < 0)
		return jv_cli_fail(f->cmd, JV_EXIT_USER, "%s", err);
	if (jv_db_exec(f->conn, "BEGIN", 0, NULL, err, sizeof err) < 0 ||
	    jv_db_exec(f->conn, sql_setup_table, 0, NULL, err, sizeof err) < 0 ||
	    jv_db_exec(f->conn, sql_setup_function, 0, NULL, err, sizeof err) < 0)
		return jv_cli_fail(f->cmd, JV_EXIT_INTERNAL, "could not enqueue: %s", err);
	if ((rc = copy_lines(f)) != 0)
		return rc;
	PGresult *res = jv_db_query(f->conn,
	                            "SELECT job_id, job_created FROM pg_temp.jv_enqueue_file()", 0,
	                            NULL, state, err, sizeof err);
	if (!res)
		return insert_fail(f, state, err);
	if (jv_db_exec(f->conn, "DROP FUNCTION pg_temp.jv_enqueue_file()", 0, NULL, err,
	               sizeof err) < 0 ||
	    jv_db_exec(f->conn, "COMMIT", 0, NULL, err, sizeof err) < 0) {
		PQclear(res);
		return jv_cli_fail(f->cmd, JV_EXIT_INTERNAL, "could not enqueue: %s", err);
	}
	rc = print_ids(f, res, json);
	PQclear(res);
	return rc;
}

int jv_cli_enqueue_file(const char *cmd, const char *config, const char *path, int json)
{
	struct ef f = {.cmd = cmd, .name = path};
	if (!strcmp(path, "-")) {
		f.in = stdin;
		f.name = "<stdin>";
	} else if (!(f.in = fopen(path, "r"))) {
		return jv_cli_fail(cmd, JV_EXIT_USER, "cannot open %s: %s", path, strerror(errno));
	}
	struct jv_config *cfg = NULL;
	int rc = jv_cli_load_config(config, &cfg);
	if (rc == JV_EXIT_OK) {
		f.cfg = cfg;
		f.conn = jv_cli_connect(cmd, cfg);
		rc = f.conn ? enqueue_file_run(&f, json) : JV_EXIT_USER;
	}
	PQfinish(f.conn); /* a transaction left open is rolled back */
	jv_config_free(cfg);
	jv_buf_free(&f.line);
	jv_buf_free(&f.copy);
	if (f.in != stdin)
		fclose(f.in);
	return rc;
}
