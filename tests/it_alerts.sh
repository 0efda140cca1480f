#!/bin/sh
# it_alerts.sh -- placeholder, being written.
exit 77
