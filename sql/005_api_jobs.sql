-- 005_api_jobs.sql -- indexes for GET /api/jobs: newest first (id
-- descending) with an optional filter on status, type or user, and keyset
-- pagination (id < after). Each filter reads its index backwards from the
-- `after` id and stops after limit + 1 rows, whatever the table's size.
-- With no filter the primary key does the same.
--
-- Three btrees only: each one costs every insert and every status change
-- something. A request with two filters (status and type, say) walks the
-- more selective one's index and checks the other on the rows it reads.
--
-- Measured on PostgreSQL 15 with 1 000 000 jobs (90% succeeded, 5% failed,
-- 3% pending, 1% running, 1% cancelled; 20 types; half with one of 1 000
-- users), limit 50 (51 rows read), EXPLAIN (ANALYZE, BUFFERS):
--   no filter                     pkey backward            8 buffers  0.2 ms
--   status=failed                 pkey backward, filter   26 buffers  0.4 ms
--   status=cancelled, after=500000  jobs_status_id_idx    62 buffers  0.8 ms
--   type=type7                    pkey backward, filter   32 buffers  0.6 ms
--   user=user42                   jobs_user_id_idx        57 buffers  0.7 ms
--   user=user42, after=300000     jobs_user_id_idx        60 buffers  0.8 ms
--   status=failed, type=rare (10 jobs)  jobs_type_id_idx  10 buffers  0.2 ms
-- The one unbounded case is two filters whose combination matches few of
-- the rows of the more selective one: status=pending&type=X with no such
-- job reads every pending job (30 000 rows, 92 ms), still far from a scan
-- of the table. A composite (status, type, id) would bound it, at the
-- cost of a fourth index on every insert.
CREATE INDEX jobs_status_id_idx ON jobvisor.jobs (status, id);
CREATE INDEX jobs_type_id_idx ON jobvisor.jobs (type, id);
CREATE INDEX jobs_user_id_idx ON jobvisor.jobs (user_id, id) WHERE user_id IS NOT NULL;
