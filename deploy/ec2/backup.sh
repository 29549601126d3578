#!/usr/bin/env bash
# Backs up or restores the embedded deployment's SQLite store.
#
#   backup.sh                 a consistent copy (SQLite's online backup,
#                             safe while the server runs) into
#                             /var/backups/quicktalk, the newest 7 kept
#   backup.sh restore FILE    stops the server, puts FILE in place, starts it
#
# QUICKTALK_DIR (default /opt/quicktalk) is the Compose project directory;
# QUICKTALK_ENGINE (default docker) may be podman, with QUICKTALK_COMPOSE
# (default "docker compose") then e.g. podman-compose. Without containers
# (the systemd unit), QUICKTALK_DB names the database file
# (/var/lib/quicktalk/quicktalk.db) and a restore stops and starts the unit
# QUICKTALK_UNIT (default quicktalk).
set -euo pipefail
# Backups hold chat lines and the IP-hash key: readable by root alone.
umask 077

dir="${QUICKTALK_DIR:-/opt/quicktalk}"
engine="${QUICKTALK_ENGINE:-docker}"
read -r -a compose <<< "${QUICKTALK_COMPOSE:-docker compose}"
backups="${QUICKTALK_BACKUPS:-/var/backups/quicktalk}"
keep="${QUICKTALK_BACKUPS_KEPT:-7}"
project="$(basename "$dir")"
volume="${QUICKTALK_VOLUME:-${project}_quicktalk-data}"

usage() {
    echo "usage: backup.sh [backup | restore FILE]" >&2
    exit 2
}
# The arguments first: a typo gets the usage, not a container engine error.
case "${1:-backup}" in
backup) ;;
restore) [ -n "${2:-}" ] || usage ;;
*) usage ;;
esac

if [ -n "${QUICKTALK_DB:-}" ]; then
    db="$QUICKTALK_DB"
    mountpoint="$(dirname "$db")"
    stop_server() { systemctl stop "${QUICKTALK_UNIT:-quicktalk}"; }
    start_server() { systemctl start "${QUICKTALK_UNIT:-quicktalk}"; }
else
    mountpoint="$("$engine" volume inspect -f '{{.Mountpoint}}' "$volume")"
    db="$mountpoint/quicktalk.db"
    stop_server() { (cd "$dir" && "${compose[@]}" --profile embedded stop quicktalk); }
    start_server() { (cd "$dir" && "${compose[@]}" --profile embedded start quicktalk); }
fi

case "${1:-backup}" in
backup)
    mkdir -p "$backups"
    target="$backups/quicktalk-$(date -u +%Y%m%dT%H%M%SZ).db"
    sqlite3 "$db" ".backup '$target'"
    sqlite3 "$target" "PRAGMA integrity_check;" | grep -qx ok
    echo "backup: $target ($(du -h "$target" | cut -f1))"
    # The newest $keep stay.
    find "$backups" -name 'quicktalk-*.db' -printf '%T@ %p\n' | sort -rn \
        | tail -n +"$((keep + 1))" | cut -d' ' -f2- | xargs -r rm -f
    ;;
restore)
    file="${2:?usage: backup.sh restore FILE}"
    sqlite3 "$file" "PRAGMA integrity_check;" | grep -qx ok
    # -L: under systemd's DynamicUser the state directory is a symlink
    # (owned by root) to the directory the service user owns.
    owner="$(stat -L -c '%u:%g' "$mountpoint")"
    stop_server
    rm -f "$db-wal" "$db-shm"
    install -o "${owner%:*}" -g "${owner#*:}" -m 600 "$file" "$db"
    start_server
    echo "restore: $file is live"
    ;;
*)
    usage
    ;;
esac
