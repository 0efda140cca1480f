#!/bin/sh
# it_alert_slack.sh -- placeholder, being written.
exit 77
