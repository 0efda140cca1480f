#!/bin/sh
# it_api_jobs.sh -- placeholder, being written.
exit 77
