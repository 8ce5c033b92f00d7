#!/usr/bin/env bash
# Quick start (`npm run dev`): installs what is missing, then runs nats-server (or uses the
# one on 127.0.0.1:4222), an LXCFS of its own (as root), the agent on config/dev.yml, and
# pushes the sample app with `bin/deactl push`, as an operator would. Ctrl-C stops the
# agent (it stops its apps), then LXCFS, then nats-server, and removes the run's files
# (/tmp/dea-dev, /tmp/dea-dev-lxcfs, /tmp/dea-dev-deactl), one line per step.
# DEA_DEV_VERBOSE=1 shows every line the agent logs.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$(pwd)"
bash scripts/setup.sh
npm run --silent build

NATS_URL=nats://127.0.0.1:4222
LXCFS_DIR=/tmp/dea-dev-lxcfs
# deactl's records of what this run pushed (DEACTL_HOME), removed with the rest.
export DEACTL_HOME=/tmp/dea-dev-deactl
BASE_DIR=$(sed -n 's/^base_dir: *//p' config/dev.yml)
say() { printf '[dev] %s\n' "$*" || true; }
nats_pid="" lxcfs_pid="" agent_pid="" stopping=""
# Container networks turn IPv4 forwarding on; the quick start gives the host back as it was.
ip_forward=$(cat /proc/sys/net/ipv4/ip_forward 2>/dev/null || echo "")
claims_existed=""; [ -e /run/dea-net ] && claims_existed=1

# The agent's JSON lines, one short line each; debug ones only with DEA_DEV_VERBOSE=1.
show_agent() {
  node -e '
    const verbose = process.env.DEA_DEV_VERBOSE === "1";
    require("readline").createInterface({ input: process.stdin }).on("line", (l) => {
      try {
        const j = JSON.parse(l);
        if (j.level === "debug" && !verbose) return;
        console.log(`[agent] ${j.event ?? ""} ${j.msg ?? ""}`);
      } catch { console.log(`[agent] ${l}`); }
    });'
}

# TERM, then KILL after $2 seconds; waits until the process is gone.
stop_pid() {
  local pid=$1 grace=$2
  kill -TERM "$pid" 2>/dev/null || return 0
  for _ in $(seq $((grace * 10))); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
}

mounted() { grep -q " $1 " /proc/self/mounts; }

cleanup() {
  local code=$1 why=$2
  [ -n "$stopping" ] && return
  stopping=1
  # PIPE too: when the output went through a pipe (`npm run dev | tee log`) whose reader
  # the Ctrl-C ended, a line said here must not end the clean-up half-way.
  trap '' INT TERM HUP PIPE
  say "$why: stopping the agent, then nats-server"
  # Above the agent's own 60 s shutdown deadline: it stops every app first.
  [ -n "$agent_pid" ] && { stop_pid "$agent_pid" 70; say "agent stopped"; }
  [ -n "$lxcfs_pid" ] && { stop_pid "$lxcfs_pid" 10; say "LXCFS stopped"; }
  [ -n "$nats_pid" ] && { stop_pid "$nats_pid" 5; say "nats-server stopped"; }
  if [ -n "$ip_forward" ] && [ "$(cat /proc/sys/net/ipv4/ip_forward)" != "$ip_forward" ]; then
    echo "$ip_forward" > /proc/sys/net/ipv4/ip_forward 2>/dev/null && say "IPv4 forwarding back to $ip_forward"
  fi
  # The agents' host-wide claims directory, if this run made it and no claim is left in it.
  if [ -z "$claims_existed" ] && [ -d /run/dea-net ] && [ -z "$(find /run/dea-net -type f -print -quit)" ]; then rm -rf /run/dea-net; fi
  local removed=() kept=()
  for d in "$BASE_DIR" "$LXCFS_DIR" "$LXCFS_DIR.pid" "$DEACTL_HOME"; do
    if mounted "$d" || grep -q " $d/" /proc/self/mounts; then kept+=("$d"); else rm -rf "$d"; removed+=("$d"); fi
  done
  say "removed ${removed[*]}${kept:+; kept ${kept[*]} (still mounted: see mount | grep ${kept[0]})}"
  exit "$code"
}
# Children run in sessions of their own (setsid): the terminal's Ctrl-C reaches only this
# script, which then stops them in order.
trap 'cleanup 0 Ctrl-C' INT
trap 'cleanup 0 SIGTERM' TERM
trap 'cleanup 0 SIGHUP' HUP

if (exec 3<>/dev/tcp/127.0.0.1/4222) 2>/dev/null; then
  say "using the nats-server already on 127.0.0.1:4222"
else
  setsid nats-server -a 127.0.0.1 -p 4222 >/dev/null 2>&1 &
  nats_pid=$!
  until (exec 3<>/dev/tcp/127.0.0.1/4222) 2>/dev/null; do
    kill -0 "$nats_pid" 2>/dev/null || { nats_pid=""; say "nats-server did not start"; cleanup 1 "failed"; }
    sleep 0.1
  done
fi

# As root, the container backend shows apps their own memory through this LXCFS.
if [ "$(id -u)" -eq 0 ] && command -v lxcfs >/dev/null; then
  mkdir -p "$LXCFS_DIR"
  setsid lxcfs -f -p "$LXCFS_DIR.pid" "$LXCFS_DIR" >/dev/null 2>&1 &
  lxcfs_pid=$!
  for _ in $(seq 50); do mounted "$LXCFS_DIR" && break; sleep 0.1; done
  if mounted "$LXCFS_DIR"; then say "LXCFS mounted at $LXCFS_DIR"; else say "LXCFS did not mount; apps see the host's /proc"; fi
fi

setsid bin/dea --config config/dev.yml > >(show_agent) 2>&1 &
agent_pid=$!

# The agent is up once deactl sees it; the push then places the sample app on it.
for _ in $(seq 120); do
  kill -0 "$agent_pid" 2>/dev/null || cleanup 1 "the agent exited by itself"
  bin/deactl status --json --nats "$NATS_URL" 2>/dev/null | grep -q '"placing": true' && break
  sleep 0.5
done
say "bin/deactl push fixtures/apps/sample-app --name sample-app --uri sample-app.dev.local --env GREETING=hello"
if bin/deactl push fixtures/apps/sample-app --name sample-app --uri sample-app.dev.local --env GREETING=hello --nats "$NATS_URL"; then
  addr=$(bin/deactl ls sample-app --json --nats "$NATS_URL" | node -e 'const i=JSON.parse(require("fs").readFileSync(0,"utf8")).find((x)=>x.stats);console.log(i?`${i.stats.host}:${i.stats.port}`:"")')
  [ -n "$addr" ] && { printf '\nGET http://%s/ ->\n' "$addr"; curl -s "http://$addr/" | head -c 1000; echo; }
  say "the sample app is running; in another terminal try the README's two-minute tour (bin/deactl status, ls, logs sample-app --follow, …)"
fi
say "Ctrl-C stops the agent and nats-server"
# `wait` returns early when a signal comes (the trap then cleans up) or when the agent ends.
wait "$agent_pid" || true
cleanup 1 "the agent exited by itself"
