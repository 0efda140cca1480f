#!/bin/sh
# it_alert_webhook.sh -- placeholder, being written.
exit 77
