#!/bin/sh
# it_alerts_sinks.sh -- placeholder, being written.
exit 77
