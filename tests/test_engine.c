/*
 * test_engine.c -- the serve loop's decisions, which only read its state
 * (engine/serve_int.h): how many jobs a claim may ask for, when finished
 * attempts are sent, a run's time limit, when the loop must wake and how
 * long poll() may wait; and one attempt's rules (engine/attempt.h): whether
 * it may be retried. No database: struct serve is set up by hand.
 */
#include "config/config.h"
#include "engine/serve_int.h"
#include "unit.h"

#include <string.h>

static struct jv_config cfg;
static struct jv_executor_cfg executors[2];

/* A processor with nothing running, connected or not. */
static void setup(struct serve *s, int connected)
{
	memset(&cfg, 0, sizeof cfg);
	memset(executors, 0, sizeof executors);
	cfg.executors = executors;
	cfg.n_executors = 2;
	cfg.processor.timeout_seconds = 120;
	cfg.processor.stuck_job_timeout_ms = 300000;
	cfg.processor.heartbeat_interval_ms = 10000;
	cfg.processor.poll_interval_ms = 5000;
	cfg.database.pooler = JV_POOLER_NONE;
	memset(s, 0, sizeof *s);
	s->cfg = &cfg;
	s->tune.batch_size = 10;
	s->tune.max_concurrent = 4;
	s->sfd = -1;
	if (connected) {
		s->lc.state = CH_READY;
		s->cc.state = CH_READY;
	}
}

static void add_done(struct serve *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		jv_done_list_push(&s->done, &(struct jv_done){.at.id = (int64_t)i + 1});
}

static void t_free_slots(void)
{
	struct serve s;
	setup(&s, 1);
	CU_ASSERT_EQUAL(sv_free_slots(&s), 4);
	/* running, waiting unstarted and finished-not-recorded all count */
	s.inflight = 1;
	s.claim.n_queued = 1;
	add_done(&s, 1);
	CU_ASSERT_EQUAL(sv_free_slots(&s), 1);
	s.cc.batch.n = 1; /* (in flight to the database) */
	CU_ASSERT_EQUAL(sv_free_slots(&s), 0);
	s.cc.batch.n = 0;
	/* prefetch claims ahead; batch_size caps one claim */
	s.tune.prefetch = 20;
	CU_ASSERT_EQUAL(sv_free_slots(&s), 10);
	/* a job waits for a worker process: no more claims */
	s.wait.until = 1;
	CU_ASSERT_EQUAL(sv_free_slots(&s), 0);
	jv_done_list_free(&s.done);
}

static void t_completion_due(void)
{
	struct serve s;
	setup(&s, 1);
	uint64_t now = 1000000;
	CU_ASSERT_FALSE(sv_completion_due(&s, now)); /* nothing to send */
	add_done(&s, 1);
	s.cmp.first_at = now;
	CU_ASSERT_TRUE(sv_completion_due(&s, now)); /* nothing else runs: at once */
	s.inflight = 2;
	CU_ASSERT_FALSE(sv_completion_due(&s, now)); /* others may join it */
	CU_ASSERT_TRUE(sv_completion_due(&s, now + JV_COALESCE_MS));
	s.drain.state = DRAIN_GRACE;
	CU_ASSERT_TRUE(sv_completion_due(&s, now)); /* stopping: no waiting */
	s.drain.state = DRAIN_OFF;
	add_done(&s, 9);
	CU_ASSERT_TRUE(sv_completion_due(&s, now)); /* a batch's worth */
	jv_done_list_free(&s.done);
}

static void t_timeout_ms_for(void)
{
	struct serve s;
	setup(&s, 0);
	executors[1].timeout_seconds = 7;
	struct jv_claimed c = {.timeout_seconds = 5};
	CU_ASSERT_EQUAL(sv_timeout_ms_for(&cfg, &c, 1), 5000);   /* the job's own */
	c.timeout_seconds = 0;
	CU_ASSERT_EQUAL(sv_timeout_ms_for(&cfg, &c, 1), 7000);   /* its executor's */
	CU_ASSERT_EQUAL(sv_timeout_ms_for(&cfg, &c, 0), 120000); /* the processor's */
	CU_ASSERT_EQUAL(sv_timeout_ms_for(&cfg, &c, -1), 120000);
	c.timeout_seconds = 3000000; /* past what a run's int32 ms holds */
	CU_ASSERT_EQUAL(sv_timeout_ms_for(&cfg, &c, 1), 2000000000);
}

