#!/usr/bin/env bash
# Restore a backup made by backup.sh into a fresh database, then prove nothing changed
# (docs/operations.md §Backup and restore).
#
#   ops/scripts/restore.sh BACKUP_DIR
#
# GOVLEDGER_DATABASE_URL names the target database (its schema GOVLEDGER_POSTGRES_SCHEMA must
# not exist yet; the roles that owned the objects must exist), GOVLEDGER_STATE_DIR an empty
# or absent directory, GOVLEDGER_TRUSTED_KEYS_FILE (or the signer key file) the log's keys.
# Steps: checksums; pg_restore; the verifier's state; `govledger verify --full` (every hash,
# and the log against its newest trusted checkpoint); `govledger prove --consistency` from
# the pre-backup checkpoint's size, checked against that signed checkpoint (ops/restore_check.py).
# Exit 0 only if all of them pass.
set -euo pipefail

backup=${1:?usage: restore.sh BACKUP_DIR}
url=${GOVLEDGER_DATABASE_URL:?GOVLEDGER_DATABASE_URL must name the target database}
schema=${GOVLEDGER_POSTGRES_SCHEMA:-public}
state=${GOVLEDGER_STATE_DIR:-var/state}
bin=${GOVLEDGER_BIN_DIR:-$(dirname "$(command -v govledger)")}
log() { echo "restore: $*" >&2; }

log "checking checksums"
(cd "$backup" && sha256sum --quiet -c SHA256SUMS) || { log "the backup is damaged"; exit 1; }
existing=$(psql --no-password -d "$url" -Atc "SELECT count(*) FROM pg_tables WHERE schemaname = '$schema' AND tablename = 'ledger_events'")
[ "$existing" = 0 ] || { log "the target already holds a ledger in schema $schema"; exit 2; }
if [ -d "$state" ] && [ -n "$(ls -A "$state")" ]; then log "$state is not empty"; exit 2; fi

log "pg_restore into $schema"
pg_restore --no-password --exit-on-error --dbname="$url" "$backup/ledger.dump"
mkdir -p "$state"
tar -C "$state" -xzf "$backup/state.tar.gz"

log "govledger verify --full"
"$bin/govledger" verify --full >&2
size=$(sed -n 2p "$backup/checkpoint.note")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
log "consistency proof from the pre-backup checkpoint (size $size)"
"$bin/govledger" prove --consistency --from "$size" --json > "$work/proof.json"
"$bin/python" -m ops.restore_check "$backup/checkpoint.note" "$work/proof.json"
