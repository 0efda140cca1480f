/*
 * privs.h -- who `jobvisor serve` runs as.
 *
 * Jobs are code from outside: serve does not run them as root unless told
 * to. Run as root, it switches to the account the config's top-level
 * `user:` names, or goes on as root only with `allow_root: true`
 * (discouraged); otherwise it refuses to start.
 */
#ifndef JV_PRIVS_H
#define JV_PRIVS_H

#include <stddef.h>

struct jv_config;

/*
 * Apply that rule for cfg, once, before any thread or child exists (the
 * switch is for the whole process). As root with cfg->user: initgroups,
 * setgid, setuid to that account, set HOME, USER and LOGNAME to its own,
 * then check that neither the real nor the effective uid or gid is 0 any
 * more and that root cannot be taken back. Not as root with cfg->user:
 * only fine when we already are that account.
 * Returns 0 to go on, or JV_ESTATE with one line of why in err.
 */
int jv_privs_settle(const struct jv_config *cfg, char *err, size_t errlen);

#endif