/* Whether an attempt may be retried: a retryable outcome, within the
 * executor's cap (the job's own count is next_status()'s, in SQL). */
static void t_attempt_may_retry(void)
{
	/* attempt 2 of an effective 3 */
	struct jv_attempt a = {.id = 1, .attempt = 2, .max_attempts = 3};
	CU_ASSERT_TRUE(jv_attempt_may_retry(&a, JV_OUTCOME_RETRYABLE));
	CU_ASSERT_TRUE(jv_attempt_may_retry(&a, JV_OUTCOME_TIMED_OUT));
	CU_ASSERT_TRUE(jv_attempt_may_retry(&a, JV_OUTCOME_CRASHED));
	CU_ASSERT_TRUE(jv_attempt_may_retry(&a, JV_OUTCOME_FENCED));
	/* outcomes that are never retries, whatever the count */
	CU_ASSERT_FALSE(jv_attempt_may_retry(&a, JV_OUTCOME_SUCCEEDED));
	CU_ASSERT_FALSE(jv_attempt_may_retry(&a, JV_OUTCOME_PERMANENT));
	CU_ASSERT_FALSE(jv_attempt_may_retry(&a, JV_OUTCOME_CANCELLED));
	CU_ASSERT_FALSE(jv_attempt_may_retry(&a, JV_OUTCOME_RELEASED));
	CU_ASSERT_FALSE(jv_attempt_may_retry(&a, (enum jv_outcome)99));
	/* the last attempt allowed, or past it */
	a.attempt = 3;
	CU_ASSERT_FALSE(jv_attempt_may_retry(&a, JV_OUTCOME_RETRYABLE));
	CU_ASSERT_FALSE(jv_attempt_may_retry(&a, JV_OUTCOME_CRASHED));
	a.attempt = 4;
	CU_ASSERT_FALSE(jv_attempt_may_retry(&a, JV_OUTCOME_TIMED_OUT));
	/* no limit known here (an attempt ended before it ran): the outcome
	 * decides, and the database the count */
	a.max_attempts = 0;
	CU_ASSERT_TRUE(jv_attempt_may_retry(&a, JV_OUTCOME_CRASHED));
	CU_ASSERT_FALSE(jv_attempt_may_retry(&a, JV_OUTCOME_PERMANENT));
}

/* The effective max_attempts: an executor's caps the job's own. */
static void t_attempt_max(void)
{
	CU_ASSERT_EQUAL(jv_attempt_max(5, 0), 5);  /* executor sets none */
	CU_ASSERT_EQUAL(jv_attempt_max(5, 2), 2);  /* a lower cap */
	CU_ASSERT_EQUAL(jv_attempt_max(2, 5), 2);  /* never raised */
	CU_ASSERT_EQUAL(jv_attempt_max(3, 3), 3);
	CU_ASSERT_EQUAL(jv_attempt_max(5, -1), 5); /* (-1: not set) */
}

/* An attempt made from borrowed strings owns copies; freeing zeroes it. */
static void t_attempt_make_free(void)
{
	char type[] = "shell", user[] = "alice";
	struct jv_attempt a = jv_attempt_make(7, 1, 3, 5000, 1, type, user);
	type[0] = user[0] = 'X'; /* the caller's strings may change or go */
	CU_ASSERT_EQUAL(a.id, 7);
	CU_ASSERT_EQUAL(a.attempt, 1);
	CU_ASSERT_EQUAL(a.max_attempts, 3);
	CU_ASSERT_EQUAL(a.timeout_ms, 5000);
	CU_ASSERT_EQUAL(a.executor, 1);
	CU_ASSERT_STRING_EQUAL(a.type, "shell");
	CU_ASSERT_STRING_EQUAL(a.user_id, "alice");
	jv_attempt_free(&a);
	CU_ASSERT_PTR_NULL(a.type);
	CU_ASSERT_PTR_NULL(a.user_id);
	CU_ASSERT_EQUAL(a.id, 0);
	struct jv_attempt none = jv_attempt_make(8, 2, 0, 0, -1, "t", NULL);
	CU_ASSERT_PTR_NULL(none.user_id); /* no user stays none */
	jv_attempt_free(&none);
	jv_attempt_free(&none); /* (twice is harmless) */
}

