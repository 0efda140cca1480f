/*
 * tls.h -- the API's certificate and key (api.tls_cert_file,
 * api.tls_key_file), read and checked before the server uses them.
 *
 * Read at check-config, at serve's start and at every reload (SIGHUP), so a
 * renewed pair is taken up by a reload, and a bad one refuses it (the
 * running server keeps its pair). Checked with GnuTLS, the library
 * libmicrohttpd serves TLS with: what passes here, the server accepts.
 *
 * The key file is refused when others may read it, as PostgreSQL refuses
 * its ssl_key_file: no access at all for others, and for the group only
 * read access, and only when root owns the file (a group such as ssl-cert
 * that the service user is a member of); otherwise at most 0600.
 */
#ifndef JV_API_TLS_H
#define JV_API_TLS_H

#include <stddef.h>

struct jv_config;

/* Each file at most this many bytes (a chain of a few certificates, or a
 * key, is a few KB). */
#define JV_API_TLS_FILE_MAX (256 * 1024)

/* The PEM text of both files, NUL-terminated. */
struct jv_api_tls {
	char *cert_pem;         /* the certificate, then its chain */
	char *key_pem;          /* its private key (wiped when freed) */
};

/*
 * Read and check cfg's TLS files: both readable, within
 * JV_API_TLS_FILE_MAX, the key not readable by others (above), the
 * certificate a PEM certificate (chain), the key an unencrypted PEM private
 * key that belongs to the certificate, and libmicrohttpd built with TLS.
 * Returns 0 with *out NULL when cfg has no TLS, 0 with *out (free with
 * jv_api_tls_free) when all is well, else JV_ECONFIG with one line
 * "FILE:LINE:COL: api.tls_key_file: ..." naming the file in err.
 */
int jv_api_tls_load(const struct jv_config *cfg, struct jv_api_tls **out, char *err,
		    size_t errlen);

/* Wipe the key and free. NULL is fine. */
void jv_api_tls_free(struct jv_api_tls *tls);

#endif
