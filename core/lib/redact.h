/*
 * redact.h -- keep secrets out of what is logged or shown to a user.
 *
 * jv_redact() masks, in any text, whatever it can recognise as a secret
 * without being told:
 *  - the password of a URL's user info: "scheme://user:PASSWORD@host"
 *    becomes "scheme://user:***@host"; a user info without ':' is a token
 *    ("https://TOKEN@host") and is masked whole, except in postgres:// and
 *    postgresql:// URLs, where it is the user name. In postgres URLs an
 *    unencoded '/', '?', '#' or '@' in the password does not hide it: the
 *    user info runs to the last '@' of the URL;
 *  - the value of every "password=VALUE" (any key ending in "password",
 *    any case, spaces around '=' allowed, VALUE quoted or not): libpq's
 *    key=value strings, URI query parameters, PGPASSWORD=...
 *
 * A struct jv_secrets adds what is known to be secret (the configured
 * database.url, a plugin's password): every occurrence of those values is
 * masked too, wherever it stands, and, for a malformed URL whose password
 * libpq may have cut into pieces, every piece inside a "quoted" part of
 * the text (libpq quotes each value it echoes). A secret shorter than
 * JV_REDACT_MIN_WHOLE characters is masked only inside quotes too: masking
 * every "p" of a message would garble it, for a secret that guards little.
 *
 * The mask is "***". Every function here is safe to call from several
 * threads at once.
 */
#ifndef JV_REDACT_H
#define JV_REDACT_H

#include <stddef.h>

#define JV_REDACT_MASK "***"
#define JV_REDACT_MIN_WHOLE 4

/* Values known to be secret. Zero-initialise; free with jv_secrets_free. */
struct jv_secrets {
	char **whole;    /* masked wherever they occur */
	size_t n_whole;
	char **pieces;   /* masked inside "..." only */
	size_t n_pieces;
};

/* Add value (copied) as a secret; NULL or "" adds nothing. */
void jv_secrets_add(struct jv_secrets *s, const char *value);

/*
 * Add the secrets of url, a URL (any scheme) or a libpq key=value
 * connection string: the password of its user info (a token user info of a
 * non-postgres URL), and every password=VALUE, each as written and
 * percent-decoded; for a postgres URL whose password holds an unencoded
 * '/', '?', '#' or '@', and for an unquoted key=value password followed by
 * words without '=', the pieces libpq may cut it into. NULL adds nothing.
 */
void jv_secrets_add_url(struct jv_secrets *s, const char *url);

/* Free what s holds and zero it. */
void jv_secrets_free(struct jv_secrets *s);

/*
 * text with every secret masked: the known ones of s (may be NULL), then
 * the URL user infos and password= values of any text. Returns a freshly
 * allocated string (the caller frees it); NULL in, NULL out.
 */
char *jv_redact(const char *text, const struct jv_secrets *s);

/* As jv_redact, in place in buf (of size len, NUL-terminated); a result
 * longer than buf is cut at len - 1 bytes. */
void jv_redact_buf(char *buf, size_t len, const struct jv_secrets *s);

#endif
