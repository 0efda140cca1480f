-- 023_enqueue_plans.sql -- enqueue() plans its statements once per
-- session, not at every call.
--
-- PL/pgSQL keeps a plan per statement and, after five calls, compares
-- the plan made for the call's values with a generic one. For enqueue()'s
-- dependency statements (`WHERE j.id = ANY (v_deps)`) the generic plan's
-- estimate is of ten rows where the custom one sees one, so PostgreSQL
-- kept planning every statement anew at every call: measured on a 100 000
-- job table, 280 us a call with depends_on against 77 us with generic
-- plans, the same index scans either way. `jobvisor enqueue --file` of
-- 5 000 lines with dependsOn took 312 us a line. Every statement here finds
-- its rows through an index whatever the values (the primary key, the
-- unique key's index), so a generic plan is the right one for all of them.
--
-- The setting holds while enqueue() runs only (a function's SET clause):
-- a session's own plan_cache_mode is untouched.

ALTER FUNCTION jobvisor.enqueue(text, jsonb, text, timestamptz, integer, integer, integer, text,
                                text[], text, bigint[], text)
	SET plan_cache_mode = force_generic_plan;
