#!/usr/bin/env bash
# (a) Call set-up rate: extension 1000 = Answer(), Hangup().
#   bench/cps.sh [RATE...] [DURATION]    default: 200 800, 20 s
# With two or more arguments the last one is the duration in seconds.
# Env: ANSWER_WAIT=0.1 puts Wait(0.1) between Answer and Hangup (a variant, labelled as such).
# Env: RSS_WAIT=35 (second RSS reading), KEEP=1, PPROF=1, ENTVOICE=path (see lib.sh).
set -euo pipefail
source "$(dirname "$0")/lib.sh"

rates=(200 800)
dur=${DURATION:-20}
if (($# == 1)); then
	rates=("$1")
elif (($# > 1)); then
	rates=("${@:1:$#-1}")
	dur=${!#}
fi

bench_init cps
plan='[bench]
exten => 1000,1,Answer()
 same => n,Hangup()'
desc='Answer(), Hangup()'
if [[ -n ${ANSWER_WAIT:-} ]]; then
	# workaround knob: a pause between Answer and Hangup (not the benchmark as specified)
	plan="[bench]
exten => 1000,1,Answer()
 same => n,Wait($ANSWER_WAIT)
 same => n,Hangup()"
	desc="Answer(), Wait($ANSWER_WAIT), Hangup()  [ANSWER_WAIT variant]"
fi
log "cps: rates ${rates[*]} cps for $dur s each; entvoice $ENTVOICE; dialplan: $desc"
[[ ${CALIBRATE:-1} == 1 ]] && calibrate
for r in "${rates[@]}"; do
	call_load cps "$plan" "$r" "$dur" 1
done
((BAD == 0))
