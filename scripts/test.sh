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
# and a build of every benchmark. The services are stopped at the end.
#
# Usage: scripts/test.sh
#
# Builds go to $CARGO_TARGET_DIR (default: ~/.cache/quicktalk/target, outside
# the clone) so repeated runs and fresh clones on one machine share them.
set -euo pipefail

cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/quicktalk/target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

step() { printf '\n==> %s\n' "$*"; }

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

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy (warnings are errors)"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "cargo test"
cargo test --workspace --locked

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
