-- 003_alerts.sql -- the history of alerts, and the marks that make an event
-- found in the database (a processor down, a failure rate, a backlog) raise
-- one alert across all processors.

------------------------------------------------------------------ alerts
-- One row per message a sink sent, gave up on, or dropped unsent. A message
-- may stand for several identical events folded together (count).
CREATE TABLE jobvisor.alerts (
	id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	created_at   timestamptz NOT NULL DEFAULT now(),   -- when it was recorded
	first_at     timestamptz NOT NULL,                 -- the first event folded in
	last_at      timestamptz NOT NULL,                 -- the last one
	sent_at      timestamptz,                          -- NULL unless status = 'sent'
	status       text        NOT NULL
	             CONSTRAINT alerts_status_check CHECK (status IN ('sent', 'failed', 'dropped')),
	sink         text        NOT NULL,                 -- "alerts[0]"
	plugin       text        NOT NULL,                 -- "slack"
	event        text        NOT NULL,                 -- "job_failed", ...
	count        integer     NOT NULL DEFAULT 1 CONSTRAINT alerts_count_check CHECK (count >= 1),
	job_id       bigint,                               -- the (last) job it is about
	job_type     text,
	user_id      text,
	title        text        NOT NULL,
	body         text        NOT NULL,                 -- the plain text sent
	details      jsonb,                                -- the alert as JSON
	attempts     integer     NOT NULL DEFAULT 0,
	error        text,                                 -- why it failed or was dropped
	processor    bigint                                -- jobvisor.processors.id that sent it
);
CREATE INDEX alerts_created_idx ON jobvisor.alerts (created_at DESC);
CREATE INDEX alerts_job_idx ON jobvisor.alerts (job_id) WHERE job_id IS NOT NULL;

------------------------------------------------------------------ alert_state
-- Who raised what, for events every processor could find: the first to
-- insert (or to renew an expired) key raises it. Keys: processor_down:ID,
-- failure_rate:TYPE, queue_backlog.
CREATE TABLE jobvisor.alert_state (
	key        text        PRIMARY KEY,
	raised_at  timestamptz NOT NULL,
	processor  bigint
);
