#!/bin/bash
# Runs as the instance's user, in its directory, with its limits already applied.
# Usage: start.sh MODE   (see supervise.sh)
case "$1" in
  v1)
    exec ./startup -p "$PORT"
    ;;
  v2)
    cmd=$DEA_START_COMMAND
    unset DEA_START_COMMAND
    unset GEM_PATH
    # User variables are already exported; .profile.d scripts may build on them.
    if [ -d app/.profile.d ]; then
      for f in app/.profile.d/*.sh; do
        [ -r "$f" ] && . "$f"
      done
    fi
    cd app || exit 126
    exec bash -c "$cmd"
    ;;
esac
echo "start.sh: unknown mode" >&2
exit 126
