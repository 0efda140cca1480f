/* api_jobs.c -- placeholder, being written. */
#include "api.h"

#include <stddef.h>

const struct jv_api_route jv_api_jobs_routes[] = {
	{NULL, NULL, 0, NULL, NULL},
};
