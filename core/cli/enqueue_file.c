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

/* The lines as read (slow: through enqueue(), see below), the ids given
 * to them, and a row whose xmin is the subtransaction's that inserts. */
static const char *const sql_setup_tables[] = {
    "CREATE TEMPORARY TABLE jv_enqueue_file (line bigint NOT NULL, slow boolean NOT NULL,"
    " job text NOT NULL) ON COMMIT DROP",
    "CREATE TEMPORARY TABLE jv_enqueue_ids (line bigint NOT NULL, id bigint NOT NULL,"
    " created boolean NOT NULL) ON COMMIT DROP",
    "CREATE TEMPORARY TABLE jv_enqueue_mark (x integer) ON COMMIT DROP",
};

/* After COPY: what the functions look lines up by. */
static const char *const sql_index_tables[] = {
    "CREATE INDEX ON jv_enqueue_file (line)",
    "CREATE INDEX ON jv_enqueue_file (line) WHERE slow",
    "ANALYZE jv_enqueue_file",
};

/*
 * jv_enqueue_lines(LO, HI): insert lines LO..HI in line order, their ids
 * into jv_enqueue_ids. A line with a uniqueKey, dependsOn or runWhen
 * ("slow") goes through jobvisor.enqueue(), one call each, for what it
 * does with them; each run of other lines between two such is one INSERT
 * ... SELECT ... ORDER BY line into jobvisor.jobs -- the plain insert the
 * README documents, the table's triggers checking limits and queue -- as
 * enqueue() would insert them, at a tenth of its cost per job. Ids follow
 * the lines: nextval() (volatile) is evaluated after the sort. What a line
 * leaves out takes enqueue()'s default.
 */
static const char sql_setup_lines[] =
    "CREATE OR REPLACE FUNCTION pg_temp.jv_enqueue_lines(p_lo bigint, p_hi bigint)\n"
    "RETURNS void LANGUAGE plpgsql AS $f$\n"
    "DECLARE\n"
    "  v_from bigint := p_lo - 1;\n"
    "  v_slow bigint;\n"
    "  v_xid xid;\n"
    "  v_id bigint;\n"
    "  v_bad bigint;\n"
    "  j jsonb;\n"
    "BEGIN\n"
    "  SELECT min(f.line) INTO v_bad FROM pg_temp.jv_enqueue_file f\n"
    "  WHERE f.line BETWEEN p_lo AND p_hi AND NOT isfinite((f.job::jsonb->>'runAt')::timestamptz);\n"
    "  IF v_bad IS NOT NULL THEN\n"
    "    RAISE EXCEPTION 'line %: runAt: must be a finite time, such as 2026-12-01T03:00:00Z', v_bad\n"
    "      USING ERRCODE = 'invalid_datetime_format';\n"
    "  END IF;\n"
    "  INSERT INTO pg_temp.jv_enqueue_mark VALUES (1) RETURNING xmin INTO v_xid;\n"
    "  LOOP\n"
    "    SELECT min(f.line) INTO v_slow FROM pg_temp.jv_enqueue_file f\n"
    "    WHERE f.slow AND f.line > v_from AND f.line <= p_hi;\n"
    "    IF v_slow IS NULL OR v_slow > v_from + 1 THEN\n"
    "    WITH l AS (\n"
    "      SELECT f.line, f.job::jsonb AS j FROM pg_temp.jv_enqueue_file f\n"
    "      WHERE f.line > v_from AND f.line < coalesce(v_slow, p_hi + 1)\n"
    "    ), ins AS (\n"
    "      INSERT INTO jobvisor.jobs AS x (type, payload, user_id, scheduled_at, priority,\n"
    "                                     max_attempts, timeout_seconds, queue)\n"
    "      SELECT l.j->>'type', coalesce(nullif(l.j->'payload', 'null'), '{}'),\n"
    "             coalesce(l.j->>'user', l.j->>'userId'),\n"
    "             coalesce((l.j->>'runAt')::timestamptz, now()),\n"
    "             coalesce((l.j->>'priority')::integer, 0),\n"
    "             coalesce((l.j->>'maxAttempts')::integer, 3),\n"
    "             (l.j->>'timeoutSeconds')::integer, coalesce(l.j->>'queue', 'default')\n"
    "      FROM l ORDER BY l.line\n"
    "      RETURNING x.id\n"
    "    )\n"
    "    INSERT INTO pg_temp.jv_enqueue_ids (line, id, created)\n"
    "    SELECT a.line, b.id, true\n"
    "    FROM (SELECT l.line, row_number() OVER (ORDER BY l.line) AS n FROM l) a\n"
    "    JOIN (SELECT ins.id, row_number() OVER (ORDER BY ins.id) AS n FROM ins) b USING (n);\n"
    "    END IF;\n"
    "    EXIT WHEN v_slow IS NULL;\n"
    "    SELECT f.job::jsonb INTO j FROM pg_temp.jv_enqueue_file f WHERE f.line = v_slow;\n"
    "    v_id := jobvisor.enqueue(\n"
    "      j->>'type',\n"
    "      coalesce(nullif(j->'payload', 'null'), '{}'),\n"
    "      coalesce(j->>'user', j->>'userId'),\n"
    "      coalesce((j->>'runAt')::timestamptz, now()),\n"
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
    "    INSERT INTO pg_temp.jv_enqueue_ids (line, id, created)\n"
    "    SELECT v_slow, v_id, x.xmin = v_xid FROM jobvisor.jobs x WHERE x.id = v_id;\n"
    "    v_from := v_slow;\n"
    "  END LOOP;\n"
    "END\n"
    "$f$";

