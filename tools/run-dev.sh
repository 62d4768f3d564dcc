#!/usr/bin/env bash
# Runs the appliance in development mode (simulated hardware, no cloud) and
# a mixed site of simulated chargers running sessions against it: one per
# OCPP version (1.6, 2.0.1, 2.1), two connectors each. Ctrl-C stops all.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p tmp
ocpp_addr=${OCPP_ADDR:-127.0.0.1:9000}
api_addr=${API_ADDR:-127.0.0.1:8000}

./bin/constellation-appliance --dev --ocpp-addr "$ocpp_addr" --api-addr "$api_addr" &
appliance=$!
sims=()
trap 'kill $appliance "${sims[@]}" 2>/dev/null; wait' EXIT INT TERM

for _ in $(seq 1 100); do
  curl -fsS "http://$api_addr/healthz" >/dev/null 2>&1 && break
  kill -0 $appliance 2>/dev/null || { echo "appliance exited" >&2; exit 1; }
  sleep 0.1
done
cat <<MSG

  Appliance up. Three simulated chargers are starting sessions:
  sim16-0001 (OCPP 1.6), sim201-0001 (OCPP 2.0.1), sim21-0001 (OCPP 2.1).
  Look at:  curl -s http://$api_addr/api/v1/chargers | jq
            curl -s 'http://$api_addr/api/v1/transactions?limit=5' | jq
  Command any of them the same way, whatever its version:
            curl -s -X POST http://$api_addr/api/v1/chargers/sim201-0001/commands/get-configuration -d '{}' | jq
  Ctrl-C stops everything; data stays in tmp/dev-data.

MSG
for v in 1.6 2.0.1 2.1; do
  ./bin/chargesim --url "ws://$ocpp_addr/ocpp" --ocpp "$v" --id-prefix "sim${v//./}-" \
    --stations 1 --connectors 2 --meter-interval 5s --session 60s --progress 0 &
  sims+=($!)
done
wait "${sims[@]}"
