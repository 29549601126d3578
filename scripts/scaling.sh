#!/usr/bin/env bash
# How the server's delivered lines/s grow from one tokio worker thread to
# two (issue 13, part 4): the closed-loop round (100 pairs, 16 lines in
# flight per client) against the server with TOKIO_WORKER_THREADS=1 and =2,
# in two set-ups:
#
#   shipped   SQLite store, moderation on (the server as shipped)
#   engine    memory store, moderation off: what is left is the engine, the
#             sockets and JSON, so a lock that stopped the second thread
#             would show here first
#
# The load tool runs in its own network namespace pinned to core $LOAD_CPU
# (scripts/loadns.sh); the server is not pinned. It also reports the
# server's voluntary and involuntary context switches per line (from
# /proc/PID/status), where threads queueing on the engine's lock would show.
#
# Usage (as root): scripts/scaling.sh
#   SCALING_SECS (10), SCALING_RUNS (2), SCALING_OUT (a temp dir)
set -euo pipefail

# shellcheck source=scripts/load-common.sh
source "$(dirname "$0")/load-common.sh"
secs="${SCALING_SECS:-10}"
runs="${SCALING_RUNS:-2}"
out="${SCALING_OUT:-$(mktemp -d)}"
mkdir -p "$out"
# shellcheck disable=SC2119 # no extra binaries
load_build

switches() { awk '/ctxt_switches/ { sum += $2 } END { print sum }' /proc/"$server"/task/*/status 2>/dev/null; }

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(date -u +%Y-%m-%dT%H:%MZ)"
printf '%-8s %7s %4s %14s %12s %16s\n' setup threads run "lines/s" "CPU/line us" "switches/line"
for setup in shipped engine; do
    for threads in 1 2; do
        for run in $(seq "$runs"); do
            port=$((28100 + RANDOM % 800))
            rm -f "$out/load.db"*
            case "$setup" in
            shipped) flags=(--store "sqlite://$out/load.db") ;;
            engine) flags=(--store memory --moderation off) ;;
            esac
            TOKIO_WORKER_THREADS=$threads "$bin/quicktalk" serve --bind "$host_addr:$port" "${flags[@]}" \
                --rate-per-sec 100000 --rate-burst 100000 --max-connections-per-ip 100000 --log warn &
            server=$!
            for _ in $(seq 50); do
                curl -s -o /dev/null "http://$host_addr:$port/" && break
                sleep 0.1
            done
            sleep 0.5
            before=$(switches)
            report="$out/$setup-$threads-$run.json"
            scripts/loadns.sh run "$bin/quicktalk-loadgen" --url "ws://$host_addr:$port/ws" \
                --server-pid "$server" --pairs 100 --window 16 --duration "$secs" 2>/dev/null >"$report"
            after=$(switches)
            stop_server
            jq -r --arg setup "$setup" --arg threads "$threads" --arg run "$run" \
                --argjson switches "$((after - before))" \
                '[$setup, $threads, $run, .delivered_per_s, (.server_cpu_us_per_line * 10 | round / 10),
                  ($switches / .delivered * 1000 | round / 1000),
                  "lost \(.lost_gaps) dup \(.duplicated) reordered \(.out_of_order)"]
                 | "\(.[0])\t\(.[1])\t\(.[2])\t\(.[3])\t\(.[4])\t\(.[5])\t\(.[6])"' "$report" |
                awk -F'\t' '{ printf "%-8s %7s %4s %14s %12s %16s  %s\n", $1, $2, $3, $4, $5, $6, $7 }'
        done
    done
done
echo "raw reports: $out"
