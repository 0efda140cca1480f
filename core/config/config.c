/*
 * config.c -- the YAML configuration: parse, expand, resolve secrets, map.
 *
 * Four passes over one tree of struct jv_node:
 *   1. parse_yaml()     libyaml events -> nodes with their places; rejects
 *                       malformed YAML, anchors/aliases, tags, duplicate and
 *                       non-scalar keys, several documents;
 *   2. expand_tree()    ${VAR}, ${VAR:-default} and $$ in every scalar value;
 *   3. resolve_files()  KEY_file: PATH -> KEY: <contents of PATH>;
 *   4. map_config()     the tree onto struct jv_config, with defaults, types,
 *                       ranges, unknown keys and cross references.
 * Every error is one line "FILE:LINE:COL: message" in the caller's buffer;
 * every pass frees what it made on every path.
 */
#include "config/config.h"
#include "lib/cron.h"

#include "lib/error.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "lib/sizelimits.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#ifndef JV_PLUGINDIR
#define JV_PLUGINDIR "/usr/local/lib/jobvisor/plugins"
#endif

#define FMT(a, b) __attribute__((format(printf, a, b)))

enum {
	MAX_DEPTH = 64,                      /* nesting of maps and lists */
	MAX_CONFIG_BYTES = 16 * 1024 * 1024, /* the config file */
	MAX_SECRET_BYTES = 1024 * 1024,      /* a KEY_file */
	MAX_NAME_LEN = 100,                  /* executor and schedule names */
};

/* Everything the passes share. */
struct ctx {
	const char *name;    /* file name for messages */
	const char *basedir; /* relative KEY_file paths start here; NULL: cwd */
	char *err;
	size_t errlen;
	struct jv_config *cfg;
};

/* ------------------------------------------------------------------ errors */

/* Errors are one line: control characters (a multi-line value quoted in a
 * message, say) become spaces. */
static void one_line(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = ' ';
}

static int verrat(const char *name, char *err, size_t errlen, int line, int col, const char *fmt,
                  va_list ap) FMT(6, 0);

/* Write "NAME:LINE:COL: message" (or "NAME: message" when line is 0) into
 * err. Returns JV_ECONFIG. */
static int verrat(const char *name, char *err, size_t errlen, int line, int col, const char *fmt,
                  va_list ap)
{
	if (!err || errlen == 0)
		return JV_ECONFIG;
	int n;
	if (line > 0)
		n = snprintf(err, errlen, "%s:%d:%d: ", name, line, col);
	else
		n = snprintf(err, errlen, "%s: ", name);
	if (n >= 0 && (size_t)n < errlen)
		vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
	one_line(err);
	return JV_ECONFIG;
}

static int errat(struct ctx *c, int line, int col, const char *fmt, ...) FMT(4, 5);
static int errat(struct ctx *c, int line, int col, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	verrat(c->name, c->err, c->errlen, line, col, fmt, ap);
	va_end(ap);
	return JV_ECONFIG;
}

/* An error at the place of n's value. */
static int err_val(struct ctx *c, const struct jv_node *n, const char *fmt, ...) FMT(3, 4);
static int err_val(struct ctx *c, const struct jv_node *n, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	verrat(c->name, c->err, c->errlen, n ? n->line : 0, n ? n->col : 0, fmt, ap);
	va_end(ap);
	return JV_ECONFIG;
}

/* An error at the place of n's key (its value's place when it has none). */
static int err_key(struct ctx *c, const struct jv_node *n, const char *fmt, ...) FMT(3, 4);
static int err_key(struct ctx *c, const struct jv_node *n, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	verrat(c->name, c->err, c->errlen, n ? n->key_line : 0, n ? n->key_col : 0, fmt, ap);
	va_end(ap);
	return JV_ECONFIG;
}

int jv_config_errorf(const struct jv_config *cfg, const struct jv_node *node, char *err,
                     size_t errlen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	verrat(cfg && cfg->path ? cfg->path : "config", err, errlen, node ? node->line : 0,
	       node ? node->col : 0, fmt, ap);
	va_end(ap);
	return JV_ECONFIG;
}

/* Write a short description of n for "expected X, got Y" into buf: "a map",
 * "a list", "nothing", or the value quoted and cut to 40 characters. Values
 * that came from the environment or a file are never shown. */
static const char *describe(const struct jv_node *n, char *buf, size_t size)
{
	if (!n)
		snprintf(buf, size, "nothing");
	else if (n->type == JV_NODE_MAP)
		snprintf(buf, size, "a map");
	else if (n->type == JV_NODE_SEQ)
		snprintf(buf, size, "a list");
	else if (n->from_secret)
		snprintf(buf, size, "a value from the environment or a file");
	else if (!n->quoted && n->value[0] == '\0')
		snprintf(buf, size, "nothing");
	else if (strlen(n->value) > 40)
		snprintf(buf, size, "'%.37s...'", n->value);
	else
		snprintf(buf, size, "'%s'", n->value);
	one_line(buf);
	return buf;
}

size_t jv_edit_distance(const char *a, const char *b)
{
	size_t la = strnlen(a, 64), lb = strnlen(b, 64);
	size_t row[65];
	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t diag = row[0];
		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t up = row[j];
			size_t best = diag + (a[i - 1] != b[j - 1]);
			if (up + 1 < best)
				best = up + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			diag = up;
		}
	}
	return row[lb];
}

/* The candidate closest to word when it is close enough to be a typo, or
 * NULL. candidates is NULL-terminated. */
static const char *did_you_mean(const char *word, const char *const *candidates)
{
	const char *best = NULL;
	size_t best_d = (size_t)-1;
	for (; *candidates; candidates++) {
		size_t d = jv_edit_distance(word, *candidates);
		size_t len =
		    strlen(*candidates) > strlen(word) ? strlen(*candidates) : strlen(word);
		if (d > 0 && d <= 3 && d * 3 <= len && d < best_d) {
			best = *candidates;
			best_d = d;
		}
	}
	return best;
}

/* " (did you mean 'x'?)" or "", in buf. */
static const char *hint(const char *word, const char *const *candidates, char *buf, size_t size)
{
	const char *m = did_you_mean(word, candidates);
	if (m)
		snprintf(buf, size, " (did you mean '%s'?)", m);
	else
		buf[0] = '\0';
	return buf;
}

/* "a, b, c" from a NULL-terminated list, in buf. */
static const char *join(const char *const *list, char *buf, size_t size)
{
	size_t off = 0;
	buf[0] = '\0';
	for (size_t i = 0; list[i] && off < size; i++) {
		int n = snprintf(buf + off, size - off, "%s%s", i ? ", " : "", list[i]);
		if (n < 0)
			break;
		off += (size_t)n;
	}
	return buf;
}

/* ------------------------------------------------------------------ nodes */

static struct jv_node *node_new(enum jv_node_type type, yaml_mark_t mark)
{
	struct jv_node *n = jv_calloc(1, sizeof *n);
	n->type = type;
	n->line = (int)mark.line + 1;
	n->col = (int)mark.column + 1;
	n->key_line = n->line;
	n->key_col = n->col;
	return n;
}

/* Free n and everything below it. NULL is fine. */
static void node_free(struct jv_node *n)
{
	if (!n)
		return;
	for (size_t i = 0; i < n->n_items; i++)
		node_free(n->items[i]);
	free(n->items);
	free(n->key);
	free(n->value);
	free(n);
}

/* Append child to a map or sequence; the parent owns it from now on. The
 * array grows in powers of two. */
static void node_push(struct jv_node *parent, struct jv_node *child)
{
	size_t n = parent->n_items;
	if (n == 0)
		parent->items = jv_malloc(4 * sizeof *parent->items);
	else if (n >= 4 && (n & (n - 1)) == 0)
		parent->items = jv_realloc(parent->items, 2 * n * sizeof *parent->items);
	parent->items[n] = child;
	parent->n_items = n + 1;
}

const struct jv_node *jv_node_get(const struct jv_node *map, const char *key)
{
	if (!map || map->type != JV_NODE_MAP || !key)
		return NULL;
	for (size_t i = 0; i < map->n_items; i++)
		if (!strcmp(map->items[i]->key, key))
			return map->items[i];
	return NULL;
}

/* A plain scalar that YAML reads as null: nothing, ~ or null. Such a value
 * means "not set" throughout the configuration. */
static int node_is_null(const struct jv_node *n)
{
	if (!n || n->type != JV_NODE_SCALAR || n->quoted)
		return 0;
	const char *v = n->value;
	return !v[0] || !strcmp(v, "~") || !strcmp(v, "null") || !strcmp(v, "Null") ||
	       !strcmp(v, "NULL");
}

/* ------------------------------------------------------------------ scalars */

/* Strict decimal integer: [-+]?[0-9]+, nothing else. 1 when s is one. */
static int is_int_text(const char *s)
{
	if (*s == '-' || *s == '+')
		s++;
	if (!*s)
		return 0;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return 0;
	return 1;
}

/* Strict float as YAML 1.2 core writes it:
 * [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)? */
static int is_float_text(const char *s)
{
	int digits = 0;
	if (*s == '-' || *s == '+')
		s++;
	while (*s >= '0' && *s <= '9')
		s++, digits++;
	if (*s == '.') {
		s++;
		while (*s >= '0' && *s <= '9')
			s++, digits++;
	}
	if (!digits)
		return 0;
	if (*s == 'e' || *s == 'E') {
		s++;
		if (*s == '-' || *s == '+')
			s++;
		if (*s < '0' || *s > '9')
			return 0;
		while (*s >= '0' && *s <= '9')
			s++;
	}
	return *s == '\0';
}

/* 1 for true, yes, on; 0 for false, no, off (each in three spellings);
 * -1 for anything else. */
static int bool_value(const char *s)
{
	static const char *const yes[] = {"true", "True", "TRUE", "yes", "Yes",
	                                  "YES",  "on",   "On",   "ON",  NULL};
	static const char *const no[] = {"false", "False", "FALSE", "no",  "No",
	                                 "NO",    "off",   "Off",   "OFF", NULL};
	for (size_t i = 0; yes[i]; i++) {
		if (!strcmp(s, yes[i]))
			return 1;
		if (!strcmp(s, no[i]))
			return 0;
	}
	return -1;
}

/* A message without a place into err (for the jv_node_* readers). */
static void set_err(char *err, size_t errlen, const char *fmt, ...) FMT(3, 4);
static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
	if (!err || errlen == 0)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	one_line(err);
}

int jv_node_int(const struct jv_node *n, int64_t *out, char *err, size_t errlen)
{
	char d[64];
	if (!n || n->type != JV_NODE_SCALAR || !is_int_text(n->value)) {
		set_err(err, errlen, "expected an integer, got %s", describe(n, d, sizeof d));
		return JV_EINVAL;
	}
	errno = 0;
	char *end;
	long long v = strtoll(n->value, &end, 10);
	if (errno == ERANGE || *end) {
		set_err(err, errlen, "%s is too large for an integer", describe(n, d, sizeof d));
		return JV_EINVAL;
	}
	*out = (int64_t)v;
	return 0;
}

int jv_node_double(const struct jv_node *n, double *out, char *err, size_t errlen)
{
	char d[64];
	if (!n || n->type != JV_NODE_SCALAR || !is_float_text(n->value)) {
		set_err(err, errlen, "expected a number, got %s", describe(n, d, sizeof d));
		return JV_EINVAL;
	}
	errno = 0;
	char *end;
	double v = strtod(n->value, &end);
	if (errno == ERANGE || *end || !isfinite(v)) {
		/* ERANGE on underflow too: a denormal is no useful setting. */
		set_err(err, errlen, "%s is out of range for a number", describe(n, d, sizeof d));
		return JV_EINVAL;
	}
	*out = v;
	return 0;
}

int jv_node_bool(const struct jv_node *n, int *out, char *err, size_t errlen)
{
	char d[64];
	int v = n && n->type == JV_NODE_SCALAR ? bool_value(n->value) : -1;
	if (v < 0) {
		set_err(err, errlen, "expected true or false, got %s", describe(n, d, sizeof d));
		return JV_EINVAL;
	}
	*out = v;
	return 0;
}

/* ------------------------------------------------------------------ JSON */

/* A scalar as JSON: quoted text is a string; plain text is null, a bool,
 * an integer or a float when it reads as one, else a string. New ref. */
static json_t *scalar_json(const struct jv_node *n)
{
	const char *v = n->value;
	if (!n->quoted) {
		if (node_is_null(n))
			return json_null();
		if (!strcmp(v, "true") || !strcmp(v, "True") || !strcmp(v, "TRUE"))
			return json_true();
		if (!strcmp(v, "false") || !strcmp(v, "False") || !strcmp(v, "FALSE"))
			return json_false();
		if (is_int_text(v)) {
			errno = 0;
			char *end;
			long long i = strtoll(v, &end, 10);
			if (errno == 0 && !*end)
				return json_integer((json_int_t)i);
			/* Too large: keep every digit, as a string. */
		} else if (is_float_text(v)) {
			errno = 0;
			char *end;
			double d = strtod(v, &end);
			if (!*end && isfinite(d))
				return json_real(d);
		}
	}
	json_t *s = json_string(v);
	/* The loader checked every value is UTF-8; be safe anyway. */
	return s ? s : json_null();
}

