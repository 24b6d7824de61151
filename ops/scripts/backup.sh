#!/usr/bin/env bash
# Back up a govledger on PostgreSQL (docs/operations.md §Backup and restore).
#
#   ops/scripts/backup.sh OUT_DIR
#
# Reads the service's own settings (GOVLEDGER_DATABASE_URL, GOVLEDGER_POSTGRES_SCHEMA,
# GOVLEDGER_STATE_DIR, GOVLEDGER_CHECKPOINT_KEY_FILE). Writes into OUT_DIR (new or empty):
#   checkpoint.note  a signed checkpoint issued just before the dump: the anchor restore.sh
#                    proves the restored ledger against (also keep a copy off this machine)
#   ledger.dump      pg_dump custom format of the ledger's schema (events, tree, checkpoints,
#                    API key hashes; no secret: keys and passwords live outside the database)
#   state.tar.gz     the verifier's state directory (verified heads, last run)
#   MANIFEST, SHA256SUMS
# Refuses to back up a ledger that does not verify.
set -euo pipefail

out=${1:?usage: backup.sh OUT_DIR}
url=${GOVLEDGER_DATABASE_URL:?GOVLEDGER_DATABASE_URL must name the PostgreSQL ledger}
schema=${GOVLEDGER_POSTGRES_SCHEMA:-public}
state=${GOVLEDGER_STATE_DIR:-var/state}
bin=${GOVLEDGER_BIN_DIR:-$(dirname "$(command -v govledger)")}
log() { echo "backup: $*" >&2; }

case $url in postgresql://*|postgres://*) ;; *) log "only PostgreSQL ledgers (got ${url%%:*})"; exit 2;; esac
[ -n "${GOVLEDGER_CHECKPOINT_KEY_FILE:-}" ] || { log "GOVLEDGER_CHECKPOINT_KEY_FILE is needed to sign the pre-backup checkpoint"; exit 2; }
mkdir -p "$out"
[ -z "$(ls -A "$out")" ] || { log "$out is not empty"; exit 2; }

log "verifying before the backup"
"$bin/govledger" verify >&2
log "issuing the pre-backup checkpoint"
"$bin/govledger" checkpoint issue > "$out/checkpoint.note"
log "pg_dump (custom format) of schema $schema"
pg_dump --format=custom --no-password --schema="$schema" --dbname="$url" --file="$out/ledger.dump"
mkdir -p "$state"
tar -C "$state" -czf "$out/state.tar.gz" .
{
  echo "created_at=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "schema=$schema"
  echo "checkpoint_size=$(sed -n 2p "$out/checkpoint.note")"
  echo "checkpoint_origin=$(sed -n 1p "$out/checkpoint.note")"
} > "$out/MANIFEST"
(cd "$out" && sha256sum checkpoint.note ledger.dump state.tar.gz MANIFEST > SHA256SUMS)
log "done: $out (checkpoint size $(sed -n 2p "$out/checkpoint.note"))"
