#!/bin/bash
# Per-instance supervising parent (process backend).
#
# Usage: supervise.sh RUN_DIR LAUNCHER [ARGS...]
#
# Starts LAUNCHER in a process group of its own, records its pid in RUN_DIR/app.pid,
# waits for it and records its exit status in RUN_DIR/exit_status (128+N for signal N).
# It outlives the agent, so an exit that happens while the agent is down is not lost.
# It never reads a message field: everything it runs comes from argv.
set -m            # job control: the app gets its own process group, so a stop reaches it, not us
run_dir=$1
shift
"$@" &
app=$!
echo "$app" > "$run_dir/app.pid.tmp" && mv -f "$run_dir/app.pid.tmp" "$run_dir/app.pid"
wait "$app"
status=$?
echo "$status" > "$run_dir/exit_status.tmp" && mv -f "$run_dir/exit_status.tmp" "$run_dir/exit_status"
exit "$status"
