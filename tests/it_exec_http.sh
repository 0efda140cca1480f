#!/bin/sh
# it_exec_http.sh -- placeholder, being written.
exit 77
