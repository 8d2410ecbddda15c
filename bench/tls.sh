#!/usr/bin/env bash
# SIP over TLS: (1) handshakes: each REGISTER on a new TLS connection (a
# full handshake, ECDSA P-256 self-signed certificate, no resumption),
# answered 401, then closed; (2) registrations: digest REGISTERs over
# persistent TLS connections (REGISTER, 401, REGISTER, 200). bench/tlsload
# drives them; entvoice's CPU is measured over the run. Prints the rate and
# the CPU one handshake (one registration) costs entvoice.
#   bench/tls.sh [SECONDS]          default 10; Env: CONNS=16, USERS=1000
set -euo pipefail
source "$(dirname "$0")/lib.sh"
secs=${1:-10}
conns=${CONNS:-16}
users=${USERS:-1000}
bench_init tls
calibrate
dir=$WORK/tls
mkdir -p "$dir/data"
EV_PORT=$(free_udp_port)
tls_port=$(free_udp_port --avoid "$EV_PORT")
{
	echo "sip: {listen: [\"udp:127.0.0.1:$EV_PORT\", \"tls:127.0.0.1:$tls_port\"], flood_rate: 1000000, flood_burst: 2000000, max_auth_failures: 100000000, method_rates: {REGISTER: 1000000}}"
	echo "rtp: {ports: \"20000-40000\"}"
	echo "data_dir: $dir/data"
	echo "log: {level: warn}"
	echo "http: {listen: off}"
	echo "ami: {listen: off}"
	echo "users:"
	for ((i = 0; i < users; i++)); do echo "  - {name: u$i, secret: s$i}"; done
} >"$dir/config.yaml"
start_entvoice "$dir"
(cd "$REPO_DIR" && go build -o "$WORK/tlsload" ./bench/tlsload)
for mode in handshake register; do
	win_start
	out=$("$WORK/tlsload" -addr "127.0.0.1:$tls_port" -ca "$dir/data/tls/sip.crt" -mode "$mode" -conns "$conns" -secs "$secs" -users "$users")
	win_end
	rate=$(kv rate "$out" | tr -d '/s')
	per=$(awk -v c="$WIN_CPU" -v r="$rate" 'BEGIN{ if (r > 0) printf "%.3f", c * 10 / r; else print "n/a" }')
	printf 'tls %-9s %s entvoice_cpu=%s cpu_ms_per_op=%s\n' "$mode" "$out" "$(pct "$WIN_CPU")" "$per"
done
stop_pid "$EV_PID"
