#!/usr/bin/env bash
# Runs the appliance in development mode (simulated hardware, no cloud) and
# two simulated chargers running sessions against it. Ctrl-C stops both.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p tmp
ocpp_addr=${OCPP_ADDR:-127.0.0.1:9000}
api_addr=${API_ADDR:-127.0.0.1:8000}

./bin/constellation-appliance --dev --ocpp-addr "$ocpp_addr" --api-addr "$api_addr" &
appliance=$!
trap 'kill $appliance $sim 2>/dev/null; wait' EXIT INT TERM
sim=""

for _ in $(seq 1 100); do
  curl -fsS "http://$api_addr/healthz" >/dev/null 2>&1 && break
  kill -0 $appliance 2>/dev/null || { echo "appliance exited" >&2; exit 1; }
  sleep 0.1
done
cat <<MSG

  Appliance up. Two simulated chargers are starting sessions.
  Look at:  curl -s http://$api_addr/api/v1/chargers | jq
            curl -s 'http://$api_addr/api/v1/transactions?limit=5' | jq
  Ctrl-C stops everything; data stays in tmp/dev-data.

MSG
./bin/chargesim --url "ws://$ocpp_addr/ocpp" --stations 2 --connectors 2 --meter-interval 5s --session 60s &
sim=$!
wait $sim
