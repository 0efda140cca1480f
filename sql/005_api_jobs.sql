-- 005_api_jobs.sql -- placeholder, being written: indexes for the jobs routes.
SELECT 1;
