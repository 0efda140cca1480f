#!/bin/sh
# it_exec_shell.sh -- placeholder, being written.
exit 77
