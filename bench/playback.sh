#!/usr/bin/env bash
# (c) Concurrent Playback: N calls each hear a 30 s prompt (1 kHz tone,
# 8 kHz 16-bit mono WAV); extension 1000 = Answer(), Playback(tone30), Hangup().
#   bench/playback.sh [CONCURRENT...]     default: 400 1000
# Calls are ramped up at RAMP_RATE cps (default 150) with -l N -m N. Once all
# are up: CPU over CPU_SECS (default 5) without capture, then tcpdump captures
# the RTP arriving at SIPp's per-call media ports for CAPTURE_SECS (default
# 10) and rtpgap prints |gap - 20 ms| per stream (p50/p99/max over all gaps,
# and the worst stream's p99).
# Env: RSS_WAIT=35 (second RSS reading), KEEP=1 (keeps the pcap), PPROF=1, ENTVOICE=path
# (see lib.sh); RAMP_RATE, CPU_SECS, CAPTURE_SECS as above.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

loads=("$@")
((${#loads[@]})) || loads=(400 1000)
RAMP_RATE=${RAMP_RATE:-150}
CPU_SECS=${CPU_SECS:-5}
CAPTURE_SECS=${CAPTURE_SECS:-10}
PROMPT_SECS=30

bench_init playback
command -v sox >/dev/null || die "sox not found (apt-get install sox)"
if ! command -v tcpdump >/dev/null; then
	log "installing tcpdump (Debian package)"
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends tcpdump >/dev/null 2>&1 ||
		die "tcpdump missing: apt-get install tcpdump"
fi
(cd "$REPO_DIR" && go build -o "$WORK/rtpgap" ./bench/rtpgap) || die "cannot build bench/rtpgap"

plan='[bench]
exten => 1000,1,Answer()
 same => n,Playback(tone30)
 same => n,Hangup()'

log "playback: ${loads[*]} concurrent calls, ramp $RAMP_RATE cps, ${PROMPT_SECS}s prompt; entvoice $ENTVOICE"
[[ ${CALIBRATE:-1} == 1 ]] && calibrate

# current_calls CSV: CurrentCall of the latest SIPp stat row.
current_calls() {
	python3 - "$1" <<'EOF'
import csv, sys
try:
    rows = list(csv.reader(open(sys.argv[1]), delimiter=';'))
    h = rows[0]
    print(rows[-1][h.index('CurrentCall')] if len(rows) > 1 else 0)
except (OSError, ValueError, IndexError):
    print(0)
EOF
}

for n in "${loads[@]}"; do
	dir=$WORK/playback-$n
	EV_PORT=""
	write_config "$dir" "$plan"
	sox -n -r 8000 -b 16 -c 1 -e signed-integer "$dir/sounds/en/tone30.wav" synth $PROMPT_SECS sine 1000 vol 0.5
	start_entvoice "$dir"
	rss0=$(rss_mb "$EV_PID")
	ramp=$(((n + RAMP_RATE - 1) / RAMP_RATE))
	if ((ramp + 2 + CPU_SECS + 1 + CAPTURE_SECS >= PROMPT_SECS)); then
		log "warning: ramp ${ramp}s + windows do not fit in the ${PROMPT_SECS}s prompt; raise RAMP_RATE"
	fi
	# one instance for the ramp rate; -l N -m N; media ports -mp + 4*(call-1)
	SIPP_PER_INSTANCE=100000 sipp_start "playback-$n" "$RAMP_RATE" "$n" "$n" $((ramp + PROMPT_SECS + 90)) $((4 * n)) \
		-sf "$BENCH_DIR/scenarios/uac_pbx_hangup.xml" -s 1000 -recv_timeout $(((PROMPT_SECS + ramp + 30) * 1000))
	read -r mlo mhi <<<"${SIPP_MEDIA[0]}"
	t_start=$(now)
	# wait until SIPp has all calls up (stat rows every second), at most ramp+10 s
	for ((i = 0; i < ramp + 10; i++)); do
		sleep 1
		up=$(current_calls "${SIPP_STATS[0]}")
		((up >= n)) && break
	done
	sleep 1
	up=$(current_calls "${SIPP_STATS[0]}")
	win_start
	pprof_cpu "playback-$n" "$CPU_SECS"
	nap "$CPU_SECS"
	win_end
	cpu=$WIN_CPU
	rss_mid=$(rss_mb "$EV_PID")
	pprof_heap "playback-$n"
	# capture what entvoice (RTP ports 20000-40000) sends to SIPp's media ports
	pcap=$dir/rtp.pcap
	t_cap0=$(awk -v a="$t_start" -v b="$(now)" 'BEGIN{printf "%.1f", b-a}')
	tcpdump -i lo -nn -s 96 -B 65536 -w "$pcap" "udp and dst portrange $mlo-$mhi and src portrange 20000-40000" 2>"$dir/tcpdump.err" &
	TD=$!
	PIDS+=("$TD")
	sleep 1
	win_start
	nap "$CAPTURE_SECS"
	win_end
	cpu_cap=$WIN_CPU
	up_end=$(current_calls "${SIPP_STATS[0]}")
	kill -INT "$TD" 2>/dev/null || true
	wait "$TD" 2>/dev/null || true
	drops=$(sed -n 's/^\([0-9]*\) packets dropped by kernel.*/\1/p' "$dir/tcpdump.err")
	t_cap1=$(awk -v a="$t_start" -v b="$(now)" 'BEGIN{printf "%.1f", b-a}')
	gap=$("$WORK/rtpgap" "$pcap" 2>&1) || true
	[[ $KEEP == 1 ]] || rm -f "$pcap"
	sipp_wait
	rss1=$(rss_mb "$EV_PID")
	stat=$(sipp_final "${SIPP_STATS[@]}")
	rss2=$(rss_later)
	alive=running
	ev_alive || alive=DIED
	[[ $alive == running && $(kv failed "$stat") == 0 && $(kv success "$stat") == "$n" && $up -ge $n ]] || BAD=$((BAD + 1))
	printf 'playback concurrent=%d up=%s/%s cpu=%s rss_playing=%s rss_after=%s rss_after_%ss=%s gap_p50=%s gap_p99=%s gap_max=%s worst_stream_p99=%s streams=%s success=%s failed=%s entvoice=%s\n' \
		"$n" "$up" "$up_end" "$(pct "$cpu")" "$(mb "$rss_mid")" "$(mb "$rss1")" "$RSS_WAIT" "$(mb "$rss2")" \
		"$(kv p50 "$gap")" "$(kv p99 "$gap")" "$(kv max "$gap")" "$(kv worst_stream_p99 "$gap")" "$(kv streams "$gap")" \
		"$(kv success "$stat")" "$(kv failed "$stat")" "$alive"
	printf '  rtpgap: %s\n' "$gap"
	printf '  capture: t=%s..%ss after the first INVITE (prompt ends at t>=30s), tcpdump drops=%s, entvoice cpu while capturing=%s (includes the capture copy)\n' \
		"$t_cap0" "$t_cap1" "${drops:-?}" "$(pct "$cpu_cap")"
	printf '  sipp: %s rc=%s; idle RSS before the load %s\n' "$stat" "$SIPP_RCS" "$(mb "$rss0")"
	printf '  cmd: %s\n' "$(sipp_cmdline)"
	printf '  tcpdump: tcpdump -i lo -nn -s 96 -B 65536 -w rtp.pcap %q\n' "udp and dst portrange $mlo-$mhi and src portrange 20000-40000"
	ev_log_summary "$dir/entvoice.log"
	stop_pid "$EV_PID"
done
((BAD == 0))
