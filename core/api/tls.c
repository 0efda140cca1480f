/* tls.c -- the API's certificate and key, read and checked (tls.h). */
#include "api/tls.h"

#include "config/config.h"
#include "lib/error.h"
#include "lib/log.h"
#include "lib/mem.h"

#include <errno.h>
#include <fcntl.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* One file's text into *out (NUL-terminated), or a reason in why. When
 * is_key, the file's mode is checked first (tls.h). */
static int read_pem(const char *file, int is_key, char **out, char *why, size_t whylen)
{
	int fd = open(file, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		snprintf(why, whylen, "cannot read '%s': %s", file, strerror(errno));
		return -1;
	}
	struct stat st;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		snprintf(why, whylen, "'%s' is not a regular file", file);
		close(fd);
		return -1;
	}
	if (is_key && ((st.st_mode & 0007) || (st.st_uid != 0 && (st.st_mode & 0070)) ||
		       (st.st_mode & 0030))) {
		snprintf(why, whylen,
			 "'%s' is accessible to others (mode %04o): the private key must be "
			 "0600 or less (0640 when root owns it, for a group such as ssl-cert); "
			 "chmod 600 '%s'",
			 file, (unsigned)(st.st_mode & 07777), file);
		close(fd);
		return -1;
	}
	if (st.st_size > JV_API_TLS_FILE_MAX) {
		snprintf(why, whylen, "'%s' is larger than %d bytes", file, JV_API_TLS_FILE_MAX);
		close(fd);
		return -1;
	}
	struct jv_buf b = {0};
	int rc = 0;
	if (jv_buf_read_fd(&b, fd, JV_API_TLS_FILE_MAX) != 0) {
		if (errno == EFBIG)
			snprintf(why, whylen, "'%s' is larger than %d bytes", file, JV_API_TLS_FILE_MAX);
		else
			snprintf(why, whylen, "cannot read '%s': %s", file, strerror(errno));
		rc = -1;
	}
	close(fd);
	if (!rc && (!b.len || memchr(b.data, '\0', b.len))) {
		snprintf(why, whylen, "'%s' is %s", file, b.len ? "not PEM text" : "empty");
		rc = -1;
	}
	if (rc) {
		if (b.data)
			memset(b.data, 0, b.len);
		jv_buf_free(&b);
		return -1;
	}
	*out = jv_buf_steal(&b);
	return 0;
}

/* The certificate (chain) parses; warn when the first one has expired. */
static int check_cert(const struct jv_api_tls *t, const char *file, char *why, size_t whylen)
{
	gnutls_datum_t d = {(unsigned char *)t->cert_pem, (unsigned)strlen(t->cert_pem)};
	gnutls_x509_crt_t *crts = NULL;
	unsigned n = 0;
	int rc = gnutls_x509_crt_list_import2(&crts, &n, &d, GNUTLS_X509_FMT_PEM, 0);
	if (rc < 0 || n == 0) {
		snprintf(why, whylen, "'%s' holds no PEM certificate: %s", file,
			 rc < 0 ? gnutls_strerror(rc) : "none found");
		return -1;
	}
	time_t until = gnutls_x509_crt_get_expiration_time(crts[0]);
	for (unsigned i = 0; i < n; i++)
		gnutls_x509_crt_deinit(crts[i]);
	gnutls_free(crts);
	if (until != (time_t)-1 && until < time(NULL)) {
		char when[32];
		struct tm tm;
		gmtime_r(&until, &tm);
		strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S UTC", &tm);
		jv_log(JV_WARNING,
		       "api.tls_cert_file: the certificate in '%s' expired on %s: clients will "
		       "refuse it",
		       file, when);
	}
	return 0;
}

/* The key parses (unencrypted). */
static int check_key(const struct jv_api_tls *t, const char *file, char *why, size_t whylen)
{
	gnutls_x509_privkey_t key;
	if (gnutls_x509_privkey_init(&key) < 0) {
		snprintf(why, whylen, "out of memory");
		return -1;
	}
	gnutls_datum_t d = {(unsigned char *)t->key_pem, (unsigned)strlen(t->key_pem)};
	int rc = gnutls_x509_privkey_import2(key, &d, GNUTLS_X509_FMT_PEM, NULL, 0);
	gnutls_x509_privkey_deinit(key);
	if (rc < 0) {
		snprintf(why, whylen, "'%s' holds no unencrypted PEM private key: %s", file,
			 gnutls_strerror(rc));
		return -1;
	}
	return 0;
}

/* The key belongs to the certificate (as the server will load them). */
static int check_pair(const struct jv_api_tls *t, const char *cert_file, const char *key_file,
		      char *why, size_t whylen)
{
	gnutls_certificate_credentials_t cred;
	if (gnutls_certificate_allocate_credentials(&cred) < 0) {
		snprintf(why, whylen, "out of memory");
		return -1;
	}
	gnutls_datum_t c = {(unsigned char *)t->cert_pem, (unsigned)strlen(t->cert_pem)};
	gnutls_datum_t k = {(unsigned char *)t->key_pem, (unsigned)strlen(t->key_pem)};
	int rc = gnutls_certificate_set_x509_key_mem2(cred, &c, &k, GNUTLS_X509_FMT_PEM, NULL, 0);
	gnutls_certificate_free_credentials(cred);
	if (rc < 0) {
		if (rc == GNUTLS_E_CERTIFICATE_KEY_MISMATCH)
			snprintf(why, whylen, "the key in '%s' does not belong to the certificate in '%s'",
				 key_file, cert_file);
		else
			snprintf(why, whylen, "the key in '%s' and the certificate in '%s' cannot be "
				 "used together: %s", key_file, cert_file, gnutls_strerror(rc));
		return -1;
	}
	return 0;
}

int jv_api_tls_load(const struct jv_config *cfg, struct jv_api_tls **out, char *err,
		    size_t errlen)
{
	*out = NULL;
	const char *cert = cfg->api.tls_cert_file, *key = cfg->api.tls_key_file;
	if (!cert || !key)
		return 0;
	const struct jv_node *api = jv_node_get(cfg->root, "api");
	const struct jv_node *cert_node = jv_node_get(api, "tls_cert_file");
	const struct jv_node *key_node = jv_node_get(api, "tls_key_file");
	char why[1024];
	if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES)
		return jv_config_errorf(cfg, cert_node, err, errlen,
					"api.tls_cert_file: this libmicrohttpd was built without "
					"TLS: install one built with GnuTLS (Debian's is), or "
					"leave TLS to a proxy in front");
	struct jv_api_tls *t = jv_calloc(1, sizeof *t);
	const struct jv_node *at = cert_node;
	const char *what = "tls_cert_file";
	if (read_pem(cert, 0, &t->cert_pem, why, sizeof why) == 0 &&
	    check_cert(t, cert, why, sizeof why) == 0) {
		at = key_node;
		what = "tls_key_file";
		if (read_pem(key, 1, &t->key_pem, why, sizeof why) == 0 &&
		    check_key(t, key, why, sizeof why) == 0 &&
		    check_pair(t, cert, key, why, sizeof why) == 0) {
			*out = t;
			return 0;
		}
	}
	jv_api_tls_free(t);
	return jv_config_errorf(cfg, at, err, errlen, "api.%s: %s", what, why);
}

void jv_api_tls_free(struct jv_api_tls *tls)
{
	if (!tls)
		return;
	if (tls->key_pem) {
		/* volatile: a memset right before free may be optimised away */
		volatile char *p = tls->key_pem;
		while (*p)
			*p++ = '\0';
	}
	free(tls->key_pem);
	free(tls->cert_pem);
	free(tls);
}
