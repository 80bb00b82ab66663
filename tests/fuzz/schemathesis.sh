#!/usr/bin/env bash
# Fuzzes the public API of the real server binary with schemathesis: every
# operation of /api/openapi.json, generated and mutated requests, stateful
# sequences; fails on any 5xx or a response that is not the API's JSON
# (`not_a_server_error`). The full contract checks (`--checks all`) come with the
# typed contract (issue 14).
#
#   bash tests/fuzz/schemathesis.sh            # SQLite in a temporary data dir
#   DATABASE_URL=postgres://… bash tests/fuzz/schemathesis.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/switchboard-target}"
bin="$CARGO_TARGET_DIR/debug/switchboard-server"
[ -x "$bin" ] || cargo build -q -p switchboard-server
st=$(command -v st || echo /var/tmp/switchboard-venv/bin/st)
[ -x "$st" ] || { echo "schemathesis is missing: run scripts/setup.sh" >&2; exit 1; }

data="$(mktemp -d /tmp/switchboard-fuzz.XXXXXX)"
port=$((20000 + RANDOM % 10000))
db_flags=()
[ -n "${DATABASE_URL:-}" ] && db_flags=(--database-url "$DATABASE_URL")
cleanup() { [ -n "${pid:-}" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$data"; }
trap cleanup EXIT

"$bin" --data-dir "$data" "${db_flags[@]}" admin create \
    --email fuzz@example.com --password fuzz-password-1 >/dev/null
"$bin" --data-dir "$data" "${db_flags[@]}" --http "127.0.0.1:$port" --smtp-in off \
    --ingress-secret fuzz-ingress >"$data/server.log" 2>&1 &
pid=$!
for _ in $(seq 100); do curl -fs "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
token=$(curl -fs "http://127.0.0.1:$port/api/v1/auth/login" -H 'content-type: application/json' \
    -d '{"email":"fuzz@example.com","password":"fuzz-password-1"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')

visitor=$(curl -fs "http://127.0.0.1:$port/api/v1/widget/session" -H 'content-type: application/json' \
    -d '{}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["visitor_token"])')

# Signing out or changing the password would end the fuzzer's own session
# early. The raw-email ingress (message/rfc822) has no serializer in
# schemathesis; the email corpus and the MIME tests cover it.
# One worker: with two threads, hypothesis's ast.parse meets CPython 3.11.7's
# "AST constructor recursion depth mismatch" (gh-106905, fixed in 3.11.8).
set +e
"$st" --config-file tests/fuzz/schemathesis.toml run "http://127.0.0.1:$port/api/openapi.json" \
    --checks "${FUZZ_CHECKS:-all}" \
    --header "Authorization: Bearer $token" \
    --header "X-Visitor-Token: $visitor" \
    --exclude-path /api/v1/inbound/email \
    --exclude-path /api/v1/auth/logout \
    --exclude-path /api/v1/me/password \
    --max-examples "${FUZZ_EXAMPLES:-40}" \
    --seed "${FUZZ_SEED:-20261204}" \
    --workers 1 \
    --no-color
status=$?
set -e
if grep -q "panicked" "$data/server.log"; then
    echo "the server panicked:"; grep -A5 panicked "$data/server.log"; exit 1
fi
exit $status
