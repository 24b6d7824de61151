#!/usr/bin/env bash
# Make sure Debian's Patroni and etcd are installed: the failover test (tests/ops/test_patroni_failover.py)
# and bench/failover.py run a three-node cluster of them. Installs the packages when we are root;
# never starts their system services (the test runs its own, in network namespaces).
set -euo pipefail
if command -v patroni >/dev/null && command -v etcd >/dev/null; then exit 0; fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  echo "ensure-patroni: patroni/etcd missing; install Debian's patroni and etcd-server packages" >&2
  exit 1
fi
echo "ensure-patroni: installing Debian's patroni and etcd-server" >&2
# policy-rc.d 101: the packages' services are not started by the installation.
policy=/usr/sbin/policy-rc.d
made_policy=
if [ ! -e "$policy" ]; then printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && made_policy=1; fi
install() { DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends patroni etcd-server >/dev/null; }
status=0
install || { apt-get update -q >/dev/null && install; } || status=$?
if [ -n "$made_policy" ]; then rm -f "$policy"; fi
exit "$status"
