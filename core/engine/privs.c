/*
 * privs.c -- refuse root, or leave it for the configured account.
 *
 * The config is read and the plugins are loaded as root first (the files
 * may be root's alone), then serve switches before it connects to the
 * database and forks its workers, so that every connection, every worker
 * and every job runs as the account.
 */
#include "autoconf.h"

#include "engine/privs.h"

#include "config/config.h"
#include "lib/error.h"
#include "lib/log.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

static int fail(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return JV_ESTATE;
}

/* The switch itself, checked at every step: a half-done switch is refused. */
static int become(const struct passwd *pw, char *err, size_t errlen)
{
	if (initgroups(pw->pw_name, pw->pw_gid) != 0)
		return fail(err, errlen, "cannot switch to user '%s': initgroups: %s", pw->pw_name,
			    strerror(errno));
	if (setgid(pw->pw_gid) != 0)
		return fail(err, errlen, "cannot switch to user '%s': setgid(%ld): %s", pw->pw_name,
			    (long)pw->pw_gid, strerror(errno));
	if (setuid(pw->pw_uid) != 0)
		return fail(err, errlen, "cannot switch to user '%s': setuid(%ld): %s", pw->pw_name,
			    (long)pw->pw_uid, strerror(errno));
	if (getuid() == 0 || geteuid() == 0 || getgid() == 0 || getegid() == 0 ||
	    getuid() != pw->pw_uid || getgid() != pw->pw_gid)
		return fail(err, errlen,
			    "switching to user '%s' did not take (uid %ld, euid %ld, gid %ld, "
			    "egid %ld); refusing to go on",
			    pw->pw_name, (long)getuid(), (long)geteuid(), (long)getgid(),
			    (long)getegid());
	if (setuid(0) == 0)
		return fail(err, errlen, "after switching to user '%s', root could be taken back; "
					 "refusing to go on", pw->pw_name);
	/* What jobs' commands see is the account's, as after su. */
	setenv("HOME", pw->pw_dir, 1);
	setenv("USER", pw->pw_name, 1);
	setenv("LOGNAME", pw->pw_name, 1);
	return 0;
}

int jv_privs_settle(const struct jv_config *cfg, char *err, size_t errlen)
{
	int root = geteuid() == 0;
	if (!cfg->user) {
		if (!root)
			return 0;
		if (cfg->allow_root) {
			jv_log(JV_INFO, "running as root (allow_root: true): every job runs as "
					   "root too; set user: ACCOUNT instead");
			return 0;
		}
		return fail(err, errlen,
			    "refusing to run as root: set user: ACCOUNT in %s to switch to that "
			    "account, or allow_root: true (discouraged)",
			    cfg->path);
	}
	struct passwd pwbuf, *pw = NULL;
	char buf[4096];
	int rc = getpwnam_r(cfg->user, &pwbuf, buf, sizeof buf, &pw);
	if (!pw)
		return fail(err, errlen, "user: cannot look up account '%s': %s", cfg->user,
			    rc ? strerror(rc) : "no such user");
	if (!root) {
		if (geteuid() == pw->pw_uid)
			return 0;
		return fail(err, errlen,
			    "user: '%s' is set, but serve runs as uid %ld and only root can "
			    "switch users: start it as root or as '%s'",
			    cfg->user, (long)geteuid(), cfg->user);
	}
	if ((rc = become(pw, err, errlen)) != 0)
		return rc;
	jv_log(JV_INFO, "running as user %s (uid %ld, gid %ld)", pw->pw_name, (long)pw->pw_uid,
	       (long)pw->pw_gid);
	return 0;
}