/* Any node as a new JSON reference (NULL: json null). */
static json_t *node_json(const struct jv_node *n)
{
	if (!n)
		return json_null();
	switch (n->type) {
	case JV_NODE_SCALAR:
		return scalar_json(n);
	case JV_NODE_SEQ: {
		json_t *a = json_array();
		for (size_t i = 0; a && i < n->n_items; i++)
			json_array_append_new(a, node_json(n->items[i]));
		return a;
	}
	case JV_NODE_MAP: {
		json_t *o = json_object();
		for (size_t i = 0; o && i < n->n_items; i++)
			json_object_set_new(o, n->items[i]->key, node_json(n->items[i]));
		return o;
	}
	}
	return json_null();
}

char *jv_node_to_json(const struct jv_node *node)
{
	json_t *j = node_json(node);
	char *s = j ? json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY | JSON_PRESERVE_ORDER) : NULL;
	json_decref(j);
	char *out = jv_strdup(s ? s : "null");
	free(s);
	return out;
}

/* 1 when s is valid UTF-8 (jansson refuses anything else). */
static int is_utf8(const char *s)
{
	json_t *j = json_string(s);
	json_decref(j);
	return j != NULL;
}

/* ------------------------------------------------------------------ 1. parse */

/* The parser state: libyaml and the one event we look at. */
struct yp {
	struct ctx *c;
	const char *text;
	size_t len;
	yaml_parser_t parser;
	yaml_event_t ev; /* the current event, valid when have_ev */
	int have_ev;
};

/* Report libyaml's error (problem, place, context) into the error buffer. */
static int yaml_failed(struct yp *p)
{
	yaml_parser_t *y = &p->parser;
	const char *problem = y->problem ? y->problem : "cannot parse";
	if (y->error == YAML_MEMORY_ERROR)
		return errat(p->c, 0, 0, "out of memory while parsing YAML");
	if (y->error == YAML_READER_ERROR) {
		/* No mark for these: find the place of the byte ourselves. */
		int line = 1, col = 1;
		for (size_t i = 0; i < y->problem_offset && i < p->len; i++) {
			if (p->text[i] == '\n')
				line++, col = 1;
			else if (((unsigned char)p->text[i] & 0xc0) != 0x80)
				col++;
		}
		return errat(p->c, line, col, "malformed YAML: %s", problem);
	}
	int line = (int)y->problem_mark.line + 1, col = (int)y->problem_mark.column + 1;
	if (y->context)
		return errat(p->c, line, col, "malformed YAML: %s (%s at %d:%d)", problem,
		             y->context, (int)y->context_mark.line + 1,
		             (int)y->context_mark.column + 1);
	return errat(p->c, line, col, "malformed YAML: %s", problem);
}

/* Replace the current event with the next one. */
static int next_event(struct yp *p)
{
	if (p->have_ev) {
		yaml_event_delete(&p->ev);
		p->have_ev = 0;
	}
	if (!yaml_parser_parse(&p->parser, &p->ev))
		return yaml_failed(p);
	p->have_ev = 1;
	return 0;
}

/* An error at a libyaml mark (0-based, printed 1-based). */
static int mark_err(struct yp *p, yaml_mark_t m, const char *fmt, ...) FMT(3, 4);
static int mark_err(struct yp *p, yaml_mark_t m, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	verrat(p->c->name, p->c->err, p->c->errlen, (int)m.line + 1, (int)m.column + 1, fmt, ap);
	va_end(ap);
	return JV_ECONFIG;
}

/* Refuse anchors (we do not do aliases, so they are always a mistake) and
 * tags other than the standard ones. *is_str is set for !!str. */
static int check_props(struct yp *p, const yaml_char_t *anchor, const yaml_char_t *tag,
                       const char *ok_tag, int *is_str)
{
	if (anchor)
		return mark_err(p, p->ev.start_mark,
		                "anchors and aliases are not supported (found anchor '&%s')",
		                (const char *)anchor);
	if (!tag || !strcmp((const char *)tag, "!"))
		return 0;
	if (is_str && !strcmp((const char *)tag, "tag:yaml.org,2002:str")) {
		*is_str = 1;
		return 0;
	}
	if (ok_tag && !strcmp((const char *)tag, ok_tag))
		return 0;
	return mark_err(p, p->ev.start_mark, "YAML tags are not supported (found '%s')",
	                (const char *)tag);
}

static int parse_node(struct yp *p, int depth, struct jv_node **out);

/* The current scalar event as a new node (*out, the caller's). */
static int parse_scalar(struct yp *p, struct jv_node **out)
{
	yaml_event_t *ev = &p->ev;
	int is_str = 0;
	int rc = check_props(p, ev->data.scalar.anchor, ev->data.scalar.tag, NULL, &is_str);
	if (rc)
		return rc;
	if (memchr(ev->data.scalar.value, '\0', ev->data.scalar.length))
		return mark_err(p, ev->start_mark, "a NUL character in a value is not supported");
	struct jv_node *n = node_new(JV_NODE_SCALAR, ev->start_mark);
	n->value = jv_strndup((const char *)ev->data.scalar.value, ev->data.scalar.length);
	n->quoted = is_str || ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE;
	*out = n;
	return 0;
}

/* From the current SEQUENCE-START up to its end, as a new node. */
static int parse_seq(struct yp *p, int depth, struct jv_node **out)
{
	int rc = check_props(p, p->ev.data.sequence_start.anchor, p->ev.data.sequence_start.tag,
	                     "tag:yaml.org,2002:seq", NULL);
	if (rc)
		return rc;
	struct jv_node *n = node_new(JV_NODE_SEQ, p->ev.start_mark);
	for (;;) {
		if ((rc = next_event(p)))
			break;
		if (p->ev.type == YAML_SEQUENCE_END_EVENT) {
			*out = n;
			return 0;
		}
		struct jv_node *child;
		if ((rc = parse_node(p, depth + 1, &child)))
			break;
		node_push(n, child);
	}
	node_free(n);
	return rc;
}

/* From the current MAPPING-START up to its end, as a new node: keys must
 * be scalars and unique; each child gets its key and the key's place. */
static int parse_map(struct yp *p, int depth, struct jv_node **out)
{
	int rc = check_props(p, p->ev.data.mapping_start.anchor, p->ev.data.mapping_start.tag,
	                     "tag:yaml.org,2002:map", NULL);
	if (rc)
		return rc;
	struct jv_node *n = node_new(JV_NODE_MAP, p->ev.start_mark);
	for (;;) {
		if ((rc = next_event(p)))
			break;
		yaml_event_t *ev = &p->ev;
		if (ev->type == YAML_MAPPING_END_EVENT) {
			*out = n;
			return 0;
		}
		if (ev->type == YAML_ALIAS_EVENT) {
			rc = mark_err(p, ev->start_mark,
			              "anchors and aliases are not supported (found alias '*%s')",
			              (const char *)ev->data.alias.anchor);
			break;
		}
		if (ev->type != YAML_SCALAR_EVENT) {
			rc = mark_err(p, ev->start_mark, "a key must be a plain value, not a %s",
			              ev->type == YAML_MAPPING_START_EVENT ? "map" : "list");
			break;
		}
		struct jv_node *key;
		if ((rc = parse_scalar(p, &key)))
			break;
		const struct jv_node *dup = jv_node_get(n, key->value);
		if (dup) {
			rc = errat(p->c, key->line, key->col, "duplicate key '%s' (first at %d:%d)",
			           key->value, dup->key_line, dup->key_col);
			node_free(key);
			break;
		}
		struct jv_node *child = NULL;
		if (!(rc = next_event(p)))
			rc = parse_node(p, depth + 1, &child);
		if (rc) {
			node_free(key);
			break;
		}
		child->key = key->value;
		child->key_line = key->line;
		child->key_col = key->col;
		key->value = NULL;
		node_free(key);
		node_push(n, child);
	}
	node_free(n);
	return rc;
}

/* Parse the node whose first event is current. On success *out is the new
 * node (the caller owns it) and the current event is the node's last. */
static int parse_node(struct yp *p, int depth, struct jv_node **out)
{
	if (depth > MAX_DEPTH)
		return mark_err(p, p->ev.start_mark,
		                "nesting deeper than %d levels is not supported", MAX_DEPTH);
	switch (p->ev.type) {
	case YAML_SCALAR_EVENT:
		return parse_scalar(p, out);
	case YAML_SEQUENCE_START_EVENT:
		return parse_seq(p, depth, out);
	case YAML_MAPPING_START_EVENT:
		return parse_map(p, depth, out);
	case YAML_ALIAS_EVENT:
		return mark_err(p, p->ev.start_mark,
		                "anchors and aliases are not supported (found alias '*%s')",
		                (const char *)p->ev.data.alias.anchor);
	default:
		return mark_err(p, p->ev.start_mark, "unexpected YAML event %d", (int)p->ev.type);
	}
}

/* text (len bytes) -> *root, the caller's. Exactly one document whose top
 * level is a map. */
static int parse_yaml(struct ctx *c, const char *text, size_t len, struct jv_node **root)
{
	struct yp p = {.c = c, .text = text, .len = len};
	struct jv_node *n = NULL;
	int rc;

	*root = NULL;
	if (!yaml_parser_initialize(&p.parser))
		return errat(c, 0, 0, "out of memory while parsing YAML");
	yaml_parser_set_input_string(&p.parser, (const unsigned char *)text, len);

	/* Two events, read one after the other. */
	/* NOLINTNEXTLINE(misc-redundant-expression) */
	if ((rc = next_event(&p)) || (rc = next_event(&p))) /* stream start, then? */
		goto out;
	if (p.ev.type == YAML_STREAM_END_EVENT) {
		rc = errat(c, 1, 1, "the configuration is empty");
		goto out;
	}
	if ((rc = next_event(&p)) || (rc = parse_node(&p, 1, &n))) /* document start, root */
		goto out;
	if ((rc = next_event(&p))) /* document end */
		goto out;
	if ((rc = next_event(&p)))
		goto out;
	if (p.ev.type == YAML_DOCUMENT_START_EVENT) {
		rc = mark_err(&p, p.ev.start_mark,
		              "more than one YAML document ('---') is not supported");
		goto out;
	}
	/* parse_node returns 0 only with a node; the analyzer does not follow
	 * the variadic mark_err(). */
	/* NOLINTNEXTLINE(clang-analyzer-core.NullDereference) */
	if (n->type != JV_NODE_MAP) {
		if (node_is_null(n))
			rc = errat(c, 1, 1, "the configuration is empty");
		else
			rc = errat(c, n->line, n->col,
			           "the top level must be a map of sections (database:, "
			           "processor:, ...), not %s",
			           n->type == JV_NODE_SEQ ? "a list" : "a single value");
		goto out;
	}
	*root = n;
	n = NULL;
out:
	node_free(n);
	if (p.have_ev)
		yaml_event_delete(&p.ev);
	yaml_parser_delete(&p.parser);
	return rc;
}

/* ------------------------------------------------------------------ 2. expand */

/* Characters of an environment variable name: [A-Za-z_][A-Za-z0-9_]*. */
static int is_var_start(char ch)
{
	return ch == '_' || (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z');
}
static int is_var_char(char ch)
{
	return is_var_start(ch) || (ch >= '0' && ch <= '9');
}

/* POSIX has the application declare environ; glibc does only under _GNU_SOURCE. */
/* NOLINTNEXTLINE(readability-redundant-declaration) */
extern char **environ;

/* The variables jv_config_env_seal() took out of the environment,
 * "NAME=VALUE" each. Written once, before serve starts a thread; read-only
 * after, so a reload on the main thread may read them while others run. */
static char **sealed_env;
static size_t n_sealed_env;
static int env_sealed;

/* The "NAME=VALUE" of name in v[0..n), or NULL. */
static const char *env_find(char *const *v, size_t n, const char *name)
{
	size_t len = strlen(name);
	for (size_t i = 0; i < n && v[i]; i++)
		if (!strncmp(v[i], name, len) && v[i][len] == '=')
			return v[i];
	return NULL;
}

/* A variable for ${NAME}: what serve sealed away, else the environment. */
static const char *env_get(const char *name)
{
	const char *kv = env_find(sealed_env, n_sealed_env, name);
	return kv ? kv + strlen(name) + 1 : getenv(name);
}

/* Remember that the file reads name (at n), once per name. */
static void note_env_ref(struct ctx *c, const char *name, const struct jv_node *n)
{
	struct jv_config *cfg = c->cfg;
	for (size_t i = 0; i < cfg->n_env_refs; i++)
		if (!strcmp(cfg->env_refs[i].name, name))
			return;
	cfg->env_refs = jv_realloc(cfg->env_refs, (cfg->n_env_refs + 1) * sizeof *cfg->env_refs);
	cfg->env_refs[cfg->n_env_refs++] =
	    (struct jv_env_ref){.name = jv_strdup(name), .line = n->line, .col = n->col};
}

static const struct jv_env_ref *env_ref(const struct jv_config *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->n_env_refs; i++)
		if (!strcmp(cfg->env_refs[i].name, name))
			return &cfg->env_refs[i];
	return NULL;
}

