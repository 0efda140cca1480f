/*
 * jsontext.h -- JSON text that PostgreSQL produced, made readable by a
 * parser with 64-bit integers and doubles (jansson, and most others).
 *
 * PostgreSQL's jsonb holds numbers as numeric and prints them in full:
 * 1e20 comes back as 100000000000000000000, which jansson refuses ("too big
 * integer"), and it nests arrays and objects far deeper than jansson's
 * parser goes (JSON_PARSER_MAX_DEPTH, 2048). One linear scan measures the
 * nesting and finds the numbers such a parser cannot read; integers beyond
 * int64 are rewritten as reals by appending ".0", which keeps their value
 * (RFC 8259 section 6: interoperable numbers are IEEE 754 doubles).
 *
 * Used at claim for the payload an executor is handed, and wherever core
 * parses JSON text from the database (API routes).
 */
#ifndef JV_JSONTEXT_H
#define JV_JSONTEXT_H

#include <jansson.h>
#include <stddef.h>

/* The deepest nesting of arrays and objects in a payload handed to an
 * executor (struct jv_job.payload); a deeper payload fails for good at
 * claim, no executor called. Well under jansson's 2048, so an executor may
 * wrap the payload or parts of it and parse them again. */
#define JV_PAYLOAD_MAX_DEPTH 512

/* What a scan found. */
struct jv_json_info {
	int depth;        /* deepest nesting of arrays and objects, 0 for a scalar */
	size_t wide_ints; /* integer tokens beyond int64 (rewritten as reals) */
	size_t huge;      /* number tokens beyond a double's range (no rewrite helps) */
	size_t huge_at;   /* byte offset of the first of those */
};

/*
 * Scan text[0..len) (need not be NUL-terminated nor well-formed: what is
 * not JSON is measured as far as it goes and copied unchanged) and fill
 * *info. When out is not NULL and an integer token lies beyond int64, *out
 * gets a NUL-terminated copy with ".0" after each such integer (*outlen its
 * length; the caller frees it); else *out is NULL and nothing is allocated.
 * Strings are never changed, whatever digits or brackets they hold.
 */
void jv_json_scan(const char *text, size_t len, struct jv_json_info *info, char **out,
                  size_t *outlen);

/*
 * Make a claimed job's payload fit for an executor: *payload (NUL-terminated,
 * from malloc) is replaced by a rewritten copy when it holds integers beyond
 * int64 (the old one freed). Returns 0, or JV_EINVAL with a one-line reason
 * in why when no executor can be handed it -- nested deeper than
 * JV_PAYLOAD_MAX_DEPTH or holding a number beyond a double -- and the job
 * must fail for good; *payload is then unchanged.
 */
int jv_json_fit_payload(char **payload, char *why, size_t whylen);

/* The nesting of arrays and objects in text, as jv_json_scan() measures it. */
int jv_json_depth(const char *text, size_t len);

/*
 * json_loadb(text, len, JSON_DECODE_ANY | flags) for JSON text PostgreSQL
 * produced or will store: integers beyond int64 are read as reals. NULL
 * when jansson cannot hold the value -- nested deeper than its parser goes,
 * a number beyond a double, not JSON -- with a one-line reason in why (if
 * not NULL). The caller owns the reference.
 */
json_t *jv_json_load_pg(const char *text, size_t len, size_t flags, char *why, size_t whylen);

/*
 * obj[key] = the value of text, JSON from PostgreSQL (NULL: JSON null).
 * When jv_json_load_pg() cannot read it, obj[key] is null, obj[key +
 * "Omitted"] says why and obj[key + "Text"] holds the text itself as a
 * string, so nothing stored is lost to the reader and no answer fails.
 */
void jv_json_set_pg(json_t *obj, const char *key, const char *text, size_t len);

/*
 * json_dumps(value, flags) with every real written in its shortest form
 * that reads back as the same double (0.1, not 0.10000000000000001; as
 * PostgreSQL and JavaScript print them), still as a real ("3.0", not "3").
 * Strings are left as they are. Freed by the caller with free().
 */
char *jv_json_dumps(const json_t *value, size_t flags);

#endif
