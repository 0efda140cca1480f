#!/bin/sh
# it_unique.sh -- placeholder, being written.
exit 77
