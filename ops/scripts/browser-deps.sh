#!/usr/bin/env bash
# What the console's browser tests need from Debian: chromium (driven by Playwright through
# executable_path; Playwright's own browser downloads are never used, the zone is offline) and
# a CJK font so that pages render Chinese glyphs. Idempotent: installs only what is missing.
# fonts-noto-cjk is the same package the PDF reports use, so both installs agree.
set -euo pipefail

log() { echo "browser-deps: $*" >&2; }

missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
dpkg-query -W -f='${Status}' fonts-noto-cjk 2>/dev/null | grep -q "ok installed" \
  || missing+=(fonts-noto-cjk)
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  log "missing ${missing[*]}: install them with apt-get as root (the browser tests skip without)"
  exit 1
fi
log "installing ${missing[*]}"
# Other installs may hold the dpkg lock (parallel worktrees): wait for it rather than fail.
install() {
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
    -o DPkg::Lock::Timeout=600 "${missing[@]}" >/dev/null
}
install || { apt-get update -q -o DPkg::Lock::Timeout=600 >/dev/null && install; }
