#!/bin/sh
# it_alert_email.sh -- placeholder, being written.
exit 77
