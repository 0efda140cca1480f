/* error.c -- names for the JV_E* codes. */
#include "lib/error.h"

const char *jv_strerror(int code)
{
	switch (code) {
	case JV_OK: return "success";
	case JV_EINVAL: return "invalid argument";
	case JV_ECONFIG: return "configuration error";
	case JV_EPLUGIN: return "plugin error";
	case JV_EDB: return "database error";
	case JV_EIO: return "input/output error";
	case JV_ENOENT: return "not found";
	case JV_ESTATE: return "not possible in this state";
	case JV_EINTERNAL: return "internal error";
	}
	return "unknown error";
}
