#!/usr/bin/env bash
# Runs on the EC2 host (deploy.yml sends it over SSH): switches the
# embedded Compose deployment in /opt/quicktalk to IMAGE, waits for
# /readyz, and goes back to the previous image when the new one is not
# ready in time.
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

ready() {
    for _ in $(seq 1 30); do
        if curl -fsS -o /dev/null http://127.0.0.1:8080/readyz; then
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
if compose pull quicktalk && compose up -d quicktalk && ready; then
    echo "deploy: $image is ready"
    exit 0
fi

echo "deploy: $image is not ready; rolling back to ${previous:-nothing}" >&2
sed -i '/^QUICKTALK_IMAGE=/d' "$env_file"
if [ -n "$previous" ]; then
    echo "QUICKTALK_IMAGE=$previous" >> "$env_file"
    compose up -d quicktalk
    ready && echo "deploy: back on $previous" >&2
fi
exit 1
