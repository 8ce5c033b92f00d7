#!/bin/bash
# Per-instance supervising parent (process backend).
#
# Usage: supervise.sh RUN_DIR DIR NICE MEM_KB VMEM_KB FDS NPROC FSIZE_KB UID GID MODE
#   MODE v1: runs ./startup -p $PORT in DIR (the v1 droplet layout)
#   MODE v2: sources app/.profile.d/*.sh, then runs $DEA_START_COMMAND with bash -c in app/
#   UID/GID "-" keep the current user (the agent is not root).
#
# Starts the app in a process group of its own (a forked subshell that applies the
# instance's limits, drops to its user and execs the app), records its pid in
# RUN_DIR/app.pid, waits for it and records its exit status in RUN_DIR/exit_status
# (128+N for signal N). It outlives the agent, so an exit that happens while the agent is
# down is not lost. Every argument is a number or a fixed word chosen by the agent; the
# start command arrives in the environment and is run as the app's own command.
set -m            # job control: the app gets its own process group, so a stop reaches it, not us
run_dir=$1 dir=$2 nice=$3 mem_kb=$4 vmem_kb=$5 fds=$6 nproc=$7 fsize_kb=$8 uid=$9 gid=${10} mode=${11}
here=${0%/*}   # no dirname child on the start path

(
  cd "$dir" || exit 126
  # renice is a separate program: only pay for it when asked for a level other than ours.
  [ "$nice" = 0 ] || renice -n "$nice" -p $BASHPID >/dev/null 2>&1
  ulimit -m "$mem_kb" 2>/dev/null
  ulimit -v "$vmem_kb" || exit 126
  ulimit -n "$fds" || exit 126
  ulimit -u "$nproc" || exit 126
  ulimit -f "$fsize_kb" || exit 126
  umask 077
  # v1 needs no shell of ours: the droplet's startup script is the program.
  if [ "$mode" = v1 ]; then start=(./startup -p "$PORT"); else start=(/bin/bash "$here/start.sh" v2); fi
  if [ "$uid" != "-" ]; then
    exec setpriv --reuid="$uid" --regid="$gid" --clear-groups -- "${start[@]}"
  fi
  exec "${start[@]}"
) &
app=$!
echo "$app" > "$run_dir/app.pid.tmp" && mv -f "$run_dir/app.pid.tmp" "$run_dir/app.pid"
wait "$app"
status=$?
echo "$status" > "$run_dir/exit_status.tmp" && mv -f "$run_dir/exit_status.tmp" "$run_dir/exit_status"
exit "$status"
