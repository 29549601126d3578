# shellcheck shell=bash
# Shared by the load scripts (rounds.sh, scaling.sh); sourced, not run.
# Moves to the repository root and sets CARGO_TARGET_DIR and $host_addr.
#
#   load_build [BIN...]   builds the load tool (and the other BINs of
#                         quicktalk-benches) and the server with mimalloc,
#                         sets $bin, brings up the load namespace and raises
#                         the open-files limit
#   stop_server           stops the server in $server, if any (also on exit)

cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/quicktalk/target}"
# shellcheck disable=SC2034 # used by the scripts that source this
host_addr="${HOST_ADDR:-10.77.0.1}"

load_build() {
    local bins=(--bin quicktalk-loadgen) extra
    for extra in "$@"; do
        bins+=(--bin "$extra")
    done
    cargo build --release --locked -q -p quicktalk-benches "${bins[@]}"
    cargo build --release --locked -q -p quicktalk-server --features mimalloc
    # shellcheck disable=SC2034 # used by the scripts that source this
    bin="$CARGO_TARGET_DIR/release"
    scripts/loadns.sh up >/dev/null
    ulimit -n "$(ulimit -Hn)"
}

server=""
stop_server() {
    if [ -n "$server" ]; then
        kill "$server" 2>/dev/null || true
        wait "$server" 2>/dev/null || true
        server=""
    fi
}
trap stop_server EXIT