/*
 * jv_enqueue_file(): all lines together; when that fails, again one line
 * at a time from the start, in the same transaction, to name the line
 * ("line 17: ..."), with the field when it is runAt -- the error path only
 * pays that. Either way nothing is left inserted on error: the caller
 * rolls back.
 */
static const char sql_setup_file[] =
    "CREATE OR REPLACE FUNCTION pg_temp.jv_enqueue_file() RETURNS void\n"
    "LANGUAGE plpgsql AS $f$\n"
    "DECLARE\n"
    "  v_line bigint;\n"
    "  v_field text := '';\n"
    "  v_state text;\n"
    "  v_msg text;\n"
    "  v_detail text;\n"
    "  v_hint text;\n"
    "BEGIN\n"
    "  BEGIN\n"
    "    PERFORM pg_temp.jv_enqueue_lines(1, 9223372036854775806);\n"
    "    RETURN;\n"
    "  EXCEPTION WHEN OTHERS THEN\n"
    "    NULL;\n"
    "  END;\n"
    "  BEGIN\n"
    "    FOR v_line IN SELECT f.line FROM pg_temp.jv_enqueue_file f ORDER BY f.line LOOP\n"
    "      PERFORM f.job::jsonb FROM pg_temp.jv_enqueue_file f WHERE f.line = v_line;\n"
    "      v_field := 'runAt: ';\n"
    "      PERFORM (f.job::jsonb->>'runAt')::timestamptz FROM pg_temp.jv_enqueue_file f\n"
    "      WHERE f.line = v_line;\n"
    "      v_field := '';\n"
    "      PERFORM pg_temp.jv_enqueue_lines(v_line, v_line);\n"
    "    END LOOP;\n"
    "    RAISE EXCEPTION 'the lines failed together, not one by one' USING ERRCODE = 'internal_error';\n"
    "  EXCEPTION WHEN OTHERS THEN\n"
    "    GET STACKED DIAGNOSTICS v_state = RETURNED_SQLSTATE, v_msg = MESSAGE_TEXT,\n"
    "      v_detail = PG_EXCEPTION_DETAIL, v_hint = PG_EXCEPTION_HINT;\n"
    "    IF v_msg NOT LIKE 'line %' THEN\n"
    "      v_msg := 'line ' || v_line || ': ' || v_field || v_msg;\n"
    "    END IF;\n"
    "    IF v_detail <> '' AND v_hint <> '' THEN\n"
    "      RAISE EXCEPTION USING ERRCODE = v_state, MESSAGE = v_msg, DETAIL = v_detail, HINT = v_hint;\n"
    "    ELSIF v_detail <> '' THEN\n"
    "      RAISE EXCEPTION USING ERRCODE = v_state, MESSAGE = v_msg, DETAIL = v_detail;\n"
    "    ELSIF v_hint <> '' THEN\n"
    "      RAISE EXCEPTION USING ERRCODE = v_state, MESSAGE = v_msg, HINT = v_hint;\n"
    "    END IF;\n"
    "    RAISE EXCEPTION USING ERRCODE = v_state, MESSAGE = v_msg;\n"
    "  END;\n"
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

