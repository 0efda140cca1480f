/*
 * error.h -- error codes of core/. Functions return 0 or a negative JV_E*.
 */
#ifndef JV_ERROR_H
#define JV_ERROR_H

enum {
	JV_OK = 0,
	JV_EINVAL = -1,   /* bad argument or input */
	JV_ECONFIG = -2,  /* configuration error (already reported with its place) */
	JV_EPLUGIN = -3,  /* plugin refused or failed */
	JV_EDB = -4,      /* database error */
	JV_EIO = -5,      /* file or socket error */
	JV_ENOENT = -6,   /* no such thing */
	JV_ESTATE = -7,   /* not possible in the current state */
	JV_EINTERNAL = -8,/* a bug */
};

const char *jv_strerror(int code);

/* CLI exit codes. */
enum { JV_EXIT_OK = 0, JV_EXIT_USER = 1, JV_EXIT_INTERNAL = 2 };

#endif