/* pass_env in the plugin entry sect (path names it) lists variables of
 * serve's environment for the programs the plugin starts: an exact name
 * the file reads is refused (a PREFIX_* entry never matches one, as serve
 * took them out of its environment). Type errors are the plugin's. */
static int check_pass_env(struct ctx *c, const struct jv_node *sect, const char *path)
{
	const struct jv_node *pe = jv_node_get(sect, "pass_env");
	if (!pe)
		return 0;
	size_t n = pe->type == JV_NODE_SEQ ? pe->n_items : 1;
	for (size_t i = 0; i < n; i++) {
		const struct jv_node *item = pe->type == JV_NODE_SEQ ? pe->items[i] : pe;
		if (item->type != JV_NODE_SCALAR)
			continue;
		const struct jv_env_ref *ref = env_ref(c->cfg, item->value);
		if (ref)
			return err_val(c, item,
			               "%s.pass_env: '%s' is read by this configuration (${%s} at "
			               "%d:%d), so serve takes it out of its environment and never "
			               "passes it on",
			               path, ref->name, ref->name, ref->line, ref->col);
	}
	return 0;
}

/* The environment block the kernel gave serve at exec (what
 * /proc/PID/environ shows): [*start, *end). Returns 0, or -1 when unknown. */
static int env_block(uintptr_t *start, uintptr_t *end)
{
	char buf[4096];
	int fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t got = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (got <= 0)
		return -1;
	buf[got] = '\0';
	/* env_start and env_end are fields 50 and 51 (proc(5)); field 2, the
	 * command, may hold spaces. */
	const char *p = strrchr(buf, ')');
	for (int field = 2; p && field < 50; field++)
		p = strchr(p + 1, ' ');
	if (!p)
		return -1;
	char *e;
	errno = 0;
	unsigned long long a = strtoull(p + 1, &e, 10), b = strtoull(e, &e, 10);
	if (errno || a == 0 || b <= a)
		return -1;
	*start = (uintptr_t)a;
	*end = (uintptr_t)b;
	return 0;
}

size_t jv_config_env_seal(const struct jv_config *cfg)
{
	if (env_sealed) {
		for (size_t i = 0; i < cfg->n_env_refs; i++) {
			const struct jv_env_ref *r = &cfg->env_refs[i];
			if (!env_find(sealed_env, n_sealed_env, r->name) && getenv(r->name))
				jv_log(JV_WARNING,
				       "%s:%d:%d: ${%s} was not read at start-up, so it stays in "
				       "the environment of serve, where programs a plugin starts "
				       "could see it; restart serve to take it out",
				       cfg->path, r->line, r->col, r->name);
		}
		return 0;
	}
	env_sealed = 1;
	uintptr_t lo = 0, hi = 0;
	int have_block = env_block(&lo, &hi) == 0;
	struct jv_buf names = {0};
	size_t taken = 0;
	for (size_t i = 0; i < cfg->n_env_refs; i++) {
		const char *name = cfg->env_refs[i].name;
		size_t len = strlen(name);
		const char *kv = env_find(environ, SIZE_MAX, name);
		if (!kv)
			continue;
		sealed_env = jv_realloc(sealed_env, (n_sealed_env + 1) * sizeof *sealed_env);
		sealed_env[n_sealed_env++] = jv_strdup(kv);
		/* Every copy (an environment may hold a name twice), then out. */
		size_t n_copies = 0;
		char **copies = NULL;
		for (char **e = environ; *e; e++)
			if (!strncmp(*e, name, len) && (*e)[len] == '=') {
				copies = jv_realloc(copies, (n_copies + 1) * sizeof *copies);
				copies[n_copies++] = *e + len + 1;
			}
		unsetenv(name);
		for (size_t k = 0; k < n_copies; k++) {
			uintptr_t at = (uintptr_t)copies[k];
			size_t vlen = strlen(copies[k]);
			if (have_block && at >= lo && at + vlen < hi)
				memset(copies[k], 0, vlen);
		}
		free(copies);
		jv_buf_puts(&names, taken++ ? ", " : "");
		jv_buf_puts(&names, name);
	}
	if (taken)
		jv_log(JV_INFO,
		       "took the variables the configuration reads out of the environment (no "
		       "job or plugin sees them): %s",
		       names.data);
	jv_buf_free(&names);
	return taken;
}

/* Expand ${VAR}, ${VAR:-default} and $$ in scalar n; path names it in
 * messages. A '$' followed by anything else stays as it is. One scan with a
 * case per form, its errors naming the column in the scalar: split, the
 * parts would share the output buffer, the position and the column. */
static int expand_scalar(struct ctx *c, struct jv_node *n, const char *path)
{
	if (!strchr(n->value, '$'))
		return 0;
	struct jv_buf b = {0};
	int from_env = 0;
	const char *s = n->value;
	while (*s) {
		const char *dollar = strchr(s, '$');
		if (!dollar) {
			jv_buf_puts(&b, s);
			break;
		}
		jv_buf_append(&b, s, (size_t)(dollar - s));
		if (dollar[1] == '$') {
			jv_buf_append(&b, "$", 1);
			s = dollar + 2;
			continue;
		}
		if (dollar[1] != '{') {
			jv_buf_append(&b, "$", 1);
			s = dollar + 1;
			continue;
		}
		const char *name = dollar + 2, *close = strchr(name, '}');
		if (!close) {
			jv_buf_free(&b);
			return err_val(c, n, "%s: unterminated '${' (missing '}')", path);
		}
		const char *name_end = name;
		while (is_var_char(*name_end))
			name_end++;
		const char *def = NULL;
		if (name_end != close && name_end[0] == ':' && name_end[1] == '-')
			def = name_end + 2;
		if (name_end == name || !is_var_start(*name) || (name_end != close && !def)) {
			int len = (int)(close - dollar + 1);
			jv_buf_free(&b);
			return err_val(
			    c, n,
			    "%s: bad variable reference '%.*s' (write ${NAME} or ${NAME:-default})",
			    path, len > 60 ? 60 : len, dollar);
		}
		if (def) {
			const char *nested = strstr(def, "${");
			if (nested && nested < close) {
				jv_buf_free(&b);
				return err_val(
				    c, n, "%s: a ${...} inside a default is not supported", path);
			}
		}
		char *var = jv_strndup(name, (size_t)(name_end - name));
		note_env_ref(c, var, n);
		const char *val = env_get(var);
		if (val && (!def || val[0])) {
			jv_buf_puts(&b, val);
			from_env = 1;
		} else if (def) {
			jv_buf_append(&b, def, (size_t)(close - def));
		} else {
			jv_buf_free(&b);
			err_val(c, n,
			        "%s: environment variable '%s' is not set (use ${%s:-default} for "
			        "a default)",
			        path, var, var);
			free(var);
			return JV_ECONFIG;
		}
		free(var);
		s = close + 1;
	}
	char *v = jv_buf_steal(&b);
	if (!is_utf8(v)) {
		free(v);
		return err_val(c, n, "%s: the value is not valid UTF-8 after expansion", path);
	}
	free(n->value);
	n->value = v;
	if (from_env)
		n->from_secret = 1;
	return 0;
}

/* Expand every scalar value below n. path is n's name for messages. */
static int expand_tree(struct ctx *c, struct jv_node *n, const char *path)
{
	/* Never NULL: the analyzer does not follow the variadic errat() (always
	 * JV_ECONFIG) and so lets parse_yaml "succeed" without a root. */
	/* NOLINTNEXTLINE(clang-analyzer-core.NullDereference) */
	if (n->type == JV_NODE_SCALAR)
		return expand_scalar(c, n, path);
	for (size_t i = 0; i < n->n_items; i++) {
		struct jv_node *child = n->items[i];
		char *sub;
		if (n->type == JV_NODE_MAP)
			sub = path[0] ? jv_asprintf("%s.%s", path, child->key)
			              : jv_strdup(child->key);
		else
			sub = jv_asprintf("%s[%zu]", path, i);
		int rc = expand_tree(c, child, sub);
		free(sub);
		if (rc)
			return rc;
	}
	return 0;
}

/* ------------------------------------------------------------------ 3. KEY_file */

/* Read a secret from file (relative to c->basedir), trailing newlines
 * stripped. On success *out is freshly allocated (caller frees); on failure
 * a reason is written into why. */
