-- 005_api_jobs.sql -- indexes for GET /api/jobs: newest first (id
-- descending) with an optional filter on status, type or user, and keyset
-- pagination (id < after). Each filter reads its index backwards from the
-- `after` id and stops after limit + 1 rows, whatever the table's size.
-- With no filter the primary key does the same.
--
-- Three btrees only: each one costs every insert and every status change
-- something. A request with two filters (status and type, say) walks the
-- more selective one's index and checks the other on the rows it reads.
CREATE INDEX jobs_status_id_idx ON jobvisor.jobs (status, id);
CREATE INDEX jobs_type_id_idx ON jobvisor.jobs (type, id);
CREATE INDEX jobs_user_id_idx ON jobvisor.jobs (user_id, id) WHERE user_id IS NOT NULL;
