-- 006_schedules.sql -- placeholder, being written.
SELECT 1;