static int read_secret(struct ctx *c, const char *file, char **out, char *why, size_t whylen)
{
#ifdef JV_FUZZ
	/* tests/fuzz_config.c: no input may read the machine's files, only
	 * those the harness put beside the config. */
	if (strchr(file, '/')) {
		snprintf(why, whylen, "fuzzing: only files beside the config");
		return JV_EIO;
	}
#endif
	char *full = file[0] == '/' || !c->basedir ? jv_strdup(file)
	                                           : jv_asprintf("%s/%s", c->basedir, file);
	int fd = open(full, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	free(full);
	if (fd < 0) {
		snprintf(why, whylen, "%s", strerror(errno));
		return JV_EIO;
	}
	struct jv_buf b = {0};
	int rc = 0;
	if (jv_buf_read_fd(&b, fd, MAX_SECRET_BYTES) != 0) {
		if (errno == EFBIG)
			snprintf(why, whylen, "larger than %d bytes", MAX_SECRET_BYTES);
		else
			snprintf(why, whylen, "%s", strerror(errno));
		rc = JV_EIO;
	}
	close(fd);
	if (!rc && b.len && memchr(b.data, '\0', b.len)) {
		snprintf(why, whylen, "it holds a NUL byte");
		rc = JV_EIO;
	}
	while (!rc && b.len && (b.data[b.len - 1] == '\n' || b.data[b.len - 1] == '\r'))
		b.data[--b.len] = '\0';
	if (!rc && b.len == 0) {
		snprintf(why, whylen, "it is empty");
		rc = JV_EIO;
	}
	if (!rc && !is_utf8(b.data)) {
		snprintf(why, whylen, "it is not valid UTF-8 text");
		rc = JV_EIO;
	}
	if (rc) {
		jv_buf_free(&b);
		return rc;
	}
	*out = jv_buf_steal(&b);
	return 0;
}

/* 1 when s is in the NULL-terminated list. */
static int in_list(const char *s, const char *const *list)
{
	for (; *list; list++)
		if (!strcmp(s, *list))
			return 1;
	return 0;
}

/* In map (named path), turn each KEY_file: PATH whose KEY is in secrets (any
 * KEY when secrets is NULL) into KEY: <contents of PATH>. A map that is not
 * a map is left for map_config() to report. */
static int resolve_files(struct ctx *c, struct jv_node *map, const char *path,
                         const char *const *secrets)
{
	if (!map || map->type != JV_NODE_MAP)
		return 0;
	for (size_t i = 0; i < map->n_items; i++) {
		struct jv_node *f = map->items[i];
		size_t kl = strlen(f->key);
		if (kl <= 5 || strcmp(f->key + kl - 5, "_file"))
			continue;
		char *base = jv_strndup(f->key, kl - 5);
		if (secrets && !in_list(base, secrets)) {
			free(base); /* not a secret here: an unknown key, later */
			continue;
		}
		int rc = 0;
		char d[64], why[256];
		char *data = NULL;
		if (jv_node_get(map, base))
			rc = err_key(c, f, "%s: both '%s' and '%s' are set; use only one", path,
			             base, f->key);
		else if (f->type != JV_NODE_SCALAR || node_is_null(f) || !f->value[0])
			rc = err_val(c, f, "%s.%s: expected a file name, got %s", path, f->key,
			             describe(f, d, sizeof d));
		else if (read_secret(c, f->value, &data, why, sizeof why))
			rc = err_val(c, f, "%s.%s: cannot read '%s': %s", path, f->key, f->value,
			             why);
		if (rc) {
			free(base);
			return rc;
		}
		free(f->key);
		f->key = base;
		free(f->value);
		f->value = data;
		f->quoted = 1;
		f->from_secret = 1;
	}
	return 0;
}

/* ------------------------------------------------------------------ 4. map */

enum ftype {
	F_INT,        /* int, min..max */
	F_BOOL,       /* int, 0 or 1 */
	F_STR,        /* char *, non-empty */
	F_CHOICE,     /* char *, one of choices */
	F_CHOICE_IDX, /* int, index into choices */
	F_LIST,       /* char **, NULL-terminated; items from choices when set */
	F_PAYLOAD,    /* char *, JSON text of a map */
	F_OWN,        /* read by a function of its own (api.tokens: map_api_tokens) */
	F_MINUTES,    /* int milliseconds, from a number of minutes (decimals allowed), min..max ms */
};

/* One key of a section: where it goes (offset from the section's struct)
 * and what it may hold. Defaults are set before the table is applied. */
struct field {
	const char *key;
	enum ftype type;
	size_t off;
	int64_t min, max;
	const char *const *choices;
};

/* clang-format off */
#define FINT(k, st, m, lo, hi) {.key = (k), .type = F_INT, .off = offsetof(st, m), .min = (lo), .max = (hi)}
#define FBOOL(k, st, m)        {.key = (k), .type = F_BOOL, .off = offsetof(st, m)}
#define FSTR(k, st, m)         {.key = (k), .type = F_STR, .off = offsetof(st, m)}
#define FCHOICE(k, st, m, ch)  {.key = (k), .type = F_CHOICE, .off = offsetof(st, m), .choices = (ch)}
#define FIDX(k, st, m, ch)     {.key = (k), .type = F_CHOICE_IDX, .off = offsetof(st, m), .choices = (ch)}
#define FLIST(k, st, m, ch)    {.key = (k), .type = F_LIST, .off = offsetof(st, m), .choices = (ch)}
#define FPAYLOAD(k, st, m)     {.key = (k), .type = F_PAYLOAD, .off = offsetof(st, m)}
#define FOWN(k)                {.key = (k), .type = F_OWN}
#define FMINUTES(k, st, m, lo, hi) {.key = (k), .type = F_MINUTES, .off = offsetof(st, m), .min = (lo), .max = (hi)}
#define FEND                   {.key = NULL}

static const char *const sections[] = {"database", "processor", "plugins", "executors", "alerts",
				       "api", "schedules", "history", "alerting", "log", "queues", NULL};
/* Top-level keys that are settings, not sections. */
static const char *const settings[] = {"user", "allow_root", NULL};
static const char *const isolations[] = {"process", "thread", NULL};
static const char *const poolers[] = {"none", "transaction", NULL}; /* enum jv_pooler */
const char *const jv_catch_up_names[] = {"none", "latest", "all", NULL};
const char *const jv_rate_partition_names[] = {"none", "user_id", "type", NULL};
static const char *const formats[] = {"text", "json", NULL};
const char *const jv_event_names[] = {"job_failed",	   "job_timed_out",    "job_retrying",
				      "stuck_jobs_reset",  "processor_down",   "processor_started",
				      "processor_stopped", "failure_rate",     "queue_backlog",
				      NULL};
_Static_assert(sizeof jv_event_names / sizeof jv_event_names[0] == JV_EV_COUNT + 1,
	       "one name per enum jv_event_kind");
static const char *const database_secrets[] = {"url", "listen_url", NULL};
static const char *const api_secrets[] = {"token", "webhook_secret", NULL};
const char *const jv_role_names[] = {"viewer", "operator", "admin", NULL};
static const char *const token_secrets[] = {"token", NULL};

#define C struct jv_config
static const struct field database_fields[] = {
	FSTR("url", C, database.url),
	FIDX("pooler", C, database.pooler, poolers),
	FSTR("listen_url", C, database.listen_url),
	FEND};
static const struct field processor_fields[] = {
	FSTR("name", C, processor.name),
	FINT("batch_size", C, processor.batch_size, 1, 10000),
	FINT("max_concurrent_jobs", C, processor.max_concurrent_jobs, 1, 10000),
	FINT("per_user_limit", C, processor.per_user_limit, 0, 100000),
	FINT("timeout_seconds", C, processor.timeout_seconds, 1, 604800),
	FINT("heartbeat_interval_ms", C, processor.heartbeat_interval_ms, 100, 3600000),
	FMINUTES("stuck_job_timeout_minutes", C, processor.stuck_job_timeout_ms, 6000, 604800000),
	FINT("shutdown_grace_seconds", C, processor.shutdown_grace_seconds, 0, 3600),
	FINT("poll_interval_ms", C, processor.poll_interval_ms, 10, 600000),
	FINT("worker_max_jobs", C, processor.worker_max_jobs, 0, 100000000),
	FINT("prefetch", C, processor.prefetch, 0, 10000),
	FINT("threads", C, processor.threads, 0, 10000),
	FINT("retry_base_ms", C, processor.retry_base_ms, 1, 86400000),
	FINT("retry_max_ms", C, processor.retry_max_ms, 1, 604800000),
	FLIST("queues", C, processor.queues, NULL),
	FEND};
static const struct field plugins_fields[] = {
	FSTR("dir", C, plugins.dir),
	FEND};
static const struct field api_fields[] = {
	FSTR("listen", C, api.listen),
	FSTR("token", C, api.token),
	FOWN("tokens"),
	FSTR("webhook_secret", C, api.webhook_secret),
	FSTR("dashboard_url", C, api.dashboard_url),
	FINT("max_body_bytes", C, api.max_body_bytes, 1024, 64 * 1024 * 1024),
	FSTR("cors_origin", C, api.cors_origin),
	FBOOL("health_requires_token", C, api.health_requires_token),
	FBOOL("metrics_requires_token", C, api.metrics_requires_token),
	FINT("threads", C, api.threads, 1, 64),
	FINT("db_connections", C, api.db_connections, 1, 64),
	FINT("max_connections", C, api.max_connections, 0, 1000000),
	FINT("max_connections_per_address", C, api.max_connections_per_address, 1, 1000000),
	FINT("header_timeout_seconds", C, api.header_timeout_seconds, 1, 3600),
	FINT("statement_timeout_ms", C, api.statement_timeout_ms, 100, 3600000),
	FINT("lock_timeout_ms", C, api.lock_timeout_ms, 10, 3600000),
	FSTR("tls_cert_file", C, api.tls_cert_file),
	FSTR("tls_key_file", C, api.tls_key_file),
	FEND};
static const struct field history_fields[] = {
	FINT("retention_days", C, history.retention_days, 0, 36500),
	FINT("failed_retention_days", C, history.failed_retention_days, 0, 36500),
	FINT("check_interval_seconds", C, history.check_interval_seconds, 1, 86400),
	FINT("max_output_bytes", C, history.max_output_bytes, 0, JV_OUTPUT_MAX),
	FEND};
static const struct field alerting_fields[] = {
	FINT("queue_size", C, alerting.queue_size, 10, 1000000),
	FINT("check_interval_seconds", C, alerting.check_interval_seconds, 1, 3600),
	FINT("processor_down_seconds", C, alerting.processor_down_seconds, 0, 86400),
	FINT("failure_rate_percent", C, alerting.failure_rate_percent, 1, 100),
	FINT("failure_rate_window_seconds", C, alerting.failure_rate_window_seconds, 10, 86400),
	FINT("failure_rate_min_attempts", C, alerting.failure_rate_min_attempts, 1, 1000000),
	FINT("queue_backlog_seconds", C, alerting.queue_backlog_seconds, 1, 604800),
	FEND};
static const struct field log_fields[] = {
	FCHOICE("level", C, log.level, jv_log_level_names),
	FCHOICE("format", C, log.format, formats),
	FEND};
#undef C
#define E struct jv_executor_cfg
static const struct field executor_fields[] = {
	FSTR("plugin", E, plugin),
	FINT("timeout_seconds", E, timeout_seconds, 1, 604800),
	FIDX("isolation", E, isolation, isolations),
	FINT("max_attempts", E, max_attempts, 1, 1000),
	FEND};
#undef E
#define A struct jv_alert_cfg
static const struct field alert_fields[] = {
	FSTR("plugin", A, plugin),
	FLIST("on", A, on, jv_event_names),
	FLIST("type", A, types, NULL),
	FLIST("user", A, users, NULL),
	FINT("fold_seconds", A, fold_seconds, 0, 86400),
	FINT("min_interval_ms", A, min_interval_ms, 0, 3600000),
	FINT("max_attempts", A, max_attempts, 1, 100),
	FINT("timeout_seconds", A, timeout_seconds, 1, 300),
	FEND};
#undef A
#define S struct jv_schedule_cfg
static const struct field schedule_fields[] = {
	FSTR("name", S, name),
	FSTR("cron", S, cron),
	FSTR("timezone", S, timezone),
	FSTR("type", S, type),
	FPAYLOAD("payload", S, payload_json),
	FSTR("user", S, user_id),
	FINT("priority", S, priority, -1000, 1000),
	FINT("max_attempts", S, max_attempts, 1, 1000),
	FBOOL("enabled", S, enabled),
	FCHOICE("catch_up", S, catch_up, jv_catch_up_names),
	FINT("jitter_seconds", S, jitter_seconds, 0, 86400),
	FSTR("queue", S, queue),
	FEND};
#undef S
#define Q struct jv_queue_cfg
static const struct field queue_fields[] = {
	FINT("concurrency", Q, concurrency, 1, 10000),
	FINT("global_concurrency", Q, global_concurrency, 1, 1000000),
	FBOOL("paused", Q, paused),
	FEND};
static const struct field rate_fields[] = {
	FINT("allowed", Q, rate_allowed, 1, 1000000),
	FINT("period_seconds", Q, rate_period_seconds, 1, 86400),
	FIDX("partition_by", Q, rate_partition, jv_rate_partition_names),
	FEND};
#undef Q
/* clang-format on */

/* Free a NULL-terminated array of strings and the strings. NULL is fine. */
static void strv_free(char **v)
{
	if (!v)
		return;
	for (char **p = v; *p; p++)
		free(*p);
	free(v);
}

/* The keys of a field table, NULL-terminated, for hints (caller frees the
 * array, not the strings). */
static const char **field_keys(const struct field *fields)
{
	size_t n = 0;
	while (fields[n].key)
		n++;
	const char **keys = jv_calloc(n + 1, sizeof *keys);
	for (size_t i = 0; i < n; i++)
		keys[i] = fields[i].key;
	return keys;
}

const char **jv_config_host_keys(enum jv_plugin_section section)
{
	return field_keys(section == JV_SECTION_ALERT ? alert_fields : executor_fields);
}

/* "unknown key 'k' in path (did you mean ...?) (known keys: ...)" at the key. */
static int unknown_key(struct ctx *c, const struct jv_node *item, const char *path,
                       const struct field *fields)
{
	const char **keys = field_keys(fields);
	char h[96], list[512];
	hint(item->key, keys, h, sizeof h);
	join(keys, list, sizeof list);
	free(keys);
	return err_key(c, item, "unknown key '%s' in %s%s (known keys: %s)", item->key, path, h,
	               list);
}

/* One string item of a list (or a single string), checked against choices. */
static int list_item(struct ctx *c, const struct jv_node *n, const char *path,
                     const char *const *choices)
{
	char d[64], h[96], list[512];
	if (n->type != JV_NODE_SCALAR || node_is_null(n) || !n->value[0])
		return err_val(c, n, "%s: expected a string, got %s", path,
		               describe(n, d, sizeof d));
	if (choices && !in_list(n->value, choices))
		return err_val(c, n, "%s: unknown value %s%s (one of: %s)", path,
		               describe(n, d, sizeof d), hint(n->value, choices, h, sizeof h),
		               join(choices, list, sizeof list));
	return 0;
}

/* set_field() for a string or a choice (kept as its text, or as its index
 * for F_CHOICE_IDX). "" is "not set", like null. */
static int set_text(struct ctx *c, const struct jv_node *item, const char *path,
                    const struct field *f, char *slot)
{
	char d[64], list[512], h[96];
	if (item->type != JV_NODE_SCALAR)
		return err_val(c, item, "%s: expected a string, got %s", path,
		               describe(item, d, sizeof d));
	if (!item->value[0])
		return 0;
	if (f->type == F_STR) {
		char **sp = (char **)(void *)slot;
		free(*sp);
		*sp = jv_strdup(item->value);
		return 0;
	}
	for (size_t i = 0; f->choices[i]; i++) {
		if (strcmp(item->value, f->choices[i]))
			continue;
		if (f->type == F_CHOICE_IDX) {
			*(int *)(void *)slot = (int)i;
		} else {
			char **sp = (char **)(void *)slot;
			free(*sp);
			*sp = jv_strdup(item->value);
		}
		return 0;
	}
	return err_val(c, item, "%s: %s is not one of: %s%s", path, describe(item, d, sizeof d),
	               join(f->choices, list, sizeof list), hint(item->value, f->choices, h, sizeof h));
}

/* set_field() for a list of strings (a lone string is a list of one). */
static int set_list(struct ctx *c, const struct jv_node *item, const char *path,
                    const struct field *f, char *slot)
{
	size_t n = item->type == JV_NODE_SEQ ? item->n_items : 1;
	if (item->type == JV_NODE_MAP)
		return err_val(c, item, "%s: expected a list of strings, got a map", path);
	for (size_t i = 0; i < n; i++) {
		const struct jv_node *it = item->type == JV_NODE_SEQ ? item->items[i] : item;
		int rc = list_item(c, it, path, f->choices);
		if (rc)
			return rc;
	}
	char ***vp = (char ***)(void *)slot;
	strv_free(*vp);
	*vp = NULL;
	if (n == 0)
		return 0;
	char **v = jv_calloc(n + 1, sizeof *v);
	for (size_t i = 0; i < n; i++)
		v[i] = jv_strdup(item->type == JV_NODE_SEQ ? item->items[i]->value : item->value);
	*vp = v;
	return 0;
}

/* Store the value of item into the field f of the struct at base. A null
 * value keeps the default. */
static int set_field(struct ctx *c, const struct jv_node *item, const char *section,
                     const struct field *f, void *base)
{
	char *slot = (char *)base + f->off;
	char path[256], d[64], why[160];
	snprintf(path, sizeof path, "%s.%s", section, f->key);

	if (node_is_null(item))
		return 0;
	switch (f->type) {
	case F_INT: {
		int64_t v;
		if (jv_node_int(item, &v, why, sizeof why))
			return err_val(c, item, "%s: %s", path, why);
		if (v < f->min || v > f->max)
			return err_val(c, item, "%s: %lld is out of range (%lld..%lld)", path,
			               (long long)v, (long long)f->min, (long long)f->max);
		*(int *)(void *)slot = (int)v;
		return 0;
	}
	case F_BOOL: {
		int v;
		if (jv_node_bool(item, &v, why, sizeof why))
			return err_val(c, item, "%s: %s", path, why);
		*(int *)(void *)slot = v;
		return 0;
	}
	case F_STR:
	case F_CHOICE:
	case F_CHOICE_IDX:
		return set_text(c, item, path, f, slot);
	case F_LIST:
		return set_list(c, item, path, f, slot);
	case F_MINUTES: {
		double v;
		if (jv_node_double(item, &v, why, sizeof why))
			return err_val(c, item, "%s: %s", path, why);
		double ms = v * 60000.0;
		if (!(ms >= (double)f->min && ms <= (double)f->max))
			return err_val(c, item, "%s: %s is out of range (%g..%g minutes)", path,
			               item->value, (double)f->min / 60000.0, (double)f->max / 60000.0);
		*(int *)(void *)slot = (int)(ms + 0.5);
		return 0;
	}
	case F_OWN:
		return 0;
	case F_PAYLOAD: {
		if (item->type != JV_NODE_MAP)
			return err_val(c, item, "%s: expected a map, got %s", path,
			               describe(item, d, sizeof d));
		char **sp = (char **)(void *)slot;
		free(*sp);
		*sp = jv_node_to_json(item);
		if (*sp && strlen(*sp) > JV_PAYLOAD_MAX)
			return err_val(c, item, "%s: %zu bytes as JSON, the limit is %d bytes", path,
			               strlen(*sp), JV_PAYLOAD_MAX);
		return 0;
	}
	}
	return err_val(c, item, "%s: internal error: unknown field type", path);
}

/* The field for key, or NULL. */
static const struct field *find_field(const struct field *fields, const char *key)
{
	for (; fields->key; fields++)
		if (!strcmp(fields->key, key))
			return fields;
	return NULL;
}

/* Apply every key of map to the struct at base. With strict, a key not in
 * fields is an error; without, it belongs to a plugin and is skipped. */
static int apply_fields(struct ctx *c, const struct jv_node *map, const char *path,
                        const struct field *fields, void *base, int strict)
{
	if (!map)
		return 0;
	for (size_t i = 0; i < map->n_items; i++) {
		const struct jv_node *item = map->items[i];
		const struct field *f = find_field(fields, item->key);
		int rc = f        ? set_field(c, item, path, f, base)
		         : strict ? unknown_key(c, item, path, fields)
		                  : 0;
		if (rc)
			return rc;
	}
	return 0;
}

/* A section's map: *out is the map, or NULL for an absent or null section.
 * Anything else is an error. */
static int section_map(struct ctx *c, const struct jv_node *n, const char *path,
                       const struct jv_node **out)
{
	char d[64];
	*out = NULL;
	if (!n || node_is_null(n))
		return 0;
	if (n->type != JV_NODE_MAP)
		return err_val(c, n, "%s: expected a map, got %s", path, describe(n, d, sizeof d));
	*out = n;
	return 0;
}

/* Like section_map, for a section that is a list. */
static int section_seq(struct ctx *c, const struct jv_node *n, const char *path,
                       const struct jv_node **out)
{
	char d[64];
	*out = NULL;
	if (!n || node_is_null(n))
		return 0;
	if (n->type != JV_NODE_SEQ)
		return err_val(c, n, "%s: expected a list, got %s", path, describe(n, d, sizeof d));
	*out = n;
	return 0;
}

/* 1 when s is 1..max characters from [a-z0-9] and extra. */
static int valid_name(const char *s, const char *extra, size_t max)
{
	size_t len = strlen(s);
	if (len == 0 || len > max)
		return 0;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || strchr(extra, *s)))
			return 0;
	return 1;
}

