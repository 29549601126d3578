#!/usr/bin/env bash
# The cluster rounds of issue 9 (docs/performance.md, "Cluster"): two
# `quicktalk` nodes (SQLite store and moderation as shipped, mimalloc) on one
# Apache Kafka broker (scripts/services.sh), the load tool in its own network
# namespace pinned to core $LOAD_CPU (scripts/loadns.sh):
#
#   cross     $CLUSTER_PAIRS pairs, every pair across the two nodes, 1 line/s
#             per client: delivery latency p50/p99/p99.9 (broker included)
#   same      the same load with both members of every pair on one node
#   matches   $CLUSTER_PAIRS more pairs joining at once, across nodes:
#             matched pairs per second (connect + join + cluster matching)
#
# Each round reports lost, duplicated and reordered lines, and the CPU time
# and peak RSS of each node and of the broker.
#
# Usage (as root): scripts/cluster-load.sh
#   CLUSTER_PAIRS (1000), CLUSTER_SECS (30), CLUSTER_OUT (a temp dir)
set -euo pipefail

cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/quicktalk/target}"
pairs="${CLUSTER_PAIRS:-1000}"
secs="${CLUSTER_SECS:-30}"
host_addr="${HOST_ADDR:-10.77.0.1}"
out="${CLUSTER_OUT:-$(mktemp -d)}"
mkdir -p "$out"

cargo build --release --locked -q -p quicktalk-benches --bin quicktalk-loadgen
cargo build --release --locked -q -p quicktalk-server --features mimalloc
bin="$CARGO_TARGET_DIR/release"
# shellcheck source=/dev/null
source <(scripts/services.sh up)
kafka_pid=$(cat "${QUICKTALK_SERVICES:-${QUICKTALK_CACHE:-$HOME/.cache/quicktalk}/services}/kafka.pid")
scripts/loadns.sh up >/dev/null
ulimit -n "$(ulimit -Hn)"

prefix="qt-load-$$-$RANDOM"
nodes=()
urls=()
stop_nodes() {
    for pid in "${nodes[@]}"; do
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
}
trap stop_nodes EXIT

for n in 0 1; do
    port=$((28900 + n * 10 + RANDOM % 10))
    rm -f "$out/node$n.db"*
    "$bin/quicktalk" serve --bind "$host_addr:$port" --store "sqlite://$out/node$n.db" \
        --bus "kafka://$QUICKTALK_TEST_KAFKA" --kafka-topic-prefix "$prefix" --node-id "node$n" \
        --ip-hash-key "cluster-load-shared-ip-hash-key" \
        --rate-per-sec 1000 --rate-burst 1000 --max-connections-per-ip 100000 --log warn &
    nodes+=("$!")
    urls+=("ws://$host_addr:$port/ws")
    for _ in $(seq 100); do
        [ "$(curl -s -o /dev/null -w '%{http_code}' "http://$host_addr:$port/readyz")" = 200 ] && break
        sleep 0.2
    done
done
pids="${nodes[0]},${nodes[1]},$kafka_pid"
url_list="${urls[0]},${urls[1]}"

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(date -u +%Y-%m-%dT%H:%MZ)"
echo "nodes: ${nodes[*]} (quicktalk), broker: $kafka_pid (Kafka $QUICKTALK_TEST_KAFKA)"

round() {
    local name=$1
    shift
    scripts/loadns.sh run "$bin/quicktalk-loadgen" --url "$url_list" --server-pid "$pids" "$@" \
        >"$out/$name.json" 2>"$out/$name.log"
    python3 - "$name" "$out/$name.json" <<'PY'
import json, sys
name, path = sys.argv[1], sys.argv[2]
r = json.load(open(path))
procs = r["per_process"]
who = ["node0", "node1", "broker"]
usage = ", ".join(
    f"{w} {p['cpu_s'] / r['duration_s'] * 100:.1f}% CPU {p['rss_peak_mib']:.1f} MiB"
    for w, p in zip(who, procs) if p["cpu_s"] is not None)
lat = r["latency_ms"]
print(f"{name:8} {r['spread']:5} pairs {r['matched_pairs']} delivered/s {r['delivered_per_s']:.0f} "
      f"p50 {lat['p50']:.2f} ms p99 {lat['p99']:.2f} ms p99.9 {lat['p999']:.2f} ms max {lat['max']:.1f} ms "
      f"lost {r['lost_gaps']} dup {r['duplicated']} reordered {r['out_of_order']} "
      f"not_delivered {r['not_delivered']} errors {r['errors']} "
      f"matched/s {r['matched_pairs_per_s']:.0f} | {usage}")
PY
}

round cross --pairs "$pairs" --rate 1 --duration "$secs" --spread cross
round same --pairs "$pairs" --rate 1 --duration "$secs" --spread same
round matches --pairs "$pairs" --rate 0 --duration 1 --spread cross --ramp 2000
echo "reports: $out"
