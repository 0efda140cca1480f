#!/bin/sh
# it_api_analytics.sh -- placeholder, being written.
exit 77
