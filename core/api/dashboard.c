/*
 * dashboard.c -- the web dashboard's files.
 *
 * GET / and GET /ui/{file} serve the files embedded by web/embed.sh. They
 * are public: the page holds no data, it asks the token of the operator
 * (kept in the browser's sessionStorage, never in a URL) and reads
 * everything through the API with it. Every answer carries a
 * Content-Security-Policy that lets the page talk to this origin only, so
 * no request from it can leave the host it was loaded from.
 */
#include "api/api.h"

#include "api/web.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const no_args[] = {NULL};

/* ------------------------------------------------------------ the files */

/* The page may load its own scripts, styles and data and nothing else: no
 * inline script, no other origin, no framing. SVG charts are drawn by the
 * script as DOM nodes; style attributes it sets need no 'unsafe-inline'
 * (CSSOM), but the page's <svg> presentation attributes are plain
 * attributes. */
static const char csp[] = "default-src 'none'; script-src 'self'; style-src 'self'; "
			  "img-src 'self' data:; connect-src 'self'; base-uri 'none'; "
			  "form-action 'none'; frame-ancestors 'none'";

/* FNV-1a of a file, as a strong ETag: the files only change with the
 * binary, so this is computed once per file and kept. */
static void etag_of(const struct jv_web_file *f, char *out, size_t len)
{
	uint64_t h = 1469598103934665603ULL;
	for (size_t i = 0; i < f->len; i++)
		h = (h ^ f->data[i]) * 1099511628211ULL;
	snprintf(out, len, "\"%016" PRIx64 "\"", h);
}

/* Does an If-None-Match header name etag? It holds "*" or a list of
 * entity tags, each maybe weak (W/"..."), compared weakly (RFC 9110,
 * 13.1.2). */
static int etag_listed(const char *inm, const char *etag)
{
	size_t elen = strlen(etag);
	const char *p = inm;
	while (*p) {
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		if (*p == '*')
			return 1;
		if (!strncmp(p, "W/", 2))
			p += 2;
		size_t n = strcspn(p, ", \t");
		if (n == elen && !memcmp(p, etag, n))
			return 1;
		p += n;
	}
	return 0;
}

static void serve_file(struct jv_api_req *req, const char *name)
{
	const struct jv_web_file *f = NULL;
	for (const struct jv_web_file *w = jv_web_files; w->name; w++)
		if (!strcmp(w->name, name))
			f = w;
	if (!f) {
		jv_api_error(req, 404, "no such file: /ui/%.100s", name);
		return;
	}
	char etag[24];
	etag_of(f, etag, sizeof etag);
	jv_api_add_header(req, "Content-Security-Policy", csp);
	jv_api_add_header(req, "X-Content-Type-Options", "nosniff");
	jv_api_add_header(req, "Referrer-Policy", "no-referrer");
	jv_api_add_header(req, "X-Frame-Options", "DENY");
	jv_api_add_header(req, "Cache-Control", "no-cache");
	jv_api_add_header(req, "ETag", etag);
	const char *inm = jv_api_header(req, "If-None-Match");
	if (inm && etag_listed(inm, etag)) {
		jv_api_text(req, 304, f->content_type, "", 0);
		return;
	}
	jv_api_text(req, 200, f->content_type, (const char *)f->data, f->len);
}

/* GET / */
static void page(struct jv_api_req *req)
{
	if (jv_api_only_query(req, no_args))
		return;
	serve_file(req, "index.html");
}

/* GET /ui/{file} */
static void asset(struct jv_api_req *req)
{
	if (jv_api_only_query(req, no_args))
		return;
	const char *name = jv_api_param(req, 0);
	if (!strcmp(name, "index.html")) {
		jv_api_error(req, 404, "no such file: /ui/index.html (the page is /)");
		return;
	}
	serve_file(req, name);
}

const struct jv_api_route jv_api_dashboard_routes[] = {
	{"GET", "/", JV_API_PUBLIC | JV_API_NO_DB, page, "the dashboard"},
	{"GET", "/ui/{file}", JV_API_PUBLIC | JV_API_NO_DB, asset, "the dashboard's script and style"},
	{NULL, NULL, 0, NULL, NULL},
};
