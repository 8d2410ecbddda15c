#!/usr/bin/env bash
# (b) Calls that last one second: extension 1000 = Answer(), Wait(1), Hangup().
#   bench/wait.sh [RATE] [DURATION]    default: 200 cps for 20 s
# Env: RSS_WAIT=35 (second RSS reading), KEEP=1, PPROF=1, ENTVOICE=path (see lib.sh).
set -euo pipefail
source "$(dirname "$0")/lib.sh"

rate=${1:-200}
dur=${2:-${DURATION:-20}}

bench_init wait
plan='[bench]
exten => 1000,1,Answer()
 same => n,Wait(1)
 same => n,Hangup()'
log "wait: $rate cps for $dur s; entvoice $ENTVOICE; dialplan: Answer(), Wait(1), Hangup()"
[[ ${CALIBRATE:-1} == 1 ]] && calibrate
call_load wait "$plan" "$rate" "$dur" 2
((BAD == 0))
