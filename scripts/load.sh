#!/usr/bin/env bash
# Runs the load benchmark of BENCHMARKS.md: release build, fresh SQLite node(s),
# then switchboard-loadgen with the given flags (visitors, operators, rate, …).
#
#   bash scripts/load.sh --visitors 10000 --operators 100 --rate 2000 --seconds 10
#   NODES=2 DATABASE_URL=postgres://postgres@127.0.0.1/sb_load NATS_URL=nats://127.0.0.1:4222 \
#       bash scripts/load.sh --visitors 2000 --operators 20 --rate 500
#
# The generator runs from one address, so the per-address limits are raised
# (ADDRESS_LIMIT_FACTOR, default 1000); per-visitor limits stay as in production.
# SQLITE_SYNC=normal measures the server without an fsync per commit.
# SWITCHBOARD_VISITOR_LIMIT_FACTOR=N multiplies the per-visitor limit: a closed
# loop (--closed-loop) over 2,000 visitors reaches the production limit (30 at
# once, then one per 500 ms each) before the server's own ceiling; the
# generator reports such 429s.
#
# The generator runs two baselines in the same run (a bare websocket relay and
# a durable relay that fdatasyncs each group-commit batch to a file in the same
# temp dir as the nodes' data, so on the same filesystem); --closed-loop N
# keeps N messages in flight instead of a fixed rate; --fsync-probe only times
# fdatasync there; --timeline prints each row's p99 per tenth of the run.
# Flags go to switchboard-loadgen as they are.
set -euo pipefail
cd "$(dirname "$0")/.."
# The command that reproduces this run: the settings it ran with, then its flags.
repro="NODES=${NODES:-1} SQLITE_SYNC=${SQLITE_SYNC:-full} PROFILE=${PROFILE:-release}"
for v in DATABASE_URL NATS_URL ADDRESS_LIMIT_FACTOR SWITCHBOARD_VISITOR_LIMIT_FACTOR; do
    if [ -n "${!v:-}" ]; then repro+=" $v=$(printf '%q' "${!v}")"; fi
done
repro+=" bash scripts/load.sh"
if [ $# -gt 0 ]; then repro+="$(printf ' %q' "$@")"; fi
echo "\$ $repro"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/switchboard-target}"
# PROFILE=profiling keeps symbols, for `perf record -p <server pid>`.
profile="${PROFILE:-release}"
cargo build --profile "$profile" -q -p switchboard-server -p switchboard-loadgen
bin="$CARGO_TARGET_DIR/$profile"
# SERVER_BIN=path runs another build of the server (an A/B comparison in one session).
server="${SERVER_BIN:-$bin/switchboard-server}"
nodes="${NODES:-1}"
data="$(mktemp -d /tmp/switchboard-load.XXXXXX)"
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$data"
}
trap cleanup EXIT

db_flags=()
if [ -n "${DATABASE_URL:-}" ]; then
    db_flags=(--database-url "$DATABASE_URL")
fi
nats_flags=()
if [ -n "${NATS_URL:-}" ]; then
    nats_flags=(--nats-url "$NATS_URL")
fi

"$server" --data-dir "$data/node0" "${db_flags[@]}" \
    admin create --email load@example.com --password load-password >/dev/null

urls=()
pid_flags=()
for n in $(seq 0 $((nodes - 1))); do
    port=$((18100 + n))
    "$server" --data-dir "$data/node$n" "${db_flags[@]}" "${nats_flags[@]}" \
        --http "127.0.0.1:$port" --smtp-in off --address-limit-factor "${ADDRESS_LIMIT_FACTOR:-1000}" \
        --sqlite-sync "${SQLITE_SYNC:-full}" >"$data/node$n.log" 2>&1 &
    pids+=("$!")
    pid_flags+=(--pid "$!")
    urls+=(--url "http://127.0.0.1:$port")
    for _ in $(seq 100); do
        curl -fs "http://127.0.0.1:$port/healthz" >/dev/null && break
        sleep 0.1
    done
done

# PostgreSQL's CPU is not the nodes': with DATABASE_URL, the CPU of all its
# processes over the send phase is printed after the table (and NATS's, with
# NATS_URL; with several nodes each node's, and the delivery by route).
db_process=()
if [ -n "${DATABASE_URL:-}" ]; then
    db_process=(--db-process postgres)
fi
if [ -n "${NATS_URL:-}" ]; then
    db_process+=(--db-process nats-server)
fi
"$bin/switchboard-loadgen" "${urls[@]}" "${pid_flags[@]}" "${db_process[@]}" \
    --durable-dir "$data" --email load@example.com --password load-password "$@"