int jv_schedule_name_ok(const char *name)
{
	return name && valid_name(name, "_.-ABCDEFGHIJKLMNOPQRSTUVWXYZ", JV_SCHEDULE_NAME_MAX);
}

int jv_queue_name_ok(const char *name)
{
	return name && valid_name(name, "_.-", JV_QUEUE_NAME_MAX);
}

/* A plugin name the loader can find: [a-z0-9_]+ (it loads DIR/NAME.so). */
static int check_plugin_name(struct ctx *c, const struct jv_node *sect, const char *path,
                             const char *plugin)
{
	if (valid_name(plugin, "_", 64))
		return 0;
	const struct jv_node *pn = jv_node_get(sect, "plugin");
	char d[64];
	return err_val(c, pn,
	               "%s.plugin: %s is not a plugin name (lower-case letters, digits and '_')",
	               path, describe(pn, d, sizeof d));
}

/* "HOST:PORT" with a port in 0..65535 (0: any free one); HOST may be [v6]. */
static int check_listen(struct ctx *c, const struct jv_node *n, const char *v)
{
	char d[64];
	const char *colon = strrchr(v, ':');
	if (!colon || colon == v || !colon[1] || (v[0] == '[' && colon[-1] != ']'))
		return err_val(c, n, "api.listen: expected HOST:PORT (e.g. 127.0.0.1:8080), got %s",
		               describe(n, d, sizeof d));
	const char *port = colon + 1;
	for (const char *p = port; *p; p++)
		if (*p < '0' || *p > '9')
			return err_val(c, n, "api.listen: port '%s' is not a number", port);
	errno = 0;
	long long v_port = strtoll(port, NULL, 10);
	if (errno || v_port < 0 || v_port > 65535)
		return err_val(c, n, "api.listen: port %s is out of range (0..65535)", port);
	return 0;
}

/* 1 when listen's host is a loopback address (127.0.0.0/8, ::1, localhost). */
static int loopback_listen(const char *v)
{
	const char *colon = strrchr(v, ':');
	size_t n = colon ? (size_t)(colon - v) : strlen(v);
	if ((n == 5 && !strncmp(v, "[::1]", 5)) || (n == 9 && !strncmp(v, "localhost", 9)))
		return 1;
	return n > 4 && !strncmp(v, "127.", 4);
}

/* executors: a map job type -> { the keys of executor_fields, plugin
 * keys... }. Fills cfg->executors. */
static int map_executors(struct ctx *c, const struct jv_node *root)
{
	const struct jv_node *sect;
	int rc = section_map(c, jv_node_get(root, "executors"), "executors", &sect);
	if (rc || !sect)
		return rc;
	struct jv_config *cfg = c->cfg;
	cfg->executors = jv_calloc(sect->n_items, sizeof *cfg->executors);
	for (size_t i = 0; i < sect->n_items; i++) {
		const struct jv_node *it = sect->items[i];
		struct jv_executor_cfg *ex = &cfg->executors[cfg->n_executors++];
		char path[160], d[64];
		ex->name = jv_strdup(it->key);
		ex->isolation = JV_ISOLATION_PROCESS;
		ex->node = it;
		if (!valid_name(it->key, "_.-", MAX_NAME_LEN))
			return err_key(c, it,
			               "executor name '%s' is not valid (use 1 to %d of a-z, 0-9, "
			               "'_', '.', '-')",
			               it->key, MAX_NAME_LEN);
		snprintf(path, sizeof path, "executors.%s", it->key);
		if (node_is_null(it))
			return err_key(c, it, "executor '%s' has no plugin (add plugin: NAME)",
			               it->key);
		if (it->type != JV_NODE_MAP)
			return err_val(c, it, "%s: expected a map such as { plugin: NAME }, got %s",
			               path, describe(it, d, sizeof d));
		if ((rc = apply_fields(c, it, path, executor_fields, ex, 0)))
			return rc;
		if (!ex->plugin)
			return err_key(c, it, "executor '%s' has no plugin (add plugin: NAME)",
			               it->key);
		if ((rc = check_plugin_name(c, it, path, ex->plugin)))
			return rc;
	}
	return 0;
}

/* alerts: a list of { the keys of alert_fields, plugin keys... }. */
static int map_alerts(struct ctx *c, const struct jv_node *root)
{
	const struct jv_node *sect;
	int rc = section_seq(c, jv_node_get(root, "alerts"), "alerts", &sect);
	if (rc || !sect)
		return rc;
	struct jv_config *cfg = c->cfg;
	cfg->alerts = jv_calloc(sect->n_items, sizeof *cfg->alerts);
	for (size_t i = 0; i < sect->n_items; i++) {
		const struct jv_node *it = sect->items[i];
		struct jv_alert_cfg *al = &cfg->alerts[cfg->n_alerts++];
		char path[64], d[64];
		al->node = it;
		snprintf(path, sizeof path, "alerts[%zu]", i);
		if (it->type != JV_NODE_MAP)
			return err_val(
			    c, it,
			    "%s: expected a map such as { plugin: NAME, on: [job_failed] }, got %s",
			    path, describe(it, d, sizeof d));
		al->fold_seconds = 60;
		al->min_interval_ms = 1000;
		al->max_attempts = 5;
		al->timeout_seconds = 10;
		if ((rc = apply_fields(c, it, path, alert_fields, al, 0)))
			return rc;
		if (!al->plugin)
			return err_val(c, it, "%s has no plugin (add plugin: NAME)", path);
		if ((rc = check_plugin_name(c, it, path, al->plugin)))
			return rc;
		if (!al->on) {
			const struct jv_node *on = jv_node_get(it, "on");
			if (on)
				return err_val(c, on, "%s.on: list at least one event", path);
			return err_val(
			    c, it,
			    "%s has no 'on' (list the events to send, e.g. on: [job_failed])",
			    path);
		}
	}
	return 0;
}

/* 1 when an executor of that name is configured. */
static int has_executor(const struct jv_config *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->n_executors; i++)
		if (!strcmp(cfg->executors[i].name, name))
			return 1;
	return 0;
}

/* 1 when the queue is 'default' or configured under queues:. */
static int has_queue(const struct jv_config *cfg, const char *name)
{
	if (!strcmp(name, "default"))
		return 1;
	for (size_t i = 0; i < cfg->n_queues; i++)
		if (!strcmp(cfg->queues[i].name, name))
			return 1;
	return 0;
}

/* An error at n: the queue name is not configured (with the names that
 * are). */
static int unknown_queue(struct ctx *c, const struct jv_node *n, const char *path,
                         const char *name)
{
	const struct jv_config *cfg = c->cfg;
	const char **names = jv_calloc(cfg->n_queues + 2, sizeof *names);
	char h[96], list[512];
	names[0] = "default";
	for (size_t j = 0; j < cfg->n_queues; j++)
		names[j + 1] = cfg->queues[j].name;
	hint(name, names, h, sizeof h);
	join(names, list, sizeof list);
	free(names);
	return err_val(c, n, "%s: unknown queue '%s'%s (queues: %s; add it under queues:)", path,
	               name, h, list);
}

/* unknown_key() for a key of queues.NAME: the hint and the list name
 * rate_limit too (a map of its own, not in queue_fields). */
static int unknown_queue_key(struct ctx *c, const struct jv_node *item, const char *path)
{
	size_t n = 0;
	while (queue_fields[n].key)
		n++;
	const char **keys = jv_calloc(n + 2, sizeof *keys);
	for (size_t i = 0; i < n; i++)
		keys[i] = queue_fields[i].key;
	keys[n] = "rate_limit";
	char h[96], list[512];
	hint(item->key, keys, h, sizeof h);
	join(keys, list, sizeof list);
	free(keys);
	return err_key(c, item, "unknown key '%s' in %s%s (known keys: %s)", item->key, path, h,
	               list);
}

/* queues: a map NAME -> { concurrency, global_concurrency, paused,
 * rate_limit: { allowed, period_seconds, partition_by } }. */
