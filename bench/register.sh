#!/usr/bin/env bash
# (d) Digest REGISTER rate: USERS users u0..u(USERS-1) with secrets s0..,
# SIPp REGISTER -> 401 -> REGISTER with Authorization -> 200 per "call",
# users taken SEQUENTIALly from an injection file (-inf), one slice per
# SIPp instance. The rate rises step by step against one entvoice process.
#   bench/register.sh [RATE...] [STEP_SECONDS]    default: 2000 5000 10000, 10 s
# With two or more arguments the last one is the step length in seconds.
# Env: USERS=10000, REG_PER_INSTANCE=2500 (REGISTER/s given to one SIPp),
#      RSS_WAIT=35, KEEP=1, PPROF=1, ENTVOICE=path (see lib.sh).
set -euo pipefail
source "$(dirname "$0")/lib.sh"

rates=(2000 5000 10000)
dur=${STEP_SECONDS:-10}
if (($# == 1)); then
	rates=("$1")
elif (($# > 1)); then
	rates=("${@:1:$#-1}")
	dur=${!#}
fi
USERS=${USERS:-10000}
SIPP_PER_INSTANCE=${REG_PER_INSTANCE:-2500}

bench_init register
dir=$WORK/register
mkdir -p "$dir"
{
	echo "users:"
	for ((i = 0; i < USERS; i++)); do echo "  - {name: u$i, secret: s$i}"; done
} >"$dir/users.yaml"
# one source IP sends every REGISTER: keep the brute-force ban out of the way
EV_SIP_EXTRA="max_auth_failures: 100000000"
write_config "$dir" '[bench]
exten => 1000,1,Hangup()' "$(cat "$dir/users.yaml")"
start_entvoice "$dir"
rss0=$(rss_mb "$EV_PID")
log "register: $USERS users, steps ${rates[*]} REGISTER/s for $dur s each; entvoice $ENTVOICE (idle RSS $(mb "$rss0"))"

# users-N-I.csv: instance I of N gets users I, I+N, I+2N, ...
slices() {
	local n=$1 i
	for ((i = 0; i < n; i++)); do
		[[ -f $WORK/users-$n-$i.csv ]] && continue
		{
			echo SEQUENTIAL
			awk -v n="$n" -v i="$i" -v u="$USERS" 'BEGIN{for(k=i;k<u;k+=n) printf "u%d;[authentication username=u%d password=s%d]\n", k, k, k}'
		} >"$WORK/users-$n-$i.csv"
	done
}

for r in "${rates[@]}"; do
	n=$(((r + SIPP_PER_INSTANCE - 1) / SIPP_PER_INSTANCE))
	slices "$n"
	calls=$((r * dur))
	sipp_start "register-$r" "$r" "$calls" $((r * 10 + 100)) $((dur + 60)) 4 \
		-sf "$BENCH_DIR/scenarios/register_digest.xml" -inf "$WORK/users-$n-@I@.csv" -recv_timeout 5000
	steady=$((dur > 4 ? dur - 2 : dur))
	sleep 1
	win_start
	pprof_cpu "register-$r" "$steady"
	nap "$steady"
	win_end
	sipp_wait
	rss1=$(rss_mb "$EV_PID")
	pprof_heap "register-$r"
	stat=$(sipp_final "${SIPP_STATS[@]}")
	alive=running
	ev_alive || alive=DIED
	[[ $alive == running && $(kv failed "$stat") == 0 && $(kv success "$stat") == "$calls" ]] || BAD=$((BAD + 1))
	printf 'register offered=%d/s achieved=%s/s ok_200=%s/s success=%s failed=%s cpu=%s rss_after=%s sipp_instances=%d entvoice=%s\n' \
		"$r" "$(kv rate "$stat")" "$(kv succ_rate "$stat")" "$(kv success "$stat")" "$(kv failed "$stat")" "$(pct "$WIN_CPU")" \
		"$(mb "$rss1")" "$n" "$alive"
	printf '  sipp: %s rc=%s; CPU window %s s\n' "$stat" "$SIPP_RCS" "$WIN_SECS"
	printf '  cmd: %s\n' "$(sipp_cmdline)"
	[[ $alive == running ]] || break
done
rss2=$(rss_later)
printf 'register RSS: idle %s, after the last step %s, %s s later %s\n' "$(mb "$rss0")" "$(mb "$rss1")" "$RSS_WAIT" "$(mb "$rss2")"
ev_log_summary "$dir/entvoice.log"
((BAD == 0))
