#!/usr/bin/env bash
# Flood protection: FLOOD INVITE/s from 127.0.0.2 for DURATION s, each from
# a new unknown user (internal/testpeer/scenarios/uac_flood.xml, send only;
# FLOOD_PER_INSTANCE per SIPp instance), while legitimate calls (LEGIT
# calls/s, Answer() + Hangup() as cps.sh) come from 127.0.0.1. entvoice runs
# its default edge (per-method rates, flood_ban_drops, the ban list); the
# ban list and counters are read through the API. Prints entvoice's CPU
# while the flood goes on, the flood sent and dropped, and the success of
# the legitimate calls.
#   bench/flood.sh [FLOOD] [DURATION]     default 50000 requests/s, 10 s
# Env: LEGIT=50, FLOOD_PER_INSTANCE=20000, KEEP=1, ENTVOICE=path (lib.sh).
set -euo pipefail
source "$(dirname "$0")/lib.sh"

flood=${1:-50000}
dur=${2:-10}
legit=${LEGIT:-50}
per=${FLOOD_PER_INSTANCE:-20000}

bench_init flood
calibrate
dir=$WORK/flood
api_port=$(free_udp_port)
export ENTVOICE_ADMIN_TOKEN=evt_bench-flood-admin-token-0123456789
write_config "$dir" '[bench]
exten => 1000,1,Answer()
 same => n,Hangup()' "http: {listen: \"127.0.0.1:$api_port\"}"
start_entvoice "$dir"
log "flood: $flood INVITE/s from 127.0.0.2 for $dur s, $legit legitimate calls/s from 127.0.0.1; entvoice $ENTVOICE"

# The flood: n instances from 127.0.0.2.
n=$(((flood + per - 1) / per))
mapfile -t fports < <(free_udp_port --avoid "$EV_PORT" $(for ((i = 0; i < n; i++)); do echo 1 1 1; done))
flood_stats=()
for ((i = 0; i < n; i++)); do
	p=${fports[3 * i]} cp=${fports[3 * i + 1]} mp=${fports[3 * i + 2]}
	r=$(awk -v a="$flood" -v n="$n" 'BEGIN{printf "%g", a/n}')
	m=$(awk -v a="$flood" -v n="$n" -v d="$dur" 'BEGIN{printf "%d", a/n*d}')
	(cd "$WORK" && exec timeout -s USR1 -k 5 $((dur + 10)) sipp "$EV_HOST:$EV_PORT" \
		-sf "$REPO_DIR/internal/testpeer/scenarios/uac_flood.xml" -s 1000 -key user_agent bench-flood \
		-i 127.0.0.2 -p "$p" -mi 127.0.0.2 -mp "$mp" -cp "$cp" -r "$r" -m "$m" -nostdin \
		-trace_stat -stf "$WORK/flood-$i.csv" -fd 1 >"$WORK/flood-$i.out" 2>&1) &
	PIDS+=($!)
	flood_pids+=($!)
	flood_stats+=("$WORK/flood-$i.csv")
done
# The legitimate calls, from the loadgen trunk's address.
sipp_start legit "$legit" $((legit * dur)) $((legit * 20 + 100)) $((dur + 60)) 8 \
	-sf "$BENCH_DIR/scenarios/uac_pbx_hangup.xml" -s 1000 -recv_timeout 10000
sleep 2
win_start
nap $((dur > 4 ? dur - 4 : 1))
win_end
sipp_wait
for pid in "${flood_pids[@]}"; do wait "$pid" 2>/dev/null || true; done
fstat=$(sipp_final "${flood_stats[@]}")
lstat=$(sipp_final "${SIPP_STATS[@]}")
sec=$(curl -s -H "Authorization: Bearer $ENTVOICE_ADMIN_TOKEN" "http://127.0.0.1:$api_port/api/v1/security")
counters=$(python3 -c 'import json,sys; d=json.load(sys.stdin); c=d["counters"]; b=d["bans"]; print("dropped_banned=%d dropped_rate=%d bans=%s" % (c.get("sip.dropped_banned",0), c.get("sip.dropped_rate",0), ",".join(x["address"]+"("+x["reason"]+")" for x in b)))' <<<"$sec")
alive=running
ev_alive || alive=DIED
printf 'flood offered=%d/s sent=%s/s (%s requests) %s entvoice_cpu=%s legit offered=%d/s success=%s failed=%s entvoice=%s\n' \
	"$flood" "$(kv rate "$fstat")" "$(kv created "$fstat")" "$counters" "$(pct "$WIN_CPU")" \
	"$legit" "$(kv success "$lstat")" "$(kv failed "$lstat")" "$alive"
printf '  CPU window %s s (from 2 s into the flood); legit sipp: %s\n' "$WIN_SECS" "$lstat"
stop_pid "$EV_PID"