static int map_queues(struct ctx *c, const struct jv_node *root)
{
	const struct jv_node *sect;
	int rc = section_map(c, jv_node_get(root, "queues"), "queues", &sect);
	if (rc || !sect)
		return rc;
	struct jv_config *cfg = c->cfg;
	cfg->queues = jv_calloc(sect->n_items, sizeof *cfg->queues);
	for (size_t i = 0; i < sect->n_items; i++) {
		const struct jv_node *it = sect->items[i];
		struct jv_queue_cfg *q = &cfg->queues[cfg->n_queues++];
		char path[160], d[64];
		q->name = jv_strdup(it->key);
		q->node = it;
		if (!valid_name(it->key, "_.-", JV_QUEUE_NAME_MAX))
			return err_key(c, it,
			               "queue name '%s' is not valid (use 1 to %d of a-z, 0-9, '_', "
			               "'.', '-')",
			               it->key, JV_QUEUE_NAME_MAX);
		snprintf(path, sizeof path, "queues.%s", it->key);
		if (node_is_null(it))
			continue; /* a queue with no limits of its own */
		if (it->type != JV_NODE_MAP)
			return err_val(c, it,
			               "%s: expected a map such as { concurrency: 5 }, got %s", path,
			               describe(it, d, sizeof d));
		for (size_t k = 0; k < it->n_items; k++) {
			const struct jv_node *kv = it->items[k];
			if (strcmp(kv->key, "rate_limit") && !find_field(queue_fields, kv->key))
				return unknown_queue_key(c, kv, path);
		}
		if ((rc = apply_fields(c, it, path, queue_fields, q, 0)))
			return rc;
		const struct jv_node *rl = jv_node_get(it, "rate_limit");
		if (!rl || node_is_null(rl))
			continue;
		char rpath[192];
		snprintf(rpath, sizeof rpath, "%s.rate_limit", path);
		if (rl->type != JV_NODE_MAP)
			return err_val(c, rl,
			               "%s: expected a map such as { allowed: 10, period_seconds: 60 }, "
			               "got %s",
			               rpath, describe(rl, d, sizeof d));
		q->rate_allowed = -1;
		q->rate_period_seconds = -1;
		if ((rc = apply_fields(c, rl, rpath, rate_fields, q, 1)))
			return rc;
		if (q->rate_allowed < 0)
			return err_val(c, rl, "%s has no allowed (the starts allowed per period)",
			               rpath);
		if (q->rate_period_seconds < 0)
			return err_val(c, rl, "%s has no period_seconds (the window, 1 to 86400)",
			               rpath);
	}
	return 0;
}

char *jv_config_queues_json(const struct jv_config *cfg)
{
	if (cfg->n_queues == 0)
		return NULL;
	json_t *o = json_object();
	for (size_t i = 0; i < cfg->n_queues; i++) {
		const struct jv_queue_cfg *q = &cfg->queues[i];
		json_t *e = json_object();
		if (q->global_concurrency > 0)
			json_object_set_new(e, "global_concurrency", json_integer(q->global_concurrency));
		if (q->paused)
			json_object_set_new(e, "paused", json_true());
		if (q->rate_allowed > 0)
			json_object_set_new(
			    e, "rate_limit",
			    json_pack("{s:i, s:i, s:s}", "allowed", q->rate_allowed, "period_seconds",
				      q->rate_period_seconds, "partition_by",
				      jv_rate_partition_names[q->rate_partition]));
		json_object_set_new(o, q->name, e);
	}
	char *text = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return text;
}

/* processor.queues: each one configured (or 'default'). */
static int check_processor_queues(struct ctx *c, const struct jv_node *root)
{
	const struct jv_config *cfg = c->cfg;
	if (!cfg->processor.queues)
		return 0;
	const struct jv_node *list = jv_node_get(jv_node_get(root, "processor"), "queues");
	for (size_t i = 0; cfg->processor.queues[i]; i++) {
		const char *name = cfg->processor.queues[i];
		if (has_queue(cfg, name))
			continue;
		const struct jv_node *at = list;
		if (list && list->type == JV_NODE_SEQ && i < list->n_items)
			at = list->items[i];
		return unknown_queue(c, at, "processor.queues", name);
	}
	return 0;
}

/* schedules: a list of { name, cron, type, ... }; names unique, types
 * among the executors (so executors are mapped first), queues among the
 * queues (mapped before too). */
static int map_schedules(struct ctx *c, const struct jv_node *root)
{
	const struct jv_node *sect;
	int rc = section_seq(c, jv_node_get(root, "schedules"), "schedules", &sect);
	if (rc || !sect)
		return rc;
	struct jv_config *cfg = c->cfg;
	cfg->schedules = jv_calloc(sect->n_items, sizeof *cfg->schedules);
	for (size_t i = 0; i < sect->n_items; i++) {
		const struct jv_node *it = sect->items[i];
		struct jv_schedule_cfg *sc = &cfg->schedules[cfg->n_schedules++];
		char path[64], d[64];
		sc->node = it;
		sc->timezone = jv_strdup("UTC");
		sc->payload_json = jv_strdup("{}");
		sc->enabled = 1;
		sc->catch_up = jv_strdup("latest");
		snprintf(path, sizeof path, "schedules[%zu]", i);
		if (it->type != JV_NODE_MAP)
			return err_val(c, it,
			               "%s: expected a map such as { name: N, cron: \"0 3 * * *\", "
			               "type: T }, got %s",
			               path, describe(it, d, sizeof d));
		if ((rc = apply_fields(c, it, path, schedule_fields, sc, 1)))
			return rc;
		if (!sc->name)
			return err_val(c, it, "%s has no name", path);
		const struct jv_node *nn = jv_node_get(it, "name");
		if (!jv_schedule_name_ok(sc->name))
			return err_val(c, nn, "%s.name: '%s' is not valid (use " JV_SCHEDULE_NAME_RULE ")",
			               path, sc->name);
		for (size_t j = 0; j < i; j++) {
			if (strcmp(cfg->schedules[j].name, sc->name))
				continue;
			const struct jv_node *first = jv_node_get(cfg->schedules[j].node, "name");
			return err_val(c, nn,
			               "%s.name: duplicate schedule name '%s' (first at %d:%d)",
			               path, sc->name, first->line, first->col);
		}
		if (!sc->cron)
			return err_val(c, it,
			               "schedule '%s' has no cron (e.g. cron: \"0 3 * * *\")",
			               sc->name);
		if (!sc->type)
			return err_val(c, it,
			               "schedule '%s' has no type (the executor that runs it)",
			               sc->name);
		if (!has_executor(cfg, sc->type)) {
			const char **names = jv_calloc(cfg->n_executors + 1, sizeof *names);
			char h[96], list[512];
			for (size_t j = 0; j < cfg->n_executors; j++)
				names[j] = cfg->executors[j].name;
			hint(sc->type, names, h, sizeof h);
			join(names, list, sizeof list);
			free(names);
			return err_val(c, jv_node_get(it, "type"),
			               "%s.type: no executor '%s' is configured%s (executors: %s)",
			               path, sc->type, h, cfg->n_executors ? list : "none");
		}
		if (sc->queue && !has_queue(cfg, sc->queue)) {
			char qpath[80];
			snprintf(qpath, sizeof qpath, "%s.queue", path);
			return unknown_queue(c, jv_node_get(it, "queue"), qpath, sc->queue);
		}
		if (sc->user_id && strlen(sc->user_id) > JV_USER_MAX)
			return err_val(c, jv_node_get(it, "user"),
			               "%s.user: %zu bytes, the limit is %d bytes", path,
			               strlen(sc->user_id), JV_USER_MAX);
	}
	/* Then what each says: its cron expression and its time zone. */
	for (size_t i = 0; i < cfg->n_schedules; i++) {
		const struct jv_schedule_cfg *sc = &cfg->schedules[i];
		char cerr[256];
		struct jv_cron *cron = NULL;
		if (jv_cron_parse(sc->cron, &cron, cerr, sizeof cerr) != 0)
			return err_val(c, jv_node_get(sc->node, "cron"), "schedules[%zu].cron: %s", i,
			               cerr);
		jv_cron_free(cron);
		if (!jv_tz_valid(sc->timezone))
			return err_val(c, jv_node_get(sc->node, "timezone"),
			               "schedules[%zu].timezone: unknown time zone '%s' (an IANA name "
			               "such as Europe/Berlin, or UTC)",
			               i, sc->timezone);
	}
	return 0;
}

/* Every optional setting's default; strings are allocated so that a value
 * from the file can simply replace them. */
static void set_defaults(struct jv_config *cfg)
{
	char host[256];
	if (gethostname(host, sizeof host) != 0 || !host[0])
		snprintf(host, sizeof host, "jobvisor");
	host[sizeof host - 1] = '\0';
	cfg->processor.name = jv_strdup(host);
	cfg->processor.batch_size = 20;
	cfg->processor.max_concurrent_jobs = 10;
	cfg->processor.per_user_limit = 0;
	cfg->processor.timeout_seconds = 120;
	cfg->processor.heartbeat_interval_ms = 30000;
	cfg->processor.stuck_job_timeout_ms = 5 * 60000;
	cfg->processor.shutdown_grace_seconds = 30;
	cfg->processor.poll_interval_ms = 1000;
	cfg->processor.worker_max_jobs = 0;
	cfg->processor.prefetch = 0;
	cfg->processor.threads = 0;
	cfg->processor.retry_base_ms = 1000;
	cfg->processor.retry_max_ms = 3600000;
	cfg->plugins.dir = jv_strdup(JV_PLUGINDIR);
	cfg->api.listen = jv_strdup("127.0.0.1:8080");
	cfg->api.max_body_bytes = JV_API_BODY_DEFAULT;
	cfg->api.threads = 4;
	cfg->api.db_connections = 4;
	cfg->api.max_connections_per_address = 64;
	cfg->api.header_timeout_seconds = 10;
	cfg->api.statement_timeout_ms = 10000;
	cfg->api.lock_timeout_ms = 2000;
	cfg->history.retention_days = 30;
	cfg->history.failed_retention_days = -1;
	cfg->history.check_interval_seconds = 60;
	cfg->history.max_output_bytes = 65536;
	cfg->alerting.queue_size = 1000;
	cfg->alerting.check_interval_seconds = 30;
	cfg->alerting.processor_down_seconds = 0;
	cfg->alerting.failure_rate_percent = 50;
	cfg->alerting.failure_rate_window_seconds = 300;
	cfg->alerting.failure_rate_min_attempts = 20;
	cfg->alerting.queue_backlog_seconds = 600;
	cfg->log.level = jv_strdup("info");
	cfg->log.format = jv_strdup("text");
}

/* A simple section (a map of typed keys) from the table. */
static int map_simple(struct ctx *c, const struct jv_node *root, const char *name,
                      const struct field *fields)
{
	const struct jv_node *sect;
	int rc = section_map(c, jv_node_get(root, name), name, &sect);
	if (rc)
		return rc;
	return apply_fields(c, sect, name, fields, c->cfg, 1);
}

/* The top-level settings: user (an account that exists and is not root)
 * and allow_root. The account is looked up here, so that a typo is a
 * FILE:LINE:COL error at check-config time, not a failed start. */
static int map_settings(struct ctx *c, const struct jv_node *root)
{
	char d[64], why[160], buf[4096];
	const struct jv_node *n = jv_node_get(root, "allow_root");
	if (n && !node_is_null(n) && jv_node_bool(n, &c->cfg->allow_root, why, sizeof why))
		return err_val(c, n, "allow_root: %s", why);
	n = jv_node_get(root, "user");
	if (!n || node_is_null(n) || (n->type == JV_NODE_SCALAR && !n->value[0]))
		return 0;
	if (n->type != JV_NODE_SCALAR)
		return err_val(c, n, "user: expected an account name, got %s",
		               describe(n, d, sizeof d));
	struct passwd pwbuf, *pw = NULL;
	int rc = getpwnam_r(n->value, &pwbuf, buf, sizeof buf, &pw);
	if (!pw)
		return err_val(c, n, "user: unknown account %s (%s)", describe(n, d, sizeof d),
		               rc ? strerror(rc) : "no such user on this host");
	if (pw->pw_uid == 0)
		return err_val(c, n,
		               "user: %s is uid 0, which is root: name an unprivileged account "
		               "(or set allow_root: true, discouraged)",
		               describe(n, d, sizeof d));
	c->cfg->user = jv_strdup(n->value);
	return 0;
}

/* Rules across the keys of database: (after every section was read). */
static int check_database(struct ctx *c, const struct jv_node *root)
{
	const struct jv_config *cfg = c->cfg;
	const struct jv_node *db = jv_node_get(root, "database");
	if (!cfg->database.url) {
		if (db)
			return err_key(c, db,
			               "database.url is required (e.g. url: \"${DATABASE_URL}\")");
		return errat(
		    c, 1, 1,
		    "database.url is required: add database: { url: \"${DATABASE_URL}\" }");
	}
	/* listen_url stands in for url's LISTEN only behind a transaction
	 * pooler; set otherwise it would be ignored without a word. */
	if (cfg->database.listen_url && cfg->database.pooler != JV_POOLER_TRANSACTION)
		return err_key(c, jv_node_get(db, "listen_url"),
		               "database.listen_url is only for database.pooler: transaction "
		               "(without a pooler, database.url carries LISTEN itself)");
	/* LISTEN through a transaction pooler is lost without an error: the one
	 * sure case of it is refused. */
	if (cfg->database.pooler == JV_POOLER_TRANSACTION && cfg->database.listen_url &&
	    !strcmp(cfg->database.listen_url, cfg->database.url))
		return err_val(c, jv_node_get(db, "listen_url"),
		               "database.listen_url is database.url, which goes through a "
		               "transaction pooler (pooler: transaction), where LISTEN is lost: "
		               "point it at PostgreSQL itself, or leave it out to poll");

	return 0;
}

/* 1 when s is visible ASCII only (no space, no control character): what a
 * bearer token in an HTTP header can carry. */
static int visible_ascii(const char *s)
{
	for (; *s; s++)
		if (*s < 0x21 || *s > 0x7e)
			return 0;
	return 1;
}

/* api.tokens: a list of { name, token (or token_file), role }. Names and
 * tokens unique, api.token's among them. */
