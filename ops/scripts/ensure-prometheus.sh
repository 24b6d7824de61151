#!/usr/bin/env bash
# Make sure Debian's Prometheus is installed: promtool (rule checks and unit tests) and the
# server binary the end-to-end alert test starts. Installs the package when we are root.
set -euo pipefail
if command -v promtool >/dev/null && command -v prometheus >/dev/null; then exit 0; fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  echo "ensure-prometheus: promtool/prometheus missing; install Debian's prometheus package" >&2
  exit 1
fi
echo "ensure-prometheus: installing Debian's prometheus" >&2
install() { DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends prometheus >/dev/null; }
install || { apt-get update -q >/dev/null && install; }
