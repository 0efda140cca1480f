-- 004_analytics.sql -- placeholder, being written: indexes for the API's analytics.
SELECT 1;