static int map_api_tokens(struct ctx *c, const struct jv_node *root)
{
	static const char *const keys[] = {"name", "token", "role", NULL};
	struct jv_config *cfg = c->cfg;
	const struct jv_node *sect;
	char d[64], h[96], list[128];
	int rc = section_seq(c, jv_node_get(jv_node_get(root, "api"), "tokens"), "api.tokens",
	                     &sect);
	if (rc || !sect)
		return rc;
	cfg->api.tokens = jv_calloc(sect->n_items, sizeof *cfg->api.tokens);
	for (size_t i = 0; i < sect->n_items; i++) {
		const struct jv_node *it = sect->items[i];
		struct jv_api_token *t = &cfg->api.tokens[cfg->api.n_tokens++];
		char path[64];
		snprintf(path, sizeof path, "api.tokens[%zu]", i);
		t->node = it;
		if (it->type != JV_NODE_MAP)
			return err_val(c, it,
			               "%s: expected a map such as { name: ci, token: \"${CI_TOKEN}\", "
			               "role: operator }, got %s",
			               path, describe(it, d, sizeof d));
		for (size_t k = 0; k < it->n_items; k++)
			if (!in_list(it->items[k]->key, keys))
				return err_key(c, it->items[k], "unknown key '%s' in %s%s (known keys: %s)",
				               it->items[k]->key, path,
				               hint(it->items[k]->key, keys, h, sizeof h),
				               join(keys, list, sizeof list));
		const struct jv_node *name = jv_node_get(it, "name");
		const struct jv_node *tok = jv_node_get(it, "token");
		const struct jv_node *role = jv_node_get(it, "role");
		if (!name || name->type != JV_NODE_SCALAR || node_is_null(name) || !name->value[0])
			return err_val(c, name ? name : it, "%s: needs a name (%s)", path,
			               JV_TOKEN_NAME_RULE);
		if (!valid_name(name->value, "_.-ABCDEFGHIJKLMNOPQRSTUVWXYZ", JV_TOKEN_NAME_MAX))
			return err_val(c, name, "%s.name: '%.80s' is not valid (%s)", path, name->value,
			               JV_TOKEN_NAME_RULE);
		if (!strcmp(name->value, JV_API_TOKEN_NAME))
			return err_val(c, name, "%s.name: '%s' is the name of api.token: choose another",
			               path, JV_API_TOKEN_NAME);
		t->name = jv_strdup(name->value);
		/* (an unset ${VAR:-} is an empty token: refused, never "no token") */
		if (!tok || tok->type != JV_NODE_SCALAR || node_is_null(tok) || !tok->value[0])
			return err_val(c, tok ? tok : it,
			               "%s: token '%s' has no token (token: \"${VAR}\" or "
			               "token_file: PATH; an unset variable is empty)",
			               path, t->name);
		if (strlen(tok->value) < JV_TOKEN_MIN || strlen(tok->value) > JV_TOKEN_MAX)
			return err_val(c, tok, "%s.token: token '%s' is %zu characters long: %d to %d",
			               path, t->name, strlen(tok->value), JV_TOKEN_MIN, JV_TOKEN_MAX);
		if (!visible_ascii(tok->value))
			return err_val(c, tok,
			               "%s.token: token '%s' holds a space or a character outside "
			               "visible ASCII, which no Authorization header can carry",
			               path, t->name);
		t->token = jv_strdup(tok->value);
		if (!role || role->type != JV_NODE_SCALAR || node_is_null(role) || !role->value[0])
			return err_val(c, role ? role : it, "%s: token '%s' needs a role (one of: %s)",
			               path, t->name, join(jv_role_names, list, sizeof list));
		size_t r = 0;
		while (jv_role_names[r] && strcmp(jv_role_names[r], role->value))
			r++;
		if (!jv_role_names[r])
			return err_val(c, role, "%s.role: unknown role %s%s (one of: %s)", path,
			               describe(role, d, sizeof d),
			               hint(role->value, jv_role_names, h, sizeof h),
			               join(jv_role_names, list, sizeof list));
		t->role = (enum jv_role)r;
		for (size_t j = 0; j + 1 < cfg->api.n_tokens; j++) {
			if (!strcmp(cfg->api.tokens[j].name, t->name))
				return err_val(c, name, "%s.name: '%s' is already the name of api.tokens[%zu]",
				               path, t->name, j);
			if (!strcmp(cfg->api.tokens[j].token, t->token))
				return err_val(c, tok,
				               "%s.token: token '%s' is the same as token '%s' "
				               "(api.tokens[%zu]): each token names one client",
				               path, t->name, cfg->api.tokens[j].name, j);
		}
	}
	return 0;
}

/* A relative *path made absolute from the config's folder (when known). */
static void path_from_config(const struct ctx *c, char **path)
{
	if (!*path || (*path)[0] == '/' || !c->basedir)
		return;
	char *full = jv_asprintf("%s/%s", c->basedir, *path);
	free(*path);
	*path = full;
}

/* api.tls_cert_file and api.tls_key_file: both or neither; a relative path
 * made absolute from the config's folder (serve reads them again at every
 * reload). Their contents are checked where they are used (api/tls.h):
 * commands that only load the config need not be able to read the key. */
static int check_tls(struct ctx *c, const struct jv_node *api)
{
	struct jv_config *cfg = c->cfg;
	int cert = cfg->api.tls_cert_file != NULL, key = cfg->api.tls_key_file != NULL;
	if (cert != key) {
		const char *set = cert ? "tls_cert_file" : "tls_key_file";
		return err_key(c, jv_node_get(api, set),
		               "api.%s is set but api.%s is not: set both for HTTPS, or "
		               "neither for plain HTTP",
		               set, cert ? "tls_key_file" : "tls_cert_file");
	}
	path_from_config(c, &cfg->api.tls_cert_file);
	path_from_config(c, &cfg->api.tls_key_file);
	return 0;
}

/* Rules across the keys of api:, and empty secrets made unset. */
static int check_api(struct ctx *c, const struct jv_node *root)
{
	struct jv_config *cfg = c->cfg;
	int rc;
	const struct jv_node *api = jv_node_get(root, "api");
	cfg->api.enabled = api != NULL;
	/* An empty secret (an unset ${VAR:-}) is no secret: never one that
	 * an empty header would match. */
	if (cfg->api.token && !cfg->api.token[0]) {
		free(cfg->api.token);
		cfg->api.token = NULL;
	}
	if (cfg->api.webhook_secret && !cfg->api.webhook_secret[0]) {
		free(cfg->api.webhook_secret);
		cfg->api.webhook_secret = NULL;
	}
	const struct jv_node *listen = jv_node_get(api, "listen");
	if (listen && (rc = check_listen(c, listen, cfg->api.listen)))
		return rc;
	if (cfg->api.enabled && !cfg->api.token && !cfg->api.n_tokens &&
	    !loopback_listen(cfg->api.listen))
		return err_val(c, listen,
		               "api.listen: %s is not a loopback address, and no api.token is set: "
		               "set a token (token: \"${JOBVISOR_API_TOKEN}\") or listen on "
		               "127.0.0.1",
		               cfg->api.listen);
	for (size_t i = 0; cfg->api.token && i < cfg->api.n_tokens; i++)
		if (!strcmp(cfg->api.tokens[i].token, cfg->api.token))
			return err_val(c, jv_node_get(cfg->api.tokens[i].node, "token"),
			               "api.tokens[%zu].token: token '%s' is the same as api.token: "
			               "each token names one client",
			               i, cfg->api.tokens[i].name);
	if ((rc = check_tls(c, api)))
		return rc;

	return 0;
}

/* Rules across the keys of processor:. */
static int check_processor(struct ctx *c, const struct jv_node *root)
{
	const struct jv_config *cfg = c->cfg;
	const struct jv_node *proc = jv_node_get(root, "processor");
	if (cfg->processor.retry_max_ms < cfg->processor.retry_base_ms) {
		const struct jv_node *n = jv_node_get(proc, "retry_max_ms");
		return err_val(c, n ? n : jv_node_get(proc, "retry_base_ms"),
		               "processor.retry_max_ms (%d) must not be less than "
		               "processor.retry_base_ms (%d)",
		               cfg->processor.retry_max_ms, cfg->processor.retry_base_ms);
	}
	if (cfg->processor.stuck_job_timeout_ms < jv_config_min_stuck_ms(cfg)) {
		const struct jv_node *n = jv_node_get(proc, "stuck_job_timeout_minutes");
		return err_val(c, n ? n : jv_node_get(proc, "heartbeat_interval_ms"),
		               "processor.stuck_job_timeout_minutes (%g min) must be at least two "
		               "heartbeat intervals (2 x %d ms) plus %lld ms for a silent processor to "
		               "stop its jobs before others rescue them (%g min here), or live "
		               "processors look dead",
		               cfg->processor.stuck_job_timeout_ms / 60000.0,
		               cfg->processor.heartbeat_interval_ms,
		               (long long)jv_config_fence_margin_ms(cfg),
		               (double)jv_config_min_stuck_ms(cfg) / 60000.0);
	}
	return 0;
}

/* The whole tree onto c->cfg: sections, defaults, cross-checks. */
static int map_config(struct ctx *c, const struct jv_node *root)
{
	struct jv_config *cfg = c->cfg;
	int rc;
	char h[96], list[512];

	/* parse_yaml returns 0 only with a root; the analyzer does not follow
	 * the variadic errat(). */
	/* NOLINTNEXTLINE(clang-analyzer-core.NullDereference) */
	for (size_t i = 0; i < root->n_items; i++)
		if (!in_list(root->items[i]->key, sections) &&
		    !in_list(root->items[i]->key, settings)) {
			const char *k = root->items[i]->key;
			char sl[64];
			if (!did_you_mean(k, sections))
				hint(k, settings, h, sizeof h);
			else
				hint(k, sections, h, sizeof h);
			return err_key(c, root->items[i],
			               "unknown top-level key '%s'%s (sections: %s; settings: %s)", k,
			               h, join(sections, list, sizeof list),
			               join(settings, sl, sizeof sl));
		}

	set_defaults(cfg);
	if ((rc = map_settings(c, root)) ||
	    (rc = map_simple(c, root, "database", database_fields)) ||
	    (rc = map_simple(c, root, "processor", processor_fields)) ||
	    (rc = map_simple(c, root, "plugins", plugins_fields)) ||
	    (rc = map_executors(c, root)) || (rc = map_alerts(c, root)) ||
	    (rc = map_simple(c, root, "api", api_fields)) || (rc = map_api_tokens(c, root)) ||
	    (rc = map_queues(c, root)) ||
	    (rc = check_processor_queues(c, root)) || (rc = map_schedules(c, root)) ||
	    (rc = map_simple(c, root, "history", history_fields)) ||
	    (rc = map_simple(c, root, "alerting", alerting_fields)) ||
	    (rc = map_simple(c, root, "log", log_fields)))
		return rc;

	if ((rc = check_database(c, root)) || (rc = check_api(c, root)) ||
	    (rc = check_processor(c, root)))
		return rc;
	return 0;
}

int64_t jv_config_fence_margin_ms(const struct jv_config *cfg)
{
	int64_t slack = cfg->processor.stuck_job_timeout_ms / 1000; /* clocks' rates: 1000 ppm */
	return JV_KILL_GRACE_MS + (slack > JV_RESCUE_SLACK_MS ? slack : JV_RESCUE_SLACK_MS);
}

int64_t jv_config_min_stuck_ms(const struct jv_config *cfg)
{
	return 2 * (int64_t)cfg->processor.heartbeat_interval_ms + jv_config_fence_margin_ms(cfg);
}

/* ------------------------------------------------------------------ load */

/* The whole pipeline on text. basedir: where relative KEY_file paths start
 * (NULL: the working directory). */
static int load(const char *name, const char *basedir, const char *text, size_t len,
                struct jv_config **out, char *err, size_t errlen)
{
	struct ctx c = {.name = name, .basedir = basedir, .err = err, .errlen = errlen};
	struct jv_node *root = NULL;
	int rc;

	*out = NULL;
	if (err && errlen)
		err[0] = '\0';
	if ((rc = parse_yaml(&c, text, len, &root)))
		return rc;
	c.cfg = jv_calloc(1, sizeof *c.cfg);
	c.cfg->path = jv_strdup(name);
	c.cfg->root = root;

