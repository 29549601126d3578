#!/usr/bin/env bash
# The whole test suite, exactly what CI runs (.ci/run calls this script):
# installs what the tests need (Debian's Chromium, the browser tests' npm
# packages, Go for FerretDB, Java and Maven for Kafka), starts the services
# (scripts/services.sh: FerretDB, a MongoDB-wire server, and Apache Kafka),
# then runs the format check, clippy, every test (including the 10,000-case
# invariant property test, the socket tests, the MongoDB store and outage
# tests, the headless browser test and the examples' tests: the bot, the TCP
# transport, the embedded app and the CLI client in a pseudo-terminal), the
# React example's type check, Vitest unit tests, build and Chromium test,
# the deployment checks (shellcheck on every script, actionlint on the
# workflows, the cloud-init schema, both Compose profiles' config), the
# container image built with Podman and tested (chat through the published
# port, SIGTERM, the volume), nginx with deploy/nginx/ in front of the
# server, the embedded Compose profile run, and a build of every benchmark.
# The services are stopped at the end; each step prints its time.
#
# Usage: scripts/test.sh
#
# Builds go to $CARGO_TARGET_DIR (default: ~/.cache/quicktalk/target, outside
# the clone) so repeated runs and fresh clones on one machine share them.
set -euo pipefail

cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/quicktalk/target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
# Incremental compilation only pays off while editing; here it would add
# gigabytes of cache per run that nothing reads again.
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"

step_started=$SECONDS
step() {
    printf '    (%ss)\n\n==> %s\n' "$((SECONDS - step_started))" "$*"
    step_started=$SECONDS
}

need() {
    if ! command -v "$1" >/dev/null 2>&1 && ! cargo "$1" --version >/dev/null 2>&1; then
        echo "error: '$1' is missing; install it with: $2" >&2
        exit 1
    fi
}

need cargo "rustup (https://rustup.rs)"
need fmt "rustup component add rustfmt"
need clippy "rustup component add clippy"

as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

apt_install() {
    as_root apt-get update -q >/dev/null
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >/dev/null
}

step "build prerequisites (a C toolchain, OpenSSL and zlib headers for librdkafka)"
if ! command -v cc >/dev/null 2>&1 || ! command -v make >/dev/null 2>&1 \
    || ! command -v pkg-config >/dev/null 2>&1 \
    || [ ! -f /usr/include/openssl/ssl.h ] || [ ! -f /usr/include/zlib.h ]; then
    echo "installing build-essential, pkg-config, libssl-dev and zlib1g-dev"
    apt_install build-essential pkg-config libssl-dev zlib1g-dev
fi

step "browser test prerequisites"
export CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"
if [ ! -x "$CHROMIUM" ]; then
    echo "installing Debian's chromium"
    apt_install chromium
fi
if ! command -v npm >/dev/null 2>&1; then
    echo "installing node and npm"
    apt_install nodejs npm
fi
(cd quicktalk-server/tests/browser && npm ci --no-audit --no-fund --loglevel=error)
(cd examples/react-client && npm ci --no-audit --no-fund --loglevel=error)
# The browser test may not skip itself here.
export QUICKTALK_REQUIRE_BROWSER=1

step "deployment tools (Podman, runc, nginx, shellcheck, cloud-init, musl, actionlint, podman-compose)"
cache="$HOME/.cache/quicktalk"
missing=()
for pair in podman:podman runc:runc nginx:nginx shellcheck:shellcheck cloud-init:cloud-init \
    musl-gcc:musl-tools openssl:openssl curl:curl; do
    command -v "${pair%%:*}" >/dev/null 2>&1 || [ -x "/usr/sbin/${pair%%:*}" ] || missing+=("${pair#*:}")
done
if [ "${#missing[@]}" -gt 0 ]; then
    echo "installing ${missing[*]}"
    apt_install "${missing[@]}"
fi
export PATH="$cache/bin:$PATH"
if ! command -v actionlint >/dev/null 2>&1; then
    echo "installing actionlint"
    # Built with Go, which the services step below also needs.
    command -v go >/dev/null 2>&1 || apt_install golang
    GOBIN="$cache/bin" go install github.com/rhysd/actionlint/cmd/actionlint@v1.7.12
fi
if [ ! -x "$cache/venv/bin/podman-compose" ]; then
    echo "installing podman-compose"
    python3 -m venv "$cache/venv" || { apt_install python3-venv && python3 -m venv "$cache/venv"; }
    "$cache/venv/bin/pip" install -q podman-compose==1.5.0
