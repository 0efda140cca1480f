/*
 * test_openapi.c -- the OpenAPI document (docs/openapi.yaml, embedded as
 * JSON by core/api.mk) and the route tables agree: every route of every
 * table is documented, and every documented operation is served. Each
 * mismatch is named.
 */
#include "api/api.h"

#include "unit.h"

#include <jansson.h>
#include <string.h>
#include <strings.h>

extern const char jv_openapi_json[];
extern const unsigned long jv_openapi_json_len;

static const char *const http_methods[] = {"get",    "put",     "post",  "delete",
					   "options", "head",   "patch", "trace", NULL};

static json_t *load(void)
{
	json_error_t e;
	json_t *doc = json_loadb(jv_openapi_json, (size_t)jv_openapi_json_len, 0, &e);
	if (!doc)
		fprintf(stderr, "the embedded OpenAPI document is not JSON: %s (line %d)\n", e.text,
			e.line);
	return doc;
}

static void test_document(void)
{
	json_t *doc = load();
	CU_ASSERT_PTR_NOT_NULL_FATAL(doc);
	const char *v = json_string_value(json_object_get(doc, "openapi"));
	CU_ASSERT_PTR_NOT_NULL(v);
	CU_ASSERT(v && !strncmp(v, "3.0.", 4));
	CU_ASSERT(json_is_object(json_object_get(doc, "info")));
	CU_ASSERT(json_is_object(json_object_get(doc, "paths")));
	json_t *schemes = json_object_get(json_object_get(doc, "components"), "securitySchemes");
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(json_object_get(schemes, "bearer"),
								 "scheme")),
			       "bearer");
	json_t *err = json_object_get(json_object_get(json_object_get(doc, "components"), "schemas"),
				      "Error");
	CU_ASSERT(json_is_object(json_object_get(json_object_get(err, "properties"), "error")));
	json_decref(doc);
}

static const struct jv_api_route *registered(const char *method, const char *path)
{
	for (const struct jv_api_route *const *t = jv_api_route_tables(); *t; t++)
		for (const struct jv_api_route *r = *t; r->method; r++)
			if (!strcasecmp(r->method, method) && !strcmp(r->pattern, path))
				return r;
	return NULL;
}

/* Every route of every table has its operation in the document, with
 * responses, and the security it really has. */
static void test_routes_documented(void)
{
	json_t *doc = load();
	CU_ASSERT_PTR_NOT_NULL_FATAL(doc);
	json_t *paths = json_object_get(doc, "paths");
	int missing = 0, n = 0;
	for (const struct jv_api_route *const *t = jv_api_route_tables(); *t; t++)
		for (const struct jv_api_route *r = *t; r->method; r++) {
			n++;
			char lower[16];
			size_t i = 0;
			for (; r->method[i] && i < sizeof lower - 1; i++)
				lower[i] = (char)(r->method[i] | 0x20);
			lower[i] = '\0';
			json_t *op = json_object_get(json_object_get(paths, r->pattern), lower);
			if (!op) {
				fprintf(stderr, "not in docs/openapi.yaml: %s %s (%s)\n", r->method,
					r->pattern, r->summary ? r->summary : "");
				missing++;
				continue;
			}
			if (!json_is_object(json_object_get(op, "responses")) ||
			    json_object_size(json_object_get(op, "responses")) == 0) {
				fprintf(stderr, "docs/openapi.yaml: %s %s has no responses\n",
					r->method, r->pattern);
				missing++;
			}
			/* public routes say so (an empty requirement), others do not */
			json_t *sec = json_object_get(op, "security");
			int open = 0;
			size_t k;
			json_t *req;
			json_array_foreach(sec, k, req) if (json_object_size(req) == 0) open = 1;
			/* (the webhook is public too, but checks its own secret;
			 * the dashboard's files, outside /api/, are open) */
			int is_public = (r->flags & JV_API_PUBLIC) &&
					((r->flags & (JV_API_HEALTH | JV_API_METRICS)) ||
					 strncmp(r->pattern, "/api/", 5) != 0);
			if (open != is_public) {
				fprintf(stderr,
					"docs/openapi.yaml: %s %s is %s, the document says %s\n",
					r->method, r->pattern, is_public ? "public" : "not public",
					open ? "public" : "not public");
				missing++;
			}
		}
	fprintf(stderr, "%d routes registered\n", n);
	CU_ASSERT(n > 0);
	CU_ASSERT_EQUAL(missing, 0);
	json_decref(doc);
}

/* Every operation of the document is served by some table. */
static void test_documented_served(void)
{
	json_t *doc = load();
	CU_ASSERT_PTR_NOT_NULL_FATAL(doc);
	json_t *paths = json_object_get(doc, "paths");
	CU_ASSERT_FATAL(json_is_object(paths));
	const char *path;
	json_t *item;
	int extra = 0, n = 0;
	json_object_foreach(paths, path, item)
	{
		const char *key;
		json_t *op;
		json_object_foreach(item, key, op)
		{
			int known = 0;
			for (int i = 0; http_methods[i]; i++)
				known |= !strcmp(http_methods[i], key);
			if (!known)
				continue; /* parameters, summary, ... */
			n++;
			if (registered(key, path))
				continue;
			fprintf(stderr, "documented but no table registers it: %s %s\n", key, path);
			extra++;
		}
	}
	CU_ASSERT(n > 0);
	CU_ASSERT_EQUAL(extra, 0);
	json_decref(doc);
}

int main(void)
{
	static const struct jv_unit_test tests[] = {
		{"the document is OpenAPI 3.0 JSON", test_document},
		{"every route is documented", test_routes_documented},
		{"every documented operation is served", test_documented_served},
		{NULL, NULL},
	};
	return jv_unit_run("openapi", tests);
}
