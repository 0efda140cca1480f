/* api_schedules.c -- the /api/schedules routes. Placeholder, being
 * written: they answer 501 until schedules exist. */
#include "api.h"

static void schedules_501(struct jv_api_req *req)
{
	jv_api_error(req, 501, "schedules are not implemented yet");
}

const struct jv_api_route jv_api_schedules_routes[] = {
	{"GET", "/api/schedules", 0, schedules_501, "list schedules"},
	{"POST", "/api/schedules", 0, schedules_501, "add a schedule"},
	{"PATCH", "/api/schedules/{name}", 0, schedules_501, "change, pause or resume a schedule"},
	{"DELETE", "/api/schedules/{name}", 0, schedules_501, "remove a schedule"},
	{NULL, NULL, 0, NULL, NULL},
};
