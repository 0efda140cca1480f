#!/bin/sh
# it_api_metrics.sh -- placeholder, being written.
exit 77
