/*
 * yaml2json.c -- a build-time tool: read a YAML document (docs/openapi.yaml)
 * and write a C source file defining its JSON text, so the binary can serve
 * it without parsing YAML at run time.
 *
 *   yaml2json FILE.yaml NAME > out.c
 *
 * out.c defines `const char NAME[]` (the compact JSON, NUL-terminated) and
 * `const unsigned long NAME_len` (its length without the NUL).
 *
 * Plain scalars are typed as YAML 1.2's core schema does (null, true/false,
 * integers, floats); quoted ones are strings. Mapping keys are always
 * strings; a duplicate key is an error, as is anything but one document.
 */
#include <jansson.h>
#include <yaml.h>

#include <errno.h>
#include <math.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *file;

static int fail(const yaml_node_t *n, const char *what)
{
	if (n)
		fprintf(stderr, "%s:%lu:%lu: %s\n", file, (unsigned long)n->start_mark.line + 1,
			(unsigned long)n->start_mark.column + 1, what);
	else
		fprintf(stderr, "%s: %s\n", file, what);
	return -1;
}

static int matches(const char *re, const char *s)
{
	regex_t r;
	if (regcomp(&r, re, REG_EXTENDED | REG_NOSUB) != 0)
		return 0;
	int m = regexec(&r, s, 0, NULL, 0) == 0;
	regfree(&r);
	return m;
}

static json_t *scalar(const yaml_node_t *n)
{
	const char *s = (const char *)n->data.scalar.value;
	size_t len = n->data.scalar.length;
	/* quoted, or with an explicit tag (the loader gives plain ones !!str) */
	if (n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE || !n->tag ||
	    strcmp((const char *)n->tag, YAML_STR_TAG) != 0)
		return json_stringn(s, len);
	if (len == 0 || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") ||
	    !strcmp(s, "NULL"))
		return json_null();
	if (!strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "TRUE"))
		return json_true();
	if (!strcmp(s, "false") || !strcmp(s, "False") || !strcmp(s, "FALSE"))
		return json_false();
	if (matches("^[-+]?[0-9]+$", s)) {
		errno = 0;
		long long v = strtoll(s, NULL, 10);
		if (errno == 0)
			return json_integer((json_int_t)v);
	}
	if (matches("^[-+]?(\\.[0-9]+|[0-9]+(\\.[0-9]*)?)([eE][-+]?[0-9]+)?$", s)) {
		double v = strtod(s, NULL);
		if (isfinite(v))
			return json_real(v);
	}
	return json_stringn(s, len);
}

static json_t *convert(yaml_document_t *doc, yaml_node_t *n, int depth)
{
	if (!n) {
		fail(NULL, "a node is missing");
		return NULL;
	}
	if (depth > 64) {
		fail(n, "nested too deeply (an alias loop?)");
		return NULL;
	}
	switch (n->type) {
	case YAML_SCALAR_NODE:
		return scalar(n);
	case YAML_SEQUENCE_NODE: {
		json_t *a = json_array();
		for (yaml_node_item_t *i = n->data.sequence.items.start; i < n->data.sequence.items.top;
		     i++) {
			json_t *v = convert(doc, yaml_document_get_node(doc, *i), depth + 1);
			if (!v) {
				json_decref(a);
				return NULL;
			}
			json_array_append_new(a, v);
		}
		return a;
	}
	case YAML_MAPPING_NODE: {
		json_t *o = json_object();
		for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top;
		     p++) {
			yaml_node_t *k = yaml_document_get_node(doc, p->key);
			if (!k || k->type != YAML_SCALAR_NODE) {
				fail(k ? k : n, "a mapping key that is not a scalar");
				json_decref(o);
				return NULL;
			}
			const char *key = (const char *)k->data.scalar.value;
			if (strlen(key) != k->data.scalar.length) {
				fail(k, "a key with a NUL byte");
				json_decref(o);
				return NULL;
			}
			if (json_object_get(o, key)) {
				char msg[512];
				snprintf(msg, sizeof msg, "duplicate key \"%.400s\"", key);
				fail(k, msg);
				json_decref(o);
				return NULL;
			}
			json_t *v = convert(doc, yaml_document_get_node(doc, p->value), depth + 1);
			if (!v) {
				json_decref(o);
				return NULL;
			}
			json_object_set_new(o, key, v);
		}
		return o;
	}
	default:
		fail(n, "an empty node");
		return NULL;
	}
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: yaml2json FILE.yaml NAME > out.c\n");
		return 2;
	}
	file = argv[1];
	const char *name = argv[2];
	FILE *in = fopen(file, "rb");
	if (!in) {
		fprintf(stderr, "%s: %s\n", file, strerror(errno));
		return 1;
	}
	yaml_parser_t parser;
	yaml_document_t doc;
	yaml_parser_initialize(&parser);
	yaml_parser_set_input_file(&parser, in);
	if (!yaml_parser_load(&parser, &doc)) {
		fprintf(stderr, "%s:%lu:%lu: %s\n", file, (unsigned long)parser.problem_mark.line + 1,
			(unsigned long)parser.problem_mark.column + 1,
			parser.problem ? parser.problem : "invalid YAML");
		yaml_parser_delete(&parser);
		fclose(in);
		return 1;
	}
	json_t *root = convert(&doc, yaml_document_get_root_node(&doc), 0);
	yaml_document_t extra;
	int more = 0;
	if (root && yaml_parser_load(&parser, &extra)) {
		more = yaml_document_get_root_node(&extra) != NULL;
		yaml_document_delete(&extra);
	}
	yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
	fclose(in);
	if (!root)
		return 1;
	if (more) {
		json_decref(root);
		fprintf(stderr, "%s: more than one document\n", file);
		return 1;
	}
	char *text = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(root);
	if (!text) {
		fprintf(stderr, "%s: cannot write it as JSON\n", file);
		return 1;
	}
	size_t len = strlen(text);
	printf("/* Generated by build-aux/yaml2json from %s: do not edit. */\n", file);
	printf("extern const char %s[];\nextern const unsigned long %s_len;\n", name, name);
	printf("const char %s[] = {", name);
	for (size_t i = 0; i < len; i++)
		printf("%s%d,", i % 16 ? " " : "\n\t", (int)(unsigned char)text[i]);
	printf("\n\t0\n};\nconst unsigned long %s_len = %zu;\n", name, len);
	free(text);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "yaml2json: cannot write the output\n");
		return 1;
	}
	return 0;
}
