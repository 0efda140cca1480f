/* api_analytics.c -- placeholder, being written. */
#include "api.h"

#include <stddef.h>

const struct jv_api_route jv_api_analytics_routes[] = {
	{NULL, NULL, 0, NULL, NULL},
};
