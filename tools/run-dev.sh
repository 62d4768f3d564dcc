#!/usr/bin/env bash
# Runs the whole constellation on embedded defaults: a watchtower (embedded
# MQTT broker, SQLite), one appliance in development mode (simulated
# hardware) that enrolls itself to it with a one-time token, and a mixed
# site of simulated chargers running sessions against the appliance: one
# per OCPP version (1.6, 2.0.1, 2.1), two connectors each. Ctrl-C stops
# all; data stays in tmp/.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p tmp
ocpp_addr=${OCPP_ADDR:-127.0.0.1:9000}
api_addr=${API_ADDR:-127.0.0.1:8000}
mqtt_addr=${MQTT_ADDR:-127.0.0.1:18830} # beside a local Mosquitto on 1883
cloud_addr=${CLOUD_ADDR:-127.0.0.1:8090}
site=dev-site
cloud_dir=tmp/dev-watchtower
data_dir=tmp/dev-data

pids=()
trap 'kill "${pids[@]}" 2>/dev/null; wait' EXIT INT TERM

# wait_for URL PID NAME [curl options]: until URL answers 2xx, or the process exits.
wait_for() {
  local url=$1 pid=$2 name=$3
  shift 3
  for _ in $(seq 1 150); do
    curl -fsS "$@" "$url" >/dev/null 2>&1 && return 0
    kill -0 "$pid" 2>/dev/null || { echo "$name exited" >&2; exit 1; }
    sleep 0.1
  done
  echo "$name did not answer on $url" >&2
  exit 1
}

# The watchtower.
mkdir -p "$cloud_dir" "$data_dir"
cat >"$cloud_dir/watchtower.toml" <<TOML
data_dir = "$cloud_dir"
[mqtt]
listen = "$mqtt_addr"
[http]
listen = "$cloud_addr"
# Plain HTTP on loopback, for development only: some browsers keep a
# Secure cookie from https:// pages alone.
insecure_cookies = true
TOML
# The dashboard's first admin, with a generated password kept beside
# the data (a real installation runs create-admin once, by hand).
if [ ! -s "$cloud_dir/admin-password" ]; then
  (umask 077 && head -c 18 /dev/urandom | base64 | tr -d '/+=' >"$cloud_dir/admin-password")
  ./bin/constellation-watchtower -config "$cloud_dir/watchtower.toml" create-admin --name admin --password-stdin \
    <"$cloud_dir/admin-password" >/dev/null
fi
./bin/constellation-watchtower -config "$cloud_dir/watchtower.toml" &
pids+=($!)
for _ in $(seq 1 150); do [ -s "$cloud_dir/operator-token" ] && break; sleep 0.1; done
auth=(-H "Authorization: Bearer $(cat "$cloud_dir/operator-token")")
wait_for "http://$cloud_addr/api/v1/sites" "${pids[0]}" watchtower "${auth[@]}"

# Enrollment, as at a real site: until the appliance has its MQTT
# password, create the site and leave a fresh one-time token where an
# installer would (the boot partition); the appliance trades it itself.
boot_dir=tmp/dev-boot
if [ ! -s "$data_dir/sync-password" ]; then
  curl -fsS "${auth[@]}" -d "{\"id\":\"$site\"}" "http://$cloud_addr/api/v1/sites" >/dev/null 2>&1 || true
  mkdir -p "$boot_dir"
  (umask 077 && curl -fsS "${auth[@]}" -d '{"ttl":"1h"}' "http://$cloud_addr/api/v1/sites/$site/tokens" |
    sed -n 's/.*"token":"\([^"]*\)".*/\1/p' >"$boot_dir/constellation-token")
  [ -s "$boot_dir/constellation-token" ] || { echo "no enrollment token from the watchtower" >&2; exit 1; }
fi

# The appliance.
cat >"tmp/dev-appliance.toml" <<TOML
[sync]
enabled = true
broker = "tcp://$mqtt_addr"
site = "$site"
password_file = "$data_dir/sync-password"
enroll_url = "http://$cloud_addr"
enroll_token_file = "$boot_dir/constellation-token"
readings_batch = "30s"
[station]
site_name = "Dev site"
TOML
./bin/constellation-appliance --dev --config tmp/dev-appliance.toml --data-dir "$data_dir" --ocpp-addr "$ocpp_addr" --api-addr "$api_addr" &
pids+=($!)
wait_for "http://$api_addr/healthz" "${pids[1]}" appliance

cat <<MSG

  Up: a watchtower ($cloud_addr, MQTT $mqtt_addr), the appliance of site
  $site ($api_addr) and three simulated chargers starting sessions:
  sim16-0001 (OCPP 1.6), sim201-0001 (OCPP 2.0.1), sim21-0001 (OCPP 2.1);
  and tap16-0001, whose EV is plugged in and waits for a card at the
  appliance's own (simulated) reader.
  The station: open http://$api_addr/station to see the simulated LCD and
  tap a card (or: ./bin/tap 04A1B2C3; the same card again stops the session).
  Look at:  curl -s http://$api_addr/api/v1/chargers | jq
            curl -s 'http://$api_addr/api/v1/transactions?limit=5' | jq
            curl -s http://$api_addr/api/v1/sync | jq
  Command any of them the same way, whatever its version:
            curl -s -X POST http://$api_addr/api/v1/chargers/sim201-0001/commands/get-configuration -d '{}' | jq
  The fleet dashboard: http://$cloud_addr (user admin, password in $cloud_dir/admin-password)
  The cloud's API (operator token in $cloud_dir/operator-token):
            curl -s -H "Authorization: Bearer \$(cat $cloud_dir/operator-token)" http://$cloud_addr/api/v1/sites/$site/transactions | jq
  Ctrl-C stops everything; data stays in tmp/.

MSG
for v in 1.6 2.0.1 2.1; do
  ./bin/chargesim --url "ws://$ocpp_addr/ocpp" --ocpp "$v" --id-prefix "sim${v//./}-" \
    --stations 1 --connectors 2 --meter-interval 5s --session 60s --progress 0 &
  pids+=($!)
done
./bin/chargesim --url "ws://$ocpp_addr/ocpp" --ocpp 1.6 --id-prefix tap16- --stations 1 --connectors 1 \
  --await-remote-start --meter-interval 5s --session 10m --pause 5s --progress 0 &
pids+=($!)
wait "${pids[@]:2}"
