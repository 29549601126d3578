#!/usr/bin/env bash
# The t2.micro budget (docs/deploy-ec2.md): the server as shipped (the
# static binary the image runs, SQLite store, moderation on) with 1k, 5k and
# 10k connected users, 10% of them chatting at 1 line per 5 s. Prints idle
# RSS, then RSS and CPU per round, and the users one vCPU / 1 GB holds with
# 50% CPU headroom. The load tool runs in its own network namespace pinned
# to core 1 (scripts/loadns.sh); the server is pinned to core 0.
#
# Usage (as root): scripts/t2micro.sh [SERVER_BINARY]
#   default binary: dist/quicktalk (scripts/image.sh builds it)
set -euo pipefail

cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/quicktalk/target}"
bin="${1:-dist/quicktalk}"
port="${T2_PORT:-18480}"
window="${T2_WINDOW_SECS:-30}"
host_addr="${HOST_ADDR:-10.77.0.1}"
[ -x "$bin" ] || { echo "no server binary at $bin (run scripts/image.sh)" >&2; exit 2; }

cargo build --release --locked -q -p quicktalk-benches --bin quicktalk-loadgen
loadgen="$CARGO_TARGET_DIR/release/quicktalk-loadgen"
scripts/loadns.sh up >/dev/null
# Each side holds one descriptor per connection.
ulimit -n "$(ulimit -Hn)"

data="$(mktemp -d)"
trap 'kill "$server" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$data"' EXIT
taskset -c 0 "$bin" serve --bind "$host_addr:$port" --store "sqlite://$data/q.db" \
    --max-connections-per-ip 20000 --log warn &
server=$!
sleep 2

rss_mib() { awk '/^VmRSS/ { printf "%.1f", $2 / 1024 }' "/proc/$server/status"; }
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$server/stat"; }
online() { curl -fsS "http://$host_addr:$port/api/stats" | python3 -c 'import json, sys; print(json.load(sys.stdin)["online"])'; }

echo "machine: $(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "binary: $bin ($(du -h "$bin" | cut -f1))"
echo "idle: rss ${idle_rss:=$(rss_mib)} MiB"
hz="$(getconf CLK_TCK)"
for users in 1000 5000 10000; do
    chatting_pairs=$((users / 20))
    idle_pairs=$((users / 2 - chatting_pairs))
    hold=$((window + 40))
    scripts/loadns.sh run "$loadgen" --url "ws://$host_addr:$port/ws" \
        --pairs "$idle_pairs" --rate 0 --duration "$hold" >/dev/null 2>&1 &
    idle_load=$!
    scripts/loadns.sh run "$loadgen" --url "ws://$host_addr:$port/ws" \
        --pairs "$chatting_pairs" --rate 0.2 --duration "$hold" >"$data/chat.json" 2>/dev/null &
    chat_load=$!
    for _ in $(seq 1 120); do
        [ "$(online)" -ge "$users" ] && break
        sleep 0.5
    done
    sleep 5
    before="$(cpu_ticks)"
    sleep "$window"
    after="$(cpu_ticks)"
    rss="$(rss_mib)"
    cpu="$(python3 -c "print(round(100 * ($after - $before) / $hz / $window, 2))")"
    echo "users $users ($((chatting_pairs * 2)) chatting): online $(online), rss $rss MiB, cpu $cpu% of one core"
    echo "$users $rss $cpu" >> "$data/rounds"
    wait "$chat_load" "$idle_load" || true
    python3 -c "import json; r = json.load(open('$data/chat.json')); print('  chat lines delivered', r['delivered'], 'lost', r['lost_gaps'], 'duplicated', r['duplicated'], 'p99 ms', r['latency_ms']['p99'])"
    sleep 3
done

python3 - "$data/rounds" "$idle_rss" <<'PY'
import sys
rounds = [tuple(map(float, line.split())) for line in open(sys.argv[1])]
idle = float(sys.argv[2])
users, rss, cpu = rounds[-1]
per_user_kib = (rss - idle) * 1024 / users
per_user_cpu = cpu / users  # percent of one core per connected user
budget_mib = 1024 - 350  # 1 GB less the OS, sshd, nginx, Docker and page cache
by_mem = int((budget_mib - idle) * 1024 / per_user_kib)
by_cpu = int(50 / per_user_cpu)
print(f"per connected user: {per_user_kib:.1f} KiB, {per_user_cpu * 1000:.2f} milli-% of a core")
print(f"a 1 vCPU / 1 GB box with 50% CPU headroom holds about {min(by_mem, by_cpu)} users "
      f"(memory allows {by_mem}, CPU allows {by_cpu})")
PY