	if ((rc = expand_tree(&c, root, "")))
		goto fail;
	struct jv_node *sect;
	if ((sect = (struct jv_node *)jv_node_get(root, "database")) &&
	    (rc = resolve_files(&c, sect, "database", database_secrets)))
		goto fail;
	if ((sect = (struct jv_node *)jv_node_get(root, "api")) &&
	    (rc = resolve_files(&c, sect, "api", api_secrets)))
		goto fail;
	if ((sect = (struct jv_node *)jv_node_get(jv_node_get(root, "api"), "tokens")) &&
	    sect->type == JV_NODE_SEQ) {
		for (size_t i = 0; i < sect->n_items; i++) {
			char *path = jv_asprintf("api.tokens[%zu]", i);
			rc = resolve_files(&c, sect->items[i], path, token_secrets);
			free(path);
			if (rc)
				goto fail;
		}
	}
	if ((sect = (struct jv_node *)jv_node_get(root, "executors")) &&
	    sect->type == JV_NODE_MAP) {
		for (size_t i = 0; i < sect->n_items; i++) {
			char *path = jv_asprintf("executors.%s", sect->items[i]->key);
			rc = resolve_files(&c, sect->items[i], path, NULL);
			free(path);
			if (rc)
				goto fail;
		}
	}
	if ((sect = (struct jv_node *)jv_node_get(root, "alerts")) && sect->type == JV_NODE_SEQ) {
		for (size_t i = 0; i < sect->n_items; i++) {
			char *path = jv_asprintf("alerts[%zu]", i);
			rc = resolve_files(&c, sect->items[i], path, NULL);
			free(path);
			if (rc)
				goto fail;
		}
	}
	if ((rc = map_config(&c, root)))
		goto fail;
	for (size_t i = 0; i < c.cfg->n_executors + c.cfg->n_alerts; i++) {
		char *path = i < c.cfg->n_executors
		                 ? jv_asprintf("executors.%s", c.cfg->executors[i].name)
		                 : jv_asprintf("alerts[%zu]", i - c.cfg->n_executors);
		const struct jv_node *entry = i < c.cfg->n_executors
		                                  ? c.cfg->executors[i].node
		                                  : c.cfg->alerts[i - c.cfg->n_executors].node;
		rc = check_pass_env(&c, entry, path);
		free(path);
		if (rc)
			goto fail;
	}
	*out = c.cfg;
	return 0;
fail:
	jv_config_free(c.cfg);
	return rc;
}

int jv_config_load_string(const char *name, const char *text, struct jv_config **out, char *err,
                          size_t errlen)
{
	return load(name ? name : "config", NULL, text ? text : "", text ? strlen(text) : 0, out,
	            err, errlen);
}

/* Keys of plugin sections that hold secrets, by name. */
static int looks_secret(const char *key)
{
	size_t len = strlen(key);
	return strstr(key, "password") || strstr(key, "secret") || strstr(key, "token") ||
	       !strcmp(key, "key") || (len > 4 && !strcmp(key + len - 4, "_key"));
}

/* A URL or libpq string with a password in it. */
static int has_password(const char *url)
{
	if (strstr(url, "password="))
		return 1;
	const char *auth = strstr(url, "://");
	if (!auth)
		return 0;
	auth += 3;
	size_t alen = strcspn(auth, "/?#");
	const char *at = NULL;
	for (const char *p = auth; p < auth + alen; p++)
		if (*p == '@')
			at = p;
	return at && memchr(auth, ':', (size_t)(at - auth)) != NULL;
}

/* A header or query parameter name (any case) that says it carries a
 * credential: Authorization, Proxy-Authorization, X-Api-Key, X-Auth-Token,
 * Cookie, token=, sig=, code= (a function key), ... */
static int secret_name(const char *name, size_t len)
{
	static const char *const parts[] = {"auth", "token",  "secret",  "passw",      "key",
	                                    "sig",  "cookie", "session", "credential", NULL};
	char low[64];
	if (len == 0 || len >= sizeof low)
		return 0;
	for (size_t i = 0; i < len; i++)
		low[i] = (char)(name[i] >= 'A' && name[i] <= 'Z' ? name[i] - 'A' + 'a' : name[i]);
	low[len] = '\0';
	for (const char *const *p = parts; *p; p++)
		if (strstr(low, *p))
			return 1;
	return !strcmp(low, "code");
}

/* n bytes of s that look like a generated token, as the last parts of a
 * Slack, Discord or Teams webhook URL: 16 or more of [A-Za-z0-9_-] mixing
 * at least two of lower case, upper case and digits. */
static int token_like(const char *s, size_t n)
{
	int lower = 0, upper = 0, digit = 0;
	if (n < 16)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];
		if (ch >= 'a' && ch <= 'z')
			lower = 1;
		else if (ch >= 'A' && ch <= 'Z')
			upper = 1;
		else if (ch >= '0' && ch <= '9')
			digit = 1;
		else if (ch != '-' && ch != '_')
			return 0;
	}
	return lower + upper + digit >= 2;
}

/* A URL that carries a credential beyond a password (has_password()): a
 * token-like user before the host, a token-like path segment, or a query
 * parameter named like a secret. */
static int url_has_token(const char *url)
{
	const char *p = strstr(url, "://");
	if (!p)
		return 0;
	p += 3;
	size_t alen = strcspn(p, "/?#");
	const char *at = memchr(p, '@', alen);
	if (at && token_like(p, strcspn(p, ":@")))
		return 1;
	p += alen;
	while (*p == '/') {
		p++;
		size_t n = strcspn(p, "/?#");
		if (token_like(p, n))
			return 1;
		p += n;
	}
	if (*p != '?')
		return 0;
	for (p++; *p && *p != '#';) {
		size_t n = strcspn(p, "&#");
		size_t name = strcspn(p, "=&#");
		if (name < n && secret_name(p, name))
			return 1;
		p += n;
		if (*p == '&')
			p++;
	}
	return 0;
}

/* Warn about n when it holds a non-empty secret written in the file. Names
 * the place and the key (for the KEY_file hint; NULL where there is none),
 * never the value. */
static void warn_secret(const struct jv_config *cfg, const struct jv_node *n, const char *path,
                        const char *key, mode_t mode)
{
	if (!n || n->type != JV_NODE_SCALAR || n->from_secret || !n->value[0])
		return;
	jv_log(JV_WARNING,
	       "%s:%d:%d: %s holds a literal secret and %s is readable by others (mode %04o); "
	       "use ${VAR}%s%s%s instead, or chmod o-r the file",
	       cfg->path, n->line, n->col, path, cfg->path, (unsigned)(mode & 07777),
	       key ? " or " : "", key ? key : "", key ? "_file: PATH" : "");
}

/* Authorization or Proxy-Authorization, in any case. */
static int is_authorization(const char *name)
{
	static const char tail[] = "authorization";
	size_t n = strlen(name), t = sizeof tail - 1;
	if (n < t)
		return 0;
	for (size_t i = 0; i < t; i++) {
		char ch = name[n - t + i];
		if ((ch >= 'A' && ch <= 'Z' ? ch - 'A' + 'a' : ch) != tail[i])
			return 0;
	}
	return n == t || name[n - t - 1] == '-';
}

/* Warn about each header of a plugin section's headers: map whose name
 * says it carries a credential (Authorization: Bearer ..., X-Api-Key). An
 * Authorization value of the scheme alone ("Bearer ${TOKEN:-}" with TOKEN
 * unset) holds none. */
static void warn_secret_headers(const struct jv_config *cfg, const struct jv_node *headers,
                                const char *sect_path, mode_t mode)
{
	if (!headers || headers->type != JV_NODE_MAP)
		return;
	for (size_t k = 0; k < headers->n_items; k++) {
		const struct jv_node *h = headers->items[k];
		if (!secret_name(h->key, strlen(h->key)))
			continue;
		if (h->type == JV_NODE_SCALAR && is_authorization(h->key)) {
			const char *v = h->value + strspn(h->value, " ");
			v += strcspn(v, " ");
			if (!v[strspn(v, " ")])
				continue; /* a scheme, no credential */
		}
		char *path = jv_asprintf("%s.headers.%s", sect_path, h->key);
		warn_secret(cfg, h, path, NULL, mode);
		free(path);
	}
}

/* Warn about every secret written literally into a file others can read. */
static void warn_literal_secrets(const struct jv_config *cfg, mode_t mode)
{
	const struct jv_node *root = cfg->root;
	const struct jv_node *url = jv_node_get(jv_node_get(root, "database"), "url");
	if (url && url->type == JV_NODE_SCALAR && has_password(url->value))
		warn_secret(cfg, url, "database.url", "url", mode);
	url = jv_node_get(jv_node_get(root, "database"), "listen_url");
	if (url && url->type == JV_NODE_SCALAR && has_password(url->value))
		warn_secret(cfg, url, "database.listen_url", "listen_url", mode);
	const struct jv_node *api = jv_node_get(root, "api");
	warn_secret(cfg, jv_node_get(api, "token"), "api.token", "token", mode);
	for (size_t i = 0; i < cfg->api.n_tokens; i++) {
		char *path = jv_asprintf("api.tokens[%zu].token", i);
		warn_secret(cfg, jv_node_get(cfg->api.tokens[i].node, "token"), path, "token", mode);
		free(path);
	}
	warn_secret(cfg, jv_node_get(api, "webhook_secret"), "api.webhook_secret", "webhook_secret",
	            mode);

	for (size_t i = 0; i < cfg->n_executors + cfg->n_alerts; i++) {
		const struct jv_node *sect = i < cfg->n_executors
		                                 ? cfg->executors[i].node
		                                 : cfg->alerts[i - cfg->n_executors].node;
		char *sect_path = i < cfg->n_executors
		                      ? jv_asprintf("executors.%s", cfg->executors[i].name)
		                      : jv_asprintf("alerts[%zu]", i - cfg->n_executors);
		for (size_t j = 0; sect && j < sect->n_items; j++) {
			const struct jv_node *n = sect->items[j];
			size_t kl = strlen(n->key);
			int url_like = kl >= 3 && !strcmp(n->key + kl - 3, "url");
			if (n->type == JV_NODE_MAP && !strcmp(n->key, "headers"))
				warn_secret_headers(cfg, n, sect_path, mode);
			if (n->type != JV_NODE_SCALAR)
				continue;
			if (!looks_secret(n->key) &&
			    !(url_like && (has_password(n->value) || url_has_token(n->value))) &&
			    strcmp(n->key, "webhook_url"))
				continue;
			char *path = jv_asprintf("%s.%s", sect_path, n->key);
			warn_secret(cfg, n, path, n->key, mode);
			free(path);
		}
		free(sect_path);
	}
}

int jv_config_load(const char *path, struct jv_config **out, char *err, size_t errlen)
{
	struct ctx c = {.name = path, .err = err, .errlen = errlen};
	*out = NULL;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return errat(&c, 0, 0, "cannot open: %s", strerror(errno));
	struct stat st;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return errat(&c, 0, 0, "not a regular file");
	}
	struct jv_buf b = {0};
	char chunk[8192];
	for (;;) {
		ssize_t got = read(fd, chunk, sizeof chunk);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			int e = errno;
			close(fd);
			jv_buf_free(&b);
			return errat(&c, 0, 0, "cannot read: %s", strerror(e));
		}
		if (got == 0)
			break;
		if (b.len + (size_t)got > MAX_CONFIG_BYTES) {
			close(fd);
			jv_buf_free(&b);
			return errat(&c, 0, 0, "larger than %d bytes", MAX_CONFIG_BYTES);
		}
		jv_buf_append(&b, chunk, (size_t)got);
	}
	close(fd);

	const char *slash = strrchr(path, '/');
	char *dir = slash ? jv_strndup(path, (size_t)(slash - path) + (slash == path)) : NULL;
	int rc = load(path, dir, b.data ? b.data : "", b.len, out, err, errlen);
	free(dir);
	jv_buf_free(&b);
	if (rc == 0 && (st.st_mode & S_IROTH))
		warn_literal_secrets(*out, st.st_mode);
	return rc;
}

void jv_config_free(struct jv_config *cfg)
{
	if (!cfg)
		return;
	for (size_t i = 0; i < cfg->n_executors; i++) {
		free(cfg->executors[i].name);
		free(cfg->executors[i].plugin);
	}
	free(cfg->executors);
	for (size_t i = 0; i < cfg->n_alerts; i++) {
		free(cfg->alerts[i].plugin);
		strv_free(cfg->alerts[i].on);
		strv_free(cfg->alerts[i].types);
		strv_free(cfg->alerts[i].users);
	}
	free(cfg->alerts);
	for (size_t i = 0; i < cfg->n_schedules; i++) {
		struct jv_schedule_cfg *s = &cfg->schedules[i];
		free(s->name);
		free(s->cron);
		free(s->timezone);
		free(s->type);
		free(s->user_id);
		free(s->payload_json);
		free(s->catch_up);
		free(s->queue);
	}
	free(cfg->schedules);
	for (size_t i = 0; i < cfg->n_queues; i++)
		free(cfg->queues[i].name);
	free(cfg->queues);
	strv_free(cfg->processor.queues);
	free(cfg->database.url);
	free(cfg->database.listen_url);
	free(cfg->processor.name);
	free(cfg->plugins.dir);
	free(cfg->api.listen);
	free(cfg->api.token);
	for (size_t i = 0; i < cfg->api.n_tokens; i++) {
		free(cfg->api.tokens[i].name);
		free(cfg->api.tokens[i].token);
	}
	free(cfg->api.tokens);
	free(cfg->api.webhook_secret);
	free(cfg->api.dashboard_url);
	free(cfg->api.cors_origin);
	free(cfg->api.tls_cert_file);
	free(cfg->api.tls_key_file);
	free(cfg->log.level);
	free(cfg->log.format);
	free(cfg->user);
	for (size_t i = 0; i < cfg->n_env_refs; i++)
		free(cfg->env_refs[i].name);
	free(cfg->env_refs);
	node_free(cfg->root);
	free(cfg->path);
	free(cfg);
}
