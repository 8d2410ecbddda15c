#!/usr/bin/env bash
# Call queue at scale: AGENTS registered agents (bench/queueload: sipgo,
# answer after 100 ms, hang up after TALK s) serve one queue (rrmemory,
# ringinuse=no, autofill) while SIPp keeps CALLERS callers waiting in it.
# Prints entvoice's CPU and RSS over the window, and from queueload the
# time from an agent hanging up to the next INVITE reaching it (p50/p99,
# target p99 <= 50 ms) and the AMI events per call (QueueMemberStatus per
# call: device state must not storm).
#   bench/queue.sh [AGENTS] [CALLERS]       default: 200 2000
# Env: TALK (5 s), SECS (20: the window), RATE (caller arrivals/s while
# filling, 100), MOH=1 answers the callers and plays music on hold to them
# (media cost on top: bench/moh.sh), KEEP, PPROF, ENTVOICE (lib.sh).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
agents=${1:-200}
callers=${2:-2000}
TALK=${TALK:-5} SECS=${SECS:-20} RATE=${RATE:-100} MOH=${MOH:-0}

bench_init queue
calibrate
(cd "$REPO_DIR" && go build -o "$WORK/queueload" ./bench/queueload) || die "cannot build bench/queueload"
dir=$WORK/queue
mkdir -p "$dir"
plan='[bench]
exten => 1000,1,Queue(q,r)
 same => n,Hangup()'
if [[ $MOH == 1 ]]; then
	plan='[bench]
exten => 1000,1,Answer()
 same => n,Queue(q)
 same => n,Hangup()'
fi
{
	printf '[general]\nautofill=yes\n[q]\nstrategy=rrmemory\nringinuse=no\ntimeout=15\nretry=1\n'
	for i in $(seq 1 "$agents"); do printf 'member => PJSIP/a%04d\n' "$i"; done
} >"$dir/queues.conf"
users="users:"
for i in $(seq 1 "$agents"); do users+=$(printf '\n  - {name: a%04d, secret: a%04d, context: agents}' "$i" "$i"); done
amiport=$(free_udp_port)
write_config "$dir" "$plan" "queues: queues.conf
ami: {listen: \"127.0.0.1:$amiport\", queue_size: 200000, users: [{name: admin, secret: amipass, read: all, write: all}]}
$users"
start_entvoice "$dir"
rss0=$(rss_mb "$EV_PID")
# Fill: CALLERS waiting callers at RATE/s, then the window.
fill=$(((callers + RATE - 1) / RATE + TALK + 5))
warm=$((fill + 5))
"$WORK/queueload" -target "127.0.0.1:$EV_PORT" -agents "$agents" -talk "${TALK}s" -warmup "${warm}s" -secs "${SECS}s" \
	-ami "127.0.0.1:$amiport" >"$WORK/queueload.out" 2>"$WORK/queueload.err" &
QL=$!
PIDS+=("$QL")
sleep 3
limit=$((callers + agents))
sipp_start callers "$RATE" $((limit * 20)) "$limit" $((warm + SECS + 60)) 8 \
	-sf "$BENCH_DIR/scenarios/uac_pbx_hangup.xml" -s 1000 -recv_timeout 900000
log "queue: $agents agents, $callers waiting callers (arrivals $RATE/s while filling), talk ${TALK}s, window ${SECS}s after ${warm}s; MOH=$MOH"
nap "$warm"
win_start
pprof_cpu queue "$SECS"
rssw=$(rss_mb "$EV_PID")
nap "$SECS"
win_end
rss1=$(rss_mb "$EV_PID")
wait "$QL" || true
for pid in "${SIPP_PIDS[@]}"; do kill -USR1 "$pid" 2>/dev/null || true; done
stat=$(sipp_final "${SIPP_STATS[@]}" 2>/dev/null || true)
alive=running
ev_alive || alive=DIED
printf 'queue agents=%s callers=%s moh=%s cpu=%s rss_idle=%s rss_window=%s rss_after=%s entvoice=%s\n' \
	"$agents" "$callers" "$MOH" "$(pct "$WIN_CPU")" "$(mb "$rss0")" "$(mb "$rssw")" "$(mb "$rss1")" "$alive"
printf '  %s\n' "$(cat "$WORK/queueload.out")"
printf '  sipp: %s\n' "$stat"
grep -v '^#' "$WORK/queueload.err" | head -5 >&2 || true
ev_log_summary "$dir/entvoice.log"
[[ $alive == running ]]
