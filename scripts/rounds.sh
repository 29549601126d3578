#!/usr/bin/env bash
# The standard load rounds of docs/performance.md, for the bare relay
# (relay-baseline), the relay doing the server's per-line work in its least
# form (relay-baseline --moderate --store: the shipped filter and a SQLite
# file, no engine), and the server as shipped (SQLite store, moderation on,
# mimalloc), in one run, with the ratios the hot-path targets are set in:
#
#   idle       1,000 pairs connected, nothing sent: server RSS per connection
#   steady     1,000 pairs x 4 lines/s per client: CPU per line, p99
#   closed     100 pairs, 16 lines in flight per client: delivered lines/s
#   chat4k     4,000 pairs x 1 line/s per client for 200 s (8,000
#              connections): p99.9, and server RSS per connection at the
#              end, when every room has chatted long enough to fill the
#              256-line replay buffer it would keep without delivery marks
#
# The load tool runs in its own network namespace pinned to core $LOAD_CPU
# (scripts/loadns.sh); each server runs alone, unpinned. Every round also
# reports lost, duplicated and reordered lines, and the server's system
# calls per line (perf, when installed).
#
# Usage (as root): scripts/rounds.sh
#   ROUNDS_STEADY_SECS (20), ROUNDS_CLOSED_SECS (10), ROUNDS_CHAT4K_SECS (200;
#   0 skips that round), ROUNDS_OUT (a temp dir)
set -euo pipefail

# shellcheck source=scripts/load-common.sh
source "$(dirname "$0")/load-common.sh"
steady_secs="${ROUNDS_STEADY_SECS:-20}"
closed_secs="${ROUNDS_CLOSED_SECS:-10}"
chat4k_secs="${ROUNDS_CHAT4K_SECS:-200}"
out="${ROUNDS_OUT:-$(mktemp -d)}"
mkdir -p "$out"
load_build relay-baseline
syscalls=()
command -v perf >/dev/null && syscalls=(--count-syscalls)

# start NAME: the relay or the server on a fresh port and store.
start() {
    local port=$((28100 + RANDOM % 800))
    case "$1" in
    relay)
        "$bin/relay-baseline" "$host_addr:$port" 2>/dev/null &
        ;;
    work)
        rm -f "$out/relay.db"*
        "$bin/relay-baseline" "$host_addr:$port" --moderate --store "$out/relay.db" 2>/dev/null &
        ;;
    quicktalk)
        rm -f "$out/load.db"*
        "$bin/quicktalk" serve --bind "$host_addr:$port" --store "sqlite://$out/load.db" \
            --rate-per-sec 100000 --rate-burst 100000 --max-connections-per-ip 100000 \
            --log warn &
        ;;
    esac
    server=$!
    url="ws://$host_addr:$port/ws"
    for _ in $(seq 50); do
        curl -s -o /dev/null "http://$host_addr:$port/" && break
        sleep 0.1
    done
    sleep 0.5
}

load() {
    scripts/loadns.sh run "$bin/quicktalk-loadgen" --url "$url" --server-pid "$server" "$@" 2>/dev/null
}

rss_kib() { awk '/^VmRSS/ { print $2 }' "/proc/$server/status"; }

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(date -u +%Y-%m-%dT%H:%MZ)"
for name in relay work quicktalk; do
    # (Idle memory is the relay's and the server's; the filter and store
    # add nothing per connection.)
    if [ "$name" != work ]; then
        start "$name"
        base=$(rss_kib)
        load --pairs 1000 --rate 0 --duration 3 >"$out/$name-idle.json"
        jq --argjson base "$base" '.idle_kib_per_conn = ((.server_rss_mib.connected * 1024 - $base) / (.pairs * 2))' \
            "$out/$name-idle.json" >"$out/$name-idle.tmp" && mv "$out/$name-idle.tmp" "$out/$name-idle.json"
        stop_server
    fi

    start "$name"
    load --pairs 1000 --rate 4 --duration "$steady_secs" "${syscalls[@]}" >"$out/$name-steady.json"
    stop_server

    start "$name"
    load --pairs 100 --window 16 --duration "$closed_secs" "${syscalls[@]}" >"$out/$name-closed.json"
    stop_server

    if [ "$name" = quicktalk ]; then
        # After a graceful stop, which flushes the store.
        stored=$("$bin/quicktalk" export --store "sqlite://$out/load.db" | wc -l)
        jq --argjson stored "$stored" '.stored = $stored' "$out/$name-closed.json" >"$out/$name-closed.tmp" &&
            mv "$out/$name-closed.tmp" "$out/$name-closed.json"
    fi

    if [ "$name" != work ] && [ "$chat4k_secs" -gt 0 ]; then
        start "$name"
        base=$(rss_kib)
        load --pairs 4000 --rate 1 --duration "$chat4k_secs" >"$out/$name-chat4k.json"
        jq --argjson base "$base" '.rss_kib_per_conn = (.server_rss_mib.peak * 1024 / (.pairs * 2))
            | .rss_kib_per_conn_above_start = ((.server_rss_mib.peak * 1024 - $base) / (.pairs * 2))' \
            "$out/$name-chat4k.json" >"$out/$name-chat4k.tmp" && mv "$out/$name-chat4k.tmp" "$out/$name-chat4k.json"
        stop_server
    fi
