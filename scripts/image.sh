#!/usr/bin/env bash
# Builds the container image from the Dockerfile without pulling any base
# image: the static binary is built here on the host (musl, every C
# dependency built in) into dist/, then the Dockerfile's runtime stage
# (FROM scratch) takes it with --build-arg BINARY_FROM=prebuilt.
#
# Usage: scripts/image.sh [TAG]        (default tag: quicktalk:dev)
#
# Uses podman when present, else docker (QUICKTALK_ENGINE overrides).
# Installs musl-tools and the Rust musl target when missing (Debian/Ubuntu).
set -euo pipefail

cd "$(dirname "$0")/.."
tag="${1:-quicktalk:dev}"
target=x86_64-unknown-linux-musl
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/quicktalk/target}"

as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

if ! command -v musl-gcc >/dev/null 2>&1; then
    echo "image: installing musl-tools" >&2
    as_root apt-get update -q >/dev/null
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q musl-tools >/dev/null
fi
if ! rustup target list --installed | grep -qx "$target"; then
    rustup target add "$target"
fi
if [ ! -f /etc/ssl/certs/ca-certificates.crt ]; then
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q ca-certificates >/dev/null
fi

cargo build --profile dist --locked -p quicktalk-server \
    --features vendored,mimalloc --target "$target"
rm -rf dist
mkdir -p dist/data
cp "$CARGO_TARGET_DIR/$target/dist/quicktalk" dist/quicktalk
strip dist/quicktalk
cp /etc/ssl/certs/ca-certificates.crt dist/ca-certificates.crt

engine="${QUICKTALK_ENGINE:-}"
if [ -z "$engine" ]; then
    if command -v podman >/dev/null 2>&1; then engine=podman; else engine=docker; fi
fi
format=()
# Podman writes OCI images by default, which have no HEALTHCHECK.
if [ "$engine" = podman ]; then format=(--format docker); fi
version="${QUICKTALK_VERSION:-}"
if [ -z "$version" ]; then version="$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)"; fi
revision="$(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
"$engine" build "${format[@]}" \
    --build-arg BINARY_FROM=prebuilt \
    --build-arg VERSION="$version" \
    --build-arg REVISION="$revision" \
    -t "$tag" .
echo "image: built $tag ($(du -h dist/quicktalk | cut -f1) binary)" >&2
