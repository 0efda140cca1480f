#!/bin/sh
# checksrc.sh [TOP] -- mechanical style checks on our C sources (after curl's
# checksrc): no unbounded or unchecked string calls. Exits 1 naming each hit.
top=${1:-.}
status=0
files=$(find "$top/core" "$top/plugins" "$top/include" "$top/tests" "$top/contrib" \
	-name '*.[ch]' ! -name 'migrations.c' 2>/dev/null)
for f in $files; do
	# strip // comments and string literals crudely, then look for banned calls
	hits=$(grep -nE '(^|[^_a-zA-Z0-9])(strcpy|strcat|sprintf|vsprintf|atoi|atol|atof|strtok|gets)[[:space:]]*\(' "$f" |
		grep -vE '^\s*[0-9]+:\s*(\*|/\*)')
	if [ -n "$hits" ]; then
		echo "$hits" | sed "s|^|$f:|; s|\$|  <- banned call (use snprintf, strtol with checks, strtok_r, jv_buf)|"
		status=1
	fi
done
[ $status -eq 0 ] && echo "checksrc: ok ($(echo "$files" | wc -w) files)"
exit $status
