#!/usr/bin/env bash
# Starts gigachatd on a private socket and streams one reply through gigachatctl.
# With no GIGACHAT_CREDENTIALS (or GIGACHAT_ACCESS_TOKEN / GIGACHAT_USER) in the environment it first
# starts the local fake GigaChat API on 127.0.0.1 and says so; nothing then leaves this machine.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${GIGACHAT_BIN_DIR:-$root/.build/debug}
work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

wait_for() {  # wait_for TEST... : up to 10 s
  for _ in $(seq 100); do if "$@"; then return 0; fi; sleep 0.1; done
  return 1
}

if [ -z "${GIGACHAT_CREDENTIALS:-}${GIGACHAT_ACCESS_TOKEN:-}${GIGACHAT_USER:-}" ]; then
  echo "demo: GIGACHAT_CREDENTIALS is not set, so this runs against the local fake GigaChat API on 127.0.0.1"
  echo "demo: (export GIGACHAT_CREDENTIALS=<authorization key> to talk to the real API)"
  PYTHONPATH="$root/Tests/EndToEnd" python3 -m fake_gigachat --port 0 --certdir "$work/pki" \
    --env-file "$work/fake.env" --ready-file "$work/fake.ready" \
    --reply "Штирлиц шёл по лесу и увидел голубые ели. Присмотрелся: ели не только голубые, но и зелёные." \
    >"$work/fake.log" 2>&1 &
  pids+=($!)
  wait_for test -s "$work/fake.ready" || { cat "$work/fake.log"; exit 1; }
  set -a; . "$work/fake.env"; set +a
fi

socket="$work/gigachat/gigachatd.sock"
"$bin/gigachatd" --socket "$socket" >"$work/gigachatd.log" 2>&1 &
pids+=($!)
wait_for test -S "$socket" || { cat "$work/gigachatd.log"; exit 1; }

prompt=${1:-"Привет! Расскажи анекдот"}
echo "demo: gigachatctl chat \"$prompt\""
"$bin/gigachatctl" --socket "$socket" chat "$prompt"
