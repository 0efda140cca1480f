# core/cron.mk -- the cron parser's tests and fuzz harness. Placeholder.