fi
podman_compose="$cache/venv/bin/podman-compose"
# This sandbox's runtime cannot set ulimits, and runc is the runtime that
# works here (docs/deploy-ec2.md); our own file, the machine's is untouched.
cat > "$cache/containers.conf" <<'CONF'
[containers]
default_ulimits = []
[engine]
runtime = "runc"
CONF
export CONTAINERS_CONF="$cache/containers.conf"

step "services (FerretDB, Apache Kafka)"
if ! command -v go >/dev/null 2>&1; then
    echo "installing Go"
    apt_install golang
fi
if ! command -v java >/dev/null 2>&1 || ! command -v mvn >/dev/null 2>&1; then
    echo "installing Java 17 and Maven"
    apt_install openjdk-17-jre-headless maven
fi
if ! command -v python3 >/dev/null 2>&1; then
    apt_install python3
fi
trap 'scripts/services.sh down' EXIT
eval "$(scripts/services.sh up)"
# The MongoDB, Kafka and outage tests may not skip themselves here.
export QUICKTALK_REQUIRE_SERVICES=1

step "toolchain: $(cargo --version), target dir: $CARGO_TARGET_DIR"
# A shared target directory grows with every toolchain, lockfile and feature
# set it has seen; a run needs about 15 GiB of it. When the disk holding it
# has less than QUICKTALK_MIN_FREE_GIB (default 20) free, the stale parts go
# first (incremental caches), then the whole cache (the run rebuilds it).
free_gib() {
    df -Pk "$CARGO_TARGET_DIR" | awk 'NR == 2 { print int($4 / 1048576) }'
}
min_free_gib="${QUICKTALK_MIN_FREE_GIB:-20}"
mkdir -p "$CARGO_TARGET_DIR"
if [ "$(free_gib)" -lt "$min_free_gib" ]; then
    echo "only $(free_gib) GiB free: removing incremental build caches"
    rm -rf "$CARGO_TARGET_DIR"/*/incremental "$CARGO_TARGET_DIR"/*/*/incremental
fi
if [ "$(free_gib)" -lt "$min_free_gib" ]; then
    echo "only $(free_gib) GiB free: removing the build cache $CARGO_TARGET_DIR"
    cargo clean
    mkdir -p "$CARGO_TARGET_DIR"
fi
echo "$(free_gib) GiB free on the disk of the build cache"

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy (warnings are errors)"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "shellcheck (every shell script)"
mapfile -t scripts < <(git ls-files '*.sh')
shellcheck .ci/run "${scripts[@]}"

step "actionlint (GitHub workflows)"
actionlint

step "cloud-init schema (deploy/ec2/cloud-init.yaml)"
cloud-init schema -c deploy/ec2/cloud-init.yaml

step "compose.yaml: both profiles' configuration"
"$podman_compose" --profile embedded config >/dev/null
"$podman_compose" --profile full --profile monitoring config >/dev/null

step "container image (scripts/image.sh: static binary, FROM scratch)"
scripts/image.sh quicktalk:test
# The container test (quicktalk-server/tests/container.rs) runs it.
export QUICKTALK_TEST_IMAGE=localhost/quicktalk:test

step "cargo test"
cargo test --workspace --locked

step "compose: the embedded profile runs"
port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
compose_embedded() {
    QUICKTALK_IMAGE=localhost/quicktalk:test QUICKTALK_PORT="127.0.0.1:$port" \
        "$podman_compose" -p quicktalk-ci --profile embedded "$@"
}
compose_embedded down -v >/dev/null 2>&1 || true
compose_embedded up -d >/dev/null
healthy=""
for _ in $(seq 1 60); do
    if curl -fsS "http://127.0.0.1:$port/livez" >/dev/null 2>&1; then
        healthy=yes
        break
    fi
    sleep 0.5
done
compose_embedded down -v >/dev/null 2>&1
if [ -z "$healthy" ]; then
    echo "error: the embedded profile did not answer /livez" >&2
    exit 1
fi
echo "the embedded profile answered /livez on port $port"

step "examples/react-client: type check, unit tests (Vitest), build, browser test (Chromium)"
# The browser test runs the built app against the real server binary.
cargo build -p quicktalk-server --locked
(
    cd examples/react-client
    npm run --silent typecheck
    npm test --silent
    npm run --silent build
    QUICKTALK_BIN="$CARGO_TARGET_DIR/debug/quicktalk" npm run --silent e2e
)

step "cargo bench --no-run (benchmarks build)"
cargo bench --workspace --no-run --locked

step "all checks passed"
