/*
 * web.h -- the dashboard's files, embedded at build time by web/embed.sh
 * (core/api/web_assets.c, generated) and served by dashboard.c.
 */
#ifndef JV_WEB_H
#define JV_WEB_H

#include <stddef.h>

struct jv_web_file {
	const char *name;          /* "index.html", "app.js", ... */
	const char *content_type;
	const unsigned char *data; /* NUL-terminated, len bytes before it */
	size_t len;
};

/* Ends with a NULL name. */
extern const struct jv_web_file jv_web_files[];

#endif
