/*
 * flow.c -- the config's queues as the database takes them (DESIGN.md "Flow
 * control"): the arrays the claim is given (the queues this processor
 * serves, its own limit in each) and the object jobvisor.sync_queues()
 * stores (the limits that hold across all processors, and a pause).
 */
#include "autoconf.h"

#include "config/config.h"
#include "engine/serve_int.h"
#include "lib/mem.h"
#include "lib/text.h"

#include <stdio.h>
#include <stdlib.h>

/* Queue names are [a-z0-9_.-] (config.c): no quoting in an array literal. */
static void append_name(struct jv_buf *b, const char *name, int first)
{
	if (!first)
		jv_buf_puts(b, ",");
	jv_buf_puts(b, name);
}

void sv_flow_adopt(struct serve *s)
{
	const struct jv_config *cfg = s->cfg;
	sv_flow_free(s);
	if (cfg->processor.queues) {
		struct jv_buf b = {0};
		jv_buf_puts(&b, "{");
		for (size_t i = 0; cfg->processor.queues[i]; i++)
			append_name(&b, cfg->processor.queues[i], i == 0);
		jv_buf_puts(&b, "}");
		s->flow.served = jv_buf_steal(&b);
	}
	s->flow.sync = jv_config_queues_json(cfg);
	s->flow.sync_due = s->flow.sync != NULL;
	s->flow.held = -1; /* the limit literals: built at the first claim */
}

/*
 * The queues whose `concurrency` can bind, for the claim: a limit at or
 * above what the processor can hold at all (max_concurrent_jobs and the
 * prefetch, as tuned now: the API may change them) never binds, and
 * leaving it out spares the claim counting the processor's running jobs
 * in that queue. Rebuilt when the tuning changes.
 */
void sv_flow_limits(struct serve *s, const char **queues, const char **limits)
{
	const struct jv_config *cfg = s->cfg;
	int held = s->tune.max_concurrent + s->tune.prefetch;
	if (held != s->flow.held) {
		struct jv_buf names = {0}, values = {0};
		int first = 1;
		jv_buf_puts(&names, "{");
		jv_buf_puts(&values, "{");
		for (size_t i = 0; i < cfg->n_queues; i++) {
			if (cfg->queues[i].concurrency <= 0 || cfg->queues[i].concurrency >= held)
				continue;
			append_name(&names, cfg->queues[i].name, first);
			jv_buf_printf(&values, "%s%d", first ? "" : ",", cfg->queues[i].concurrency);
			first = 0;
		}
		jv_buf_puts(&names, "}");
		jv_buf_puts(&values, "}");
		free(s->flow.limit_queues);
		free(s->flow.limits);
		s->flow.limit_queues = jv_buf_steal(&names);
		s->flow.limits = jv_buf_steal(&values);
		s->flow.held = held;
	}
	*queues = s->flow.limit_queues;
	*limits = s->flow.limits;
}

void sv_flow_free(struct serve *s)
{
	free(s->flow.served);
	free(s->flow.limit_queues);
	free(s->flow.limits);
	free(s->flow.sync);
	s->flow = (struct serve_flow){0};
}