/* sv_wake_at() on s, checking it changed nothing. */
static uint64_t wake(const struct serve *s, uint64_t now, uint64_t ping)
{
	struct serve before;
	memcpy(&before, s, sizeof before);
	uint64_t at = sv_wake_at(s, now, ping);
	CU_ASSERT_EQUAL(memcmp(&before, s, sizeof before), 0);
	return at;
}

static void t_wake_at(void)
{
	struct serve s;
	setup(&s, 0);
	uint64_t now = 1000000;
	s.hb.confirmed_sent = now; /* fencing is minutes away */
	CU_ASSERT_EQUAL(wake(&s, now, 0), now + 60000); /* at most a minute */
	CU_ASSERT_EQUAL(wake(&s, now, now + 900), now + 900); /* the watchdog */
	/* the pool's next worker deadline, found by the step before */
	s.worker_deadline = now + 500;
	CU_ASSERT_EQUAL(wake(&s, now, 0), now + 500);
	s.worker_deadline = 0;
	/* draining: the grace period's end, then the kill after it */
	s.drain.state = DRAIN_GRACE;
	s.drain.deadline = now + 3000;
	CU_ASSERT_EQUAL(wake(&s, now, 0), now + 3000);
	s.drain.state = DRAIN_RELEASING;
	CU_ASSERT_EQUAL(wake(&s, now, 0), now + 3000 + JV_KILL_GRACE_MS);
	s.drain.state = DRAIN_RELEASED;
	CU_ASSERT_EQUAL(wake(&s, now, 0), now + 60000);
	s.drain.state = DRAIN_OFF;
	/* fencing: the horizon minus its margin after the last confirmed send */
	s.hb.confirmed_sent = now - 300000 + 30000;
	CU_ASSERT_EQUAL(wake(&s, now, 0),
			s.hb.confirmed_sent + 300000 - (uint64_t)jv_config_fence_margin_ms(&cfg));
}

static void t_wake_at_connected(void)
{
	struct serve s;
	setup(&s, 1);
	uint64_t now = 1000000;
	s.hb.confirmed_sent = now;
	s.hb.next = now + 10000;
	s.claim.next_poll = now + 5000;
	CU_ASSERT_EQUAL(wake(&s, now, 0), now + 5000); /* the poll interval */
	s.claim.next_due = now + 40;
	CU_ASSERT_EQUAL(wake(&s, now, 0), now + 40); /* the next job due */
	s.ctl.paused = 1; /* no claims: the heartbeat */
	CU_ASSERT_EQUAL(wake(&s, now, 0), now + 10000);
	/* a result waits for others to share its round trip */
	add_done(&s, 1);
	s.cmp.first_at = now;
	CU_ASSERT_EQUAL(wake(&s, now, 0), now + JV_COALESCE_MS);
	jv_done_list_free(&s.done);
}

static void t_poll_timeout(void)
{
	struct serve s;
	setup(&s, 1);
	uint64_t now = 1000000;
	CU_ASSERT_EQUAL(sv_poll_timeout(&s, now, now + 700), 700);
	CU_ASSERT_EQUAL(sv_poll_timeout(&s, now, now - 5), 0); /* overdue */
	s.claim.want = 1; /* a claim to send, slots free */
	CU_ASSERT_EQUAL(sv_poll_timeout(&s, now, now + 700), 0);
	s.lc.q = Q_CLAIM; /* ... but one is in flight */
	CU_ASSERT_EQUAL(sv_poll_timeout(&s, now, now + 700), 700);
	s.lc.q = Q_NONE;
	s.claim.want = 0;
	add_done(&s, 1); /* results to send, nothing else running */
	CU_ASSERT_EQUAL(sv_poll_timeout(&s, now, now + 700), 0);
	s.cmp.retry_at = now + 100; /* ... after a failed send: not yet */
	CU_ASSERT_EQUAL(sv_poll_timeout(&s, now, now + 700), 700);
	jv_done_list_free(&s.done);
}

int main(void)
{
	static const struct jv_unit_test tests[] = {
		{"free_slots", t_free_slots},
		{"completion_due", t_completion_due},
		{"timeout_ms_for", t_timeout_ms_for},
		{"wake_at", t_wake_at},
		{"wake_at_connected", t_wake_at_connected},
		{"poll_timeout", t_poll_timeout},
		{"attempt_may_retry", t_attempt_may_retry},
		{"attempt_max", t_attempt_max},
		{"attempt_make_free", t_attempt_make_free},
		{NULL, NULL},
	};
	return jv_unit_run("engine", tests);
}