done

field() { jq -r "$2" "$out/$1.json"; }
ratio() { jq -n --argjson a "$1" --argjson b "$2" 'if $b == 0 then "-" else ($a / $b * 100 | round / 100) end'; }

printf '\n%-42s %10s %11s %10s %7s %7s  %s\n' round relay relay+work quicktalk ratio "to work" target
# row LABEL ROUND JQ TARGET: the field of each server's report for one round.
row() {
    local label=$1 round=$2 expr=$3 target=$4 relay work quicktalk
    relay=$(field "relay-$round" "$expr")
    work=$(if [ -f "$out/work-$round.json" ]; then field "work-$round" "$expr"; else echo 0; fi)
    quicktalk=$(field "quicktalk-$round" "$expr")
    printf '%-42s %10s %11s %10s %7s %7s  %s\n' "$label" "$relay" "$work" "$quicktalk" \
        "$(ratio "$quicktalk" "$relay")" "$(ratio "$quicktalk" "$work")" "$target"
}
row "idle: RSS per connection (KiB)" idle '.idle_kib_per_conn | . * 100 | round / 100' "quicktalk <= 6.64 KiB (6.8 KB)"
row "steady 1000x4/s: CPU per line (us)" steady '.server_cpu_us_per_line | . * 10 | round / 10' "ratio <= 1.5"
row "steady 1000x4/s: p99 (ms)" steady '.latency_ms.p99' "quicktalk <= 5 ms"
row "steady 1000x4/s: syscalls per line" steady '.server_syscalls_per_line // 0 | . * 100 | round / 100' "-"
row "closed 100 pairs x16: delivered lines/s" closed '.delivered_per_s' "ratio >= 0.6"
row "closed 100 pairs x16: CPU per line (us)" closed '.server_cpu_us_per_line | . * 10 | round / 10' "-"
row "closed 100 pairs x16: syscalls per line" closed '.server_syscalls_per_line // 0 | . * 100 | round / 100' "-"
if [ "$chat4k_secs" -gt 0 ]; then
    row "chat 4000x1/s: p99 (ms)" chat4k '.latency_ms.p99' "-"
    row "chat 4000x1/s: p99.9 (ms)" chat4k '.latency_ms.p999' "quicktalk <= 5 ms"
    row "chat 4000x1/s: max (ms)" chat4k '.latency_ms.max' "-"
    row "chat 4000x1/s: RSS per connection (KiB)" chat4k '.rss_kib_per_conn | . * 100 | round / 100' "quicktalk <= 11.72 KiB (12 KB)"
    row "chat 4000x1/s: RSS above start per conn (KiB)" chat4k '.rss_kib_per_conn_above_start | . * 100 | round / 100' "-"
    row "chat 4000x1/s: CPU per line (us)" chat4k '.server_cpu_us_per_line | . * 10 | round / 10' "-"
fi
echo
rounds=(steady closed)
[ "$chat4k_secs" -gt 0 ] && rounds+=(chat4k)
for round in "${rounds[@]}"; do
    for name in relay work quicktalk; do
        [ -f "$out/$name-$round.json" ] || continue
        echo "$name $round: lost $(field "$name-$round" .lost_gaps), duplicated $(field "$name-$round" .duplicated)," \
            "reordered $(field "$name-$round" .out_of_order), not delivered $(field "$name-$round" .not_delivered)," \
            "errors $(field "$name-$round" .errors), resumes $(field "$name-$round" .resumes)" \
            "(failed $(field "$name-$round" .resume_failures))"
    done
done
echo "quicktalk closed: delivered $(field quicktalk-closed .delivered), stored $(field quicktalk-closed .stored)"
echo "raw reports: $out"
