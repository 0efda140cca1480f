/*
 * common.h -- shared bits of the deliberately broken plugins the loader
 * tests load through the real loader. Each plugin is one file; most are one
 * descriptor away from a good one.
 */
#ifndef JV_TESTPLUGIN_COMMON_H
#define JV_TESTPLUGIN_COMMON_H

#include <jobvisor/plugin.h>

#include <stddef.h>

__attribute__((unused)) static int tp_create(const struct jv_host *host,
					     struct jv_instance *inst, void **state)
{
	(void)host;
	(void)inst;
	*state = NULL;
	return 0;
}

__attribute__((unused)) static int tp_execute(void *state, const struct jv_job *job,
					      struct jv_run *run)
{
	(void)state;
	(void)job;
	(void)run;
	return JV_SUCCESS;
}

__attribute__((unused)) static int tp_send(void *state, const struct jv_alert *alert,
					   struct jv_run *run)
{
	(void)state;
	(void)alert;
	(void)run;
	return JV_SUCCESS;
}

#endif
