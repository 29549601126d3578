#!/usr/bin/env bash
# Runs on the EC2 host (deploy.yml sends it over SSH): backs the store up,
# switches the embedded Compose deployment in /opt/quicktalk to IMAGE, waits
# for /readyz, and goes back to the previous image when the new one is not
# ready in time. A newer version may migrate the store's schema, which an
# older one then refuses: the backup taken first is what a rollback that
# does not become ready needs (the script names it).
#
# Usage: sudo deploy.sh IMAGE      e.g. ghcr.io/quicktalk/quicktalk:1.2.3
set -euo pipefail

image="${1:?usage: deploy.sh IMAGE}"
dir="${QUICKTALK_DIR:-/opt/quicktalk}"
env_file="$dir/.env"
cd "$dir"

compose() {
    docker compose --project-directory "$dir" --profile embedded "$@"
}

# The port Compose publishes (QUICKTALK_PORT in .env: `8080` or
# `127.0.0.1:8080`), as the readiness check must reach it.
port_spec="$(sed -n 's/^QUICKTALK_PORT=//p' "$env_file" 2>/dev/null | tail -n 1)"
port="${port_spec##*:}"
port="${port:-8080}"

ready() {
    for _ in $(seq 1 30); do
        if curl -fsS -o /dev/null "http://127.0.0.1:$port/readyz"; then
            return 0
        fi
        sleep 2
    done
    return 1
}

previous="$(sed -n 's/^QUICKTALK_IMAGE=//p' "$env_file" 2>/dev/null || true)"
touch "$env_file"
sed -i '/^QUICKTALK_IMAGE=/d' "$env_file"
echo "QUICKTALK_IMAGE=$image" >> "$env_file"

echo "deploy: $previous -> $image"
# Nothing changes until the image is here and the store is copied.
keep_previous() {
    sed -i '/^QUICKTALK_IMAGE=/d' "$env_file"
    if [ -n "$previous" ]; then
        echo "QUICKTALK_IMAGE=$previous" >> "$env_file"
    fi
    echo "deploy: $1; still on ${previous:-nothing}" >&2
    exit 1
}
compose pull quicktalk || keep_previous "cannot pull $image"
backup="(none: first deploy)"
if [ -n "$previous" ]; then
    report="$("$dir/deploy/ec2/backup.sh")" || keep_previous "the store backup failed"
    backup="$(sed -n 's/^backup: \([^ ]*\).*/\1/p' <<< "$report")"
    echo "deploy: store backed up to $backup"
fi
if compose up -d quicktalk && ready; then
    echo "deploy: $image is ready"
    exit 0
fi

echo "deploy: $image is not ready; rolling back to ${previous:-nothing}" >&2
sed -i '/^QUICKTALK_IMAGE=/d' "$env_file"
if [ -n "$previous" ]; then
    echo "QUICKTALK_IMAGE=$previous" >> "$env_file"
    compose up -d quicktalk
    if ready; then
        echo "deploy: back on $previous" >&2
    else
        echo "deploy: $previous is not ready either; if $image changed the store, restore the copy taken before: $dir/deploy/ec2/backup.sh restore $backup" >&2
    fi
fi
exit 1
