-- 007_unique.sql -- placeholder, being written.
SELECT 1;
