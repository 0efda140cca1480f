#!/bin/sh
# common.sh -- helpers of the fault-injection scripts, sourced after
# tests/lib.sh:
#   fx_figure NAME VALUE   print "figure: NAME = VALUE" (run.sh tabulates them)
#   fx_now_ms              wall-clock milliseconds
#   fx_registered PID      wait (10 s) until serve PID shows as a running processor
#   fx_pid_of_processor ID / fx_id_of_pid PID
#   fx_faulty_plugin       copy the built test plugin faulty.so into the plugin dir
#   fx_descendants PID     print PID's descendants
#   fx_alive PID...        how many of these PIDs still exist (zombies aside)
#   $FX_ASAN               1 when jobvisor was built with AddressSanitizer
#                          (it turns a SIGSEGV into a report and exit 1)

FX_ASAN=0
grep -q __asan_init "$JOBVISOR" 2>/dev/null && FX_ASAN=1

fx_figure()
{
	echo "figure: $1 = $2"
}

fx_now_ms()
{
	echo $(($(date +%s%N) / 1000000))
}

fx_registered()
{
	wait_for "[ \"\$(jv_psql \"SELECT count(*) FROM jobvisor.processors WHERE pid = $1 AND state = 'running'\")\" = 1 ]" \
		"${2:-10}" "serve $1 registered as a running processor"
}

fx_id_of_pid()
{
	jv_psql "SELECT max(id) FROM jobvisor.processors WHERE pid = $1"
}

fx_faulty_plugin()
{
	for _f in "$top_builddir/tests/faults/.libs/faulty.so" "$top_builddir/tests/faults/faulty.so"; do
		if [ -f "$_f" ]; then
			cp "$_f" "$JV_PLUGIN_DIR/faulty.so" && chmod 0644 "$JV_PLUGIN_DIR/faulty.so"
			return $?
		fi
	done
	fail "the test plugin faulty.so was not built (make check builds it; or make tests/faults/faulty.la)"
}

# The PIDs of every descendant of $1 (breadth first).
fx_descendants()
{
	_fd_list=$(pgrep -P "$1" 2>/dev/null)
	for _fd_p in $_fd_list; do
		echo "$_fd_p"
		fx_descendants "$_fd_p"
	done
}

# Count of the PIDs given that still exist (zombies excluded).
fx_alive()
{
	_fa_n=0
	for _fa_p in "$@"; do
		if [ -r "/proc/$_fa_p/stat" ] && [ "$(awk '{print $3}' "/proc/$_fa_p/stat" 2>/dev/null)" != Z ]; then
			_fa_n=$((_fa_n + 1))
		fi
	done
	echo "$_fa_n"
}
