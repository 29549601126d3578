#!/usr/bin/env bash
# A second "host" for load tests: a network namespace joined to this one by
# a veth pair, so the load tool's sockets are not the server's loopback
# sockets, and the tool pinned to one core so the server's figures say what
# the server costs.
#
# Usage (as root):
#   scripts/loadns.sh up            create the namespace (idempotent)
#   scripts/loadns.sh run CMD...    run CMD inside it, pinned to core $LOAD_CPU
#   scripts/loadns.sh down          remove it
#
# The server listens on $HOST_ADDR (default 10.77.0.1) or 0.0.0.0; the load
# tool, inside the namespace, connects to ws://$HOST_ADDR:PORT/ws and its
# connections come from $LOAD_ADDR (default 10.77.0.2). Traffic stays inside
# this machine.
set -euo pipefail

ns="${LOAD_NS:-qtload}"
host_addr="${HOST_ADDR:-10.77.0.1}"
load_addr="${LOAD_ADDR:-10.77.0.2}"
cpu="${LOAD_CPU:-1}"

case "${1:-}" in
up)
    if ! ip netns list | grep -qw "$ns"; then
        ip netns add "$ns"
        ip link add qt-host type veth peer name qt-load
        ip link set qt-load netns "$ns"
        ip addr add "$host_addr/24" dev qt-host
        ip link set qt-host up
        ip netns exec "$ns" ip addr add "$load_addr/24" dev qt-load
        ip netns exec "$ns" ip link set qt-load up
        ip netns exec "$ns" ip link set lo up
    fi
    echo "load namespace $ns: server side $host_addr, load side $load_addr (core $cpu)"
    ;;
run)
    shift
    exec ip netns exec "$ns" taskset -c "$cpu" "$@"
    ;;
down)
    ip netns del "$ns" 2>/dev/null || true
    ip link del qt-host 2>/dev/null || true
    ;;
*)
    echo "usage: $0 up|run CMD...|down" >&2
    exit 2
    ;;
esac
