#!/usr/bin/env bash
# (e) FastAGI call rate: extension 1000 = AGI(agi://127.0.0.1:PORT/bench);
# the FastAGI server (bench/agiserver) answers, runs 8 more commands and
# sends HANGUP; entvoice sends the BYE once the server has closed.
#   bench/agi.sh [RATE...] [DURATION]    default: 500, 20 s
# With two or more arguments the last one is the duration in seconds.
# The in-process figures (sessions/s, NOOP/s) come from
#   go test -run X -bench . ./internal/agi/
# Env: RSS_WAIT=35, KEEP=1, PPROF=1, ENTVOICE=path (see lib.sh).
set -euo pipefail
source "$(dirname "$0")/lib.sh"

rates=(500)
dur=${DURATION:-20}
if (($# == 1)); then
	rates=("$1")
elif (($# > 1)); then
	rates=("${@:1:$#-1}")
	dur=${!#}
fi

bench_init agi
(cd "$REPO_DIR" && go build -o "$WORK/agiserver" ./bench/agiserver) || die "cannot build bench/agiserver"
AGI_PORT=$(free_udp_port)
"$WORK/agiserver" -listen "127.0.0.1:$AGI_PORT" >"$WORK/agiserver.log" 2>&1 &
AGI_PID=$!
PIDS+=("$AGI_PID")
for _ in $(seq 50); do grep -q ready "$WORK/agiserver.log" 2>/dev/null && break; sleep 0.1; done
grep -q ready "$WORK/agiserver.log" || die "agiserver did not start"

plan="[bench]
exten => 1000,1,AGI(agi://127.0.0.1:$AGI_PORT/bench)"
log "agi: rates ${rates[*]} calls/s for $dur s each; FastAGI server on $AGI_PORT; entvoice $ENTVOICE"
for r in "${rates[@]}"; do
	call_load agi "$plan" "$r" "$dur" 1
done
stop_pid "$AGI_PID"
cat "$WORK/agiserver.log" | grep agiserver: || true
grep -q "bad=0" "$WORK/agiserver.log" || BAD=$((BAD + 1))
((BAD == 0))