/* Check the current line as a job of the config; *slow: whether it has a
 * uniqueKey, dependsOn or runWhen (sql_setup_lines). 0, or JV_EXIT_USER
 * after naming the line and the field. */
static int check_line(struct ef *f, int *slow)
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
		*slow = js.unique_key || js.depends || js.run_when;
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

/* The current line as a row of COPY's text format: "LINE\tSLOW\tTEXT\n",
 * with backslash, tab and CR escaped (the line has no newline nor NUL). */
static int copy_line(struct ef *f, int slow)
{
	jv_buf_printf(&f->copy, "%ld\t%c\t", f->lineno, slow ? 't' : 'f');
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
	PGresult *res = PQexec(f->conn, "COPY jv_enqueue_file (line, slow, job) FROM STDIN");
	if (PQresultStatus(res) != PGRES_COPY_IN) {
		jv_db_format_error(f->conn, res, err, sizeof err);
		PQclear(res);
		return jv_cli_fail(f->cmd, JV_EXIT_INTERNAL, "could not enqueue: %s", err);
	}
	PQclear(res);
	int rc = 0, got, slow = 0;
	while (rc == 0 && (got = read_line(f)) != 0) {
		if (got != 1) {
			rc = got;
		} else if (!blank(&f->line)) {
			if (++f->jobs > JV_ENQUEUE_FILE_JOBS_MAX)
				rc = line_fail(f, f->lineno,
				               "more than %d jobs in one file: split it (each file is "
				               "one transaction)",
				               JV_ENQUEUE_FILE_JOBS_MAX);
			else if ((rc = check_line(f, &slow)) == 0)
				rc = copy_line(f, slow);
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
	if (!strncmp(err, "line ", 5)) {
		char *end;
		long line = strtol(err + 5, &end, 10);
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

/* Run each of n statements; 0 or JV_EXIT_INTERNAL. */
static int exec_all(const struct ef *f, const char *const *sql, size_t n)
{
	char err[1024];
	for (size_t i = 0; i < n; i++)
		if (jv_db_exec(f->conn, sql[i], 0, NULL, err, sizeof err) < 0)
			return jv_cli_fail(f->cmd, JV_EXIT_INTERNAL, "could not enqueue: %s", err);
	return 0;
}

/* Set up, COPY, insert, commit: one transaction, each failure ending it
 * (the caller's PQfinish rolls it back). */
static int enqueue_file_run(struct ef *f, int json)
{
	static const char *const begin[] = {"BEGIN"};
	static const char *const functions[] = {sql_setup_lines, sql_setup_file};
	static const char *const end[] = {"DROP FUNCTION pg_temp.jv_enqueue_file()",
	                                  "DROP FUNCTION pg_temp.jv_enqueue_lines(bigint, bigint)",
	                                  "COMMIT"};
	char err[1024], state[6] = "";
	int rc;
	if (jv_schema_check(f->conn, err, sizeof err) < 0)
		return jv_cli_fail(f->cmd, JV_EXIT_USER, "%s", err);
	if ((rc = exec_all(f, begin, 1)) != 0 ||
	    (rc = exec_all(f, sql_setup_tables, sizeof sql_setup_tables / sizeof *sql_setup_tables)) !=
	        0 ||
	    (rc = exec_all(f, functions, 2)) != 0 || (rc = copy_lines(f)) != 0 ||
	    (rc = exec_all(f, sql_index_tables, sizeof sql_index_tables / sizeof *sql_index_tables)) !=
	        0)
		return rc;
	PGresult *res = jv_db_query(f->conn, "SELECT pg_temp.jv_enqueue_file()", 0, NULL, state,
	                            err, sizeof err);
	if (!res)
		return insert_fail(f, state, err);
	PQclear(res);
	/* created: by this line (a later line naming the same unique key gets
	 * the same job, not created again) */
	res = jv_db_query(f->conn,
	                            "SELECT id, created AND row_number() OVER (PARTITION BY id"
	                            " ORDER BY line) = 1 FROM pg_temp.jv_enqueue_ids ORDER BY line",
	                            0, NULL, state, err, sizeof err);
	if (!res)
		return insert_fail(f, state, err);
	if ((rc = exec_all(f, end, 3)) != 0) {
		PQclear(res);
		return rc;
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
