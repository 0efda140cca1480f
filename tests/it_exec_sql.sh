#!/bin/sh
# it_exec_sql.sh -- placeholder, being written.
exit 77
