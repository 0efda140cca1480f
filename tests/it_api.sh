#!/bin/sh
# it_api.sh -- placeholder, being written.
exit 77
