# core/sched.mk -- the scheduler's tests. Placeholder.
