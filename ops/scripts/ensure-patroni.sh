#!/usr/bin/env bash
# Make sure Patroni (pinned in ops/deploy/patroni/requirements.txt, in its own virtualenv
# /opt/patroni) and Debian's etcd are installed: the failover test (tests/ops/test_patroni_failover.py)
# and bench/failover.py run a three-node cluster of them. Installs them when we are root; never
# starts etcd's system service (the test runs its own, in network namespaces). Patroni comes from
# PyPI, not from Debian: bookworm's 3.0.2 can let a former primary overwrite the new primary's
# leader key (docs/operations.md §High availability).
set -euo pipefail
requirements="$(cd "$(dirname "$0")/../deploy/patroni" && pwd)/requirements.txt"
venv=/opt/patroni
wanted="$(sed -n 's/^patroni\[etcd3\]==//p' "$requirements")"
have="$(runuser -u postgres -- "$venv/bin/patroni" --version 2>/dev/null | awk '{print $2}' || true)"
if [ "$have" = "$wanted" ] && command -v etcd >/dev/null; then exit 0; fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  echo "ensure-patroni: need Patroni $wanted in $venv (pip install -r $requirements) and Debian's etcd-server" >&2
  exit 1
fi
echo "ensure-patroni: installing Debian's etcd-server and Patroni $wanted into $venv" >&2
# policy-rc.d 101: the packages' services are not started by the installation.
policy=/usr/sbin/policy-rc.d
made_policy=
if [ ! -e "$policy" ]; then printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && made_policy=1; fi
install() { DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends etcd-server python3-venv >/dev/null; }
status=0
install || { apt-get update -q >/dev/null && install; } || status=$?
if [ -n "$made_policy" ]; then rm -f "$policy"; fi
[ "$status" = 0 ] || exit "$status"
# A fresh venv each time (an interrupted install fails the version check and comes here again).
rm -rf "$venv"
/usr/bin/python3 -m venv "$venv"  # Debian's: an interpreter the postgres user can run
"$venv/bin/pip" install -q --disable-pip-version-check -r "$requirements" >&2
chmod -R a+rX "$venv"  # Patroni runs as postgres, whatever root's umask was
for tool in patroni patronictl; do ln -sf "$venv/bin/$tool" "/usr/local/bin/$tool"; done
