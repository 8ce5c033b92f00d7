#!/bin/bash
# Applies an instance's limits, drops to its user and starts it (process backend).
#
# Usage: launch.sh DIR NICE MEM_KB VMEM_KB FDS NPROC FSIZE_KB UID GID MODE
#   MODE v1: runs ./startup -p $PORT in DIR (the v1 droplet layout)
#   MODE v2: sources app/.profile.d/*.sh, then runs $DEA_START_COMMAND with bash -c in app/
# UID/GID "-" keep the current user (the agent is not root).
# Every argument is a number or a fixed word chosen by the agent; the start command
# arrives in the environment and is run as the app's own command, never spliced here.
dir=$1 nice=$2 mem_kb=$3 vmem_kb=$4 fds=$5 nproc=$6 fsize_kb=$7 uid=$8 gid=$9 mode=${10}
cd "$dir" || exit 126
renice -n "$nice" -p $$ >/dev/null 2>&1
ulimit -m "$mem_kb" 2>/dev/null
ulimit -v "$vmem_kb" || exit 126
ulimit -n "$fds" || exit 126
ulimit -u "$nproc" || exit 126
ulimit -f "$fsize_kb" || exit 126
umask 077
start=("/bin/bash" "$(dirname "$0")/start.sh" "$mode")
if [ "$uid" != "-" ]; then
  exec setpriv --reuid="$uid" --regid="$gid" --clear-groups -- "${start[@]}"
fi
exec "${start[@]}"
