#!/usr/bin/env bash
# Installs everything the agent and its tests need on a fresh Debian machine:
# the Debian packages (nats-server, GNU tar, procps) and the npm packages.
# Idempotent: a second run changes nothing and takes about a second.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v nats-server >/dev/null 2>&1 || need_apt+=(nats-server)
command -v tar >/dev/null 2>&1 || need_apt+=(tar)
command -v setpriv >/dev/null 2>&1 || need_apt+=(util-linux)
command -v ps >/dev/null 2>&1 || need_apt+=(procps)
command -v curl >/dev/null 2>&1 || need_apt+=(curl)
# The container backend's /proc view of an instance's own limits (tests start their own).
command -v lxcfs >/dev/null 2>&1 || need_apt+=(lxcfs)
# Container networks: namespaces, veths and tc (iproute2), egress and port-mapping rules
# (nftables). deactl's `top` is tested through a real terminal (tmux).
command -v ip >/dev/null 2>&1 && command -v tc >/dev/null 2>&1 || need_apt+=(iproute2)
command -v nft >/dev/null 2>&1 || need_apt+=(nftables)
command -v tmux >/dev/null 2>&1 || need_apt+=(tmux)
if [ ${#need_apt[@]} -gt 0 ]; then
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  echo "setup: installing Debian packages: ${need_apt[*]}" >&2
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

if [ ! -d node_modules ] || [ package.json -nt node_modules/.package-lock.json ] \
   || { [ -f package-lock.json ] && [ package-lock.json -nt node_modules/.package-lock.json ]; }; then
  echo "setup: installing npm packages" >&2
  if [ -f package-lock.json ]; then npm ci --no-audit --no-fund >&2; else npm install --no-audit --no-fund >&2; fi
fi

# The container backend's supervisor (libexec/container), a small C program: rebuilt
# whenever a source is newer than the binary.
command -v cc >/dev/null 2>&1 && command -v make >/dev/null 2>&1 || {
  echo "setup: installing the C toolchain for libexec/container" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gcc make libc6-dev >/dev/null
}
make -s -C libexec/container

# The systemd unit (config/dea.service) is checked with `systemd-analyze verify` in the
# tests, and the notify protocol test's receiver socket is a python3 script.
need_sd=()
command -v systemd-analyze >/dev/null 2>&1 || need_sd+=(systemd)
command -v python3 >/dev/null 2>&1 || need_sd+=(python3)
if [ ${#need_sd[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${need_sd[*]}" >&2
  sd_sudo=""
  [ "$(id -u)" -eq 0 ] || sd_sudo="sudo"
  $sd_sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sd_sudo apt-get install -y -qq "${need_sd[@]}" >/dev/null
fi
# The systemd notify helper (libexec/notify), built like the container supervisor.
make -s -C libexec/notify
# The spawn and mount helper and the process backend's C supervisor, on every start's
# path (libexec/spawner).
make -s -C libexec/spawner
