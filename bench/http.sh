#!/usr/bin/env bash
# HTTP load over the bench world: starts `serve` on the bench database, runs wrk at 8 and
# 64 connections over varied URLs, prints requests/s, p50, p99 and non-2xx answers.
# usage: bench/http.sh [GROUPS] [SECONDS]   (after `groupscout bench --groups GROUPS --urls ...`)
set -euo pipefail
cd "$(dirname "$0")/.."
groups=${1:-1000000}
seconds=${2:-20}
urls=bench-data/urls-$groups.txt
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
[ -f "$urls" ] || { echo "no $urls: run 'groupscout bench --groups $groups --urls $urls' first" >&2; exit 1; }
port=18099
GROUPSCOUT_DB=bench-data/bench-$groups.db GROUPSCOUT_INDEX=bench-data/index-$groups RUST_LOG=warn \
  ./target/release/groupscout serve --bind 127.0.0.1:$port &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
until curl -sf 127.0.0.1:$port/healthz >/dev/null; do sleep 0.5; done
grep VmRSS /proc/$pid/status
for c in 8 64; do
  echo "connections $c:"
  URLS=$urls wrk -t2 -c$c -d${seconds}s --latency -s bench/urls.lua http://127.0.0.1:$port 2>&1 | grep -E "requests/s|Non-2xx" || true
done
grep VmRSS /proc/$pid/status
