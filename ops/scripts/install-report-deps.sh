#!/usr/bin/env bash
# What `govledger report` needs from Debian, installed when missing (make runs this):
#   fonts-noto-cjk   a CJK font, so Chinese renders as glyphs, not boxes (HTML, PDF, charts)
#   libpango*        the text layout WeasyPrint draws PDFs with
#   poppler-utils    pdftoppm / pdftotext / pdffonts, which the report tests check PDFs with
# Like ops/scripts/test-postgres.sh: installs only as root with apt-get; otherwise says what
# is missing and fails.
set -euo pipefail

log() { echo "install-report-deps: $*" >&2; }

missing=()
fc-list :lang=zh family 2>/dev/null | grep -q . || missing+=(fonts-noto-cjk)
ldconfig -p 2>/dev/null | grep -q 'libpangoft2-1.0.so.0' || missing+=(libpango-1.0-0 libpangoft2-1.0-0)
command -v pdftoppm >/dev/null || missing+=(poppler-utils)
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  log "installing Debian's ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/dev/null \
    || { apt-get update -q >/dev/null \
         && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/dev/null; }
  command -v fc-cache >/dev/null && fc-cache -f >/dev/null 2>&1 || true
else
  log "missing ${missing[*]}: install these Debian packages (as root: apt-get install ...)"
  exit 1
fi
