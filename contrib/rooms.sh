#!/bin/sh
# rooms.sh [TOP] -- core/ is a stack of rooms, each a folder (see
# docs/architecture.md). A room's files include headers of their own room or
# of rooms below it, always by room-qualified path ("lib/log.h"), never of a
# room above: the bottom room depends on nothing else, the top one (cli) may
# use them all. Exits 1 naming each include that breaks the order, each
# unqualified include of a core header, and each file outside the rooms.
top=${1:-.}
order="lib config plugin sched alert api engine cli" # bottom first

rank()
{
	_r=0
	for _n in $order; do
		[ "$_n" = "$1" ] && echo $_r && return
		_r=$((_r + 1))
	done
	echo -1
}

status=0
n=0
for f in $(cd "$top" && find core -name '*.[ch]' | sort); do
	n=$((n + 1))
	room=$(echo "$f" | cut -d/ -f2)
	mine=$(rank "$room")
	if [ "$mine" -lt 0 ] || [ "$(echo "$f" | tr -cd / | wc -c)" != 2 ]; then
		echo "$f: outside the rooms ($order)"
		status=1
		continue
	fi
	grep -n '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' "$top/$f" |
		sed 's/^\([0-9]*\):[^"]*"\([^"]*\)".*/\1 \2/' >"${TMPDIR:-/tmp}/rooms.$$"
	while read -r line path; do
		case $path in
		autoconf.h | jobvisor/*) continue ;;
		*/*) ;;
		*)
			echo "$f:$line: #include \"$path\": name the room (\"ROOM/$path\")"
			status=1
			continue
			;;
		esac
		theirs=$(rank "${path%%/*}")
		if [ "$theirs" -lt 0 ]; then
			echo "$f:$line: #include \"$path\": no such room ($order)"
			status=1
		elif [ "$theirs" -gt "$mine" ]; then
			echo "$f:$line: #include \"$path\": $room may not include ${path%%/*}, a room above it ($order, bottom first)"
			status=1
		fi
	done <"${TMPDIR:-/tmp}/rooms.$$"
	rm -f "${TMPDIR:-/tmp}/rooms.$$"
done
[ $status -eq 0 ] && echo "rooms: ok ($n files; $order)"
exit $status
