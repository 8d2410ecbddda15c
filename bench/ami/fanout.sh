#!/usr/bin/env bash
# AMI event fan-out under call load: SIPp runs RATE calls/s for DURATION s
# against a fresh entvoice, first with no AMI client, then with CLIENTS AMI
# clients (bench/ami/amiload) logged in and reading every event.
#   bench/ami/fanout.sh [RATE] [DURATION] [CLIENTS]    default: 200 cps, 20 s, 10 clients
# Prints, per load, the usual cps line (bench/lib.sh) and, with clients, the
# events/s they received and the delay from channel change (the event's
# Timestamp) to the client socket. The cost is the entvoice CPU with the
# clients over the CPU without them, and what that costs in call capacity.
# Env: as bench/lib.sh (KEEP=1, PPROF=1, ENTVOICE=...).
set -euo pipefail
source "$(dirname "$0")/../lib.sh"

rate=${1:-200}
dur=${2:-20}
clients=${3:-10}

bench_init amifanout
AMILOAD=$WORK/amiload
(cd "$REPO_DIR" && go build -o "$AMILOAD" ./bench/ami/amiload) || die "build amiload"

# A short IVR-like call: 14 events per call (Newchannel, VarSet SIPDOMAIN,
# Newexten x6, VarSet x3, Newstate, DeviceStateChange x2, SoftHangupRequest,
# Cdr, Hangup: more with the RTCP-less entVoice than none).
plan='[bench]
exten => 1000,1,Answer()
 same => n,Set(LANG=en)
 same => n,Set(ROUTE=sales)
 same => n,Set(__TRACE=1)
 same => n,Wait(1)
 same => n,Hangup()'

load() {
	local with=$1 dir=$WORK/$1 calls=$((rate * dur)) limit=$((rate * 12 + 100))
	EV_PORT=""
	local amiport
	amiport=$(free_udp_port)
	write_config "$dir" "$plan" "ami:
  listen: \"127.0.0.1:$amiport\"
  timestampevents: true
  users: [{name: admin, secret: secret, read: all, write: all}]"
	start_entvoice "$dir"
	local apid=""
	if [[ $with == with ]]; then
		"$AMILOAD" -addr "127.0.0.1:$amiport" -n "$clients" -ready "$dir/ready" >"$dir/amiload.out" 2>&1 &
		apid=$!
		PIDS+=("$apid")
		for _ in $(seq 100); do [[ -e $dir/ready ]] && break; sleep 0.1; done
		[[ -e $dir/ready ]] || die "amiload clients did not log in: $(cat "$dir/amiload.out")"
	fi
	sipp_start "amifanout-$with" "$rate" "$calls" "$limit" $((dur + 61)) 8 \
		-sf "$BENCH_DIR/scenarios/uac_pbx_hangup.xml" -s 1000 -recv_timeout 11000
	sleep 1
	win_start
	pprof_cpu "amifanout-$with" $((dur > 4 ? dur - 2 : dur))
	nap $((dur > 4 ? dur - 2 : dur))
	win_end
	sipp_wait
	local stat
	stat=$(sipp_final "${SIPP_STATS[@]}")
	printf '%-14s offered=%d/s achieved=%s/s success=%s failed=%s cpu=%s\n' "ami-$with-clients" "$rate" \
		"$(kv rate "$stat")" "$(kv success "$stat")" "$(kv failed "$stat")" "$(pct "$WIN_CPU")"
	[[ $(kv failed "$stat") == 0 && $(kv success "$stat") == "$calls" ]] || BAD=$((BAD + 1))
	if [[ -n $apid ]]; then
		sleep 2 # last events
		stop_pid "$apid"
		AMI_RESULT=$(cat "$dir/amiload.out")
		printf '  amiload: %s\n' "$AMI_RESULT"
		if grep -q "does not read" "$dir/entvoice.log"; then
			printf '  entvoice disconnected a client:\n'
			grep "does not read" "$dir/entvoice.log" | head -3
			BAD=$((BAD + 1))
		fi
	fi
	ev_log_summary "$dir/entvoice.log"
	stop_pid "$EV_PID"
	LAST_CPU=$WIN_CPU
}

log "ami fan-out: $rate cps for $dur s, $clients AMI clients; entvoice $ENTVOICE"
load without
cpu0=$LAST_CPU
load with
cpu1=$LAST_CPU
awk -v a="$cpu0" -v b="$cpu1" 'BEGIN{ if (a > 0 && b > 0) printf "cost: entvoice CPU %.1f%% -> %.1f%% of a core (+%.1f%%); call capacity at that CPU cost: -%.1f%%\n", a, b, (b-a)/a*100, (1-a/b)*100 }'
((BAD == 0))
