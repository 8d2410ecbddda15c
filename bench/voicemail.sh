#!/usr/bin/env bash
# (v) Voicemail under load: CONCURRENT callers (default 50) leave CALLS
# messages (default 500) in MAILBOXES mailboxes (default 10, so callers
# share mailboxes: the per-mailbox locking and numbering are exercised),
# each a 3 s 1 kHz PCMU tone played by SIPp, which hangs up after HOLD_MS
# (default 4000; a message whose caller hangs up is kept, as in Asterisk).
# Then as many callers retrieve messages at once: VoiceMailMain with a(0)
# autoplay plays the first INBOX message of a mailbox with its envelope and
# the caller hangs up after RETRIEVE_MS (default 9000); heard messages move
# to Old.
#   bench/voicemail.sh [CONCURRENT]
# Checks: every call succeeded, every deposit is a message on disk
# (msgNNNN.txt with its .wav) and in the store (the API's message list),
# and after retrieval INBOX + Old still hold every message: lost=0.
# Prints lib.sh's calibration figure first, then per phase the calls,
# entvoice's CPU (% of one core) over the phase and the message counts.
# Env: CALLS, MAILBOXES, HOLD_MS, RETRIEVE_MS, SOUNDS (prompts dir), KEEP=1, PPROF=1, ENTVOICE=path (lib.sh).
set -euo pipefail
source "$(dirname "$0")/lib.sh"

CONC=${1:-50}
CALLS=${CALLS:-500}
MAILBOXES=${MAILBOXES:-10}
HOLD_MS=${HOLD_MS:-4000}
RETRIEVE_MS=${RETRIEVE_MS:-9000}
TOKEN=bench-admin-token-0123456789abcdef

bench_init voicemail
command -v curl >/dev/null || die "curl not found"
[[ ${CALIBRATE:-1} == 1 ]] && calibrate

dir=$WORK/vm
plan='[bench]
exten => _2XXX,1,VoiceMail(${EXTEN}@default,s)
 same => n,Hangup()
exten => _3XXX,1,VoiceMailMain(2${EXTEN:1}@default,sa(0))
 same => n,Hangup()'
api_port=$(free_udp_port)
{
	printf '[general]\nmaxmsg=%d\n[default]\n' "$CALLS"
	for ((i = 1; i <= MAILBOXES; i++)); do printf '%d => 1234,Bench %d\n' $((2000 + i)) "$i"; done
} >"$WORK/voicemail.conf"
write_config "$dir" "$plan" "voicemail: $WORK/voicemail.conf
http: {listen: \"127.0.0.1:$api_port\"}"
# The menus' real prompts (Debian's asterisk-core-sounds-*), when installed.
SOUNDS=${SOUNDS:-/usr/share/asterisk/sounds}
if [[ -d $SOUNDS ]]; then
	rm -rf "$dir/sounds"
	ln -s "$SOUNDS" "$dir/sounds"
fi
python3 "$BENCH_DIR/tools/tonepcap.py" "$WORK/tone.pcap" --freq 1000 --secs 3
export ENTVOICE_ADMIN_TOKEN=$TOKEN
start_entvoice "$dir"
log "voicemail: $CALLS calls, $CONC concurrent, $MAILBOXES mailboxes; entvoice $ENTVOICE"

# inf FILE PREFIX HOLD: SIPp injection file, mailboxes round robin.
inf() {
	{
		echo SEQUENTIAL
		for ((i = 0; i < CALLS; i++)); do printf '%d%03d;%d;\n' "$2" $((i % MAILBOXES + 1)) "$3"; done
	} >"$1"
}

# on_disk FOLDER: messages (txt and wav) in that folder of every mailbox.
on_disk() {
	local n=0 d f
	for d in "$dir"/data/voicemail/default/2*/"$1"; do
		[[ -d $d ]] || continue
		for f in "$d"/msg*.txt; do
			[[ -e $f && -e ${f%.txt}.wav ]] && n=$((n + 1))
		done
	done
	echo "$n"
}

# in_store: messages the API lists (the store's index), every mailbox.
in_store() {
	local n=0 i c
	for ((i = 1; i <= MAILBOXES; i++)); do
		c=$(curl -fsS -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$api_port/api/v1/tenants/default/mailboxes/$((2000 + i))/messages" |
			python3 -c 'import json,sys; print(len(json.load(sys.stdin)["items"]))') || c=0
		n=$((n + c))
	done
	echo "$n"
}

# phase TAG PREFIX HOLD_MS: CALLS calls, CONC at once.
phase() {
	local tag=$1 prefix=$2 hold=$3 secs
	inf "$WORK/$tag.csv" "$prefix" "$hold"
	secs=$(((CALLS / CONC + 2) * (hold / 1000 + 3) + 60))
	win_start
	SIPP_PER_INSTANCE=100000 sipp_start "$tag" "$CONC" "$CALLS" "$CONC" "$secs" $((4 * CALLS)) \
		-sf "$BENCH_DIR/scenarios/uac_voicemail.xml" -inf "$WORK/$tag.csv" -recv_timeout 30000
	sipp_wait
	win_end
	STAT=$(sipp_final "${SIPP_STATS[@]}")
	[[ $(kv failed "$STAT") == 0 && $(kv success "$STAT") == "$CALLS" ]] || BAD=$((BAD + 1))
}

phase deposit 2 "$HOLD_MS"
sleep 1
inbox=$(on_disk INBOX)
store=$(in_store)
dep_ok=$(kv success "$STAT")
lost=$((dep_ok - inbox))
((lost == 0 && store == inbox)) || BAD=$((BAD + 1))
printf 'voicemail deposit concurrent=%d calls=%d success=%s failed=%s cpu=%s secs=%s messages_on_disk=%d in_store=%d lost=%d entvoice=%s\n' \
	"$CONC" "$CALLS" "$dep_ok" "$(kv failed "$STAT")" "$(pct "$WIN_CPU")" "$WIN_SECS" "$inbox" "$store" "$lost" "$(ev_alive && echo running || echo DIED)"
printf '  sipp: %s rc=%s\n  cmd: %s\n' "$STAT" "$SIPP_RCS" "$(sipp_cmdline)"

phase retrieve 3 "$RETRIEVE_MS"
sleep 1
inbox2=$(on_disk INBOX)
old=$(on_disk Old)
store2=$(in_store)
lost2=$((inbox - inbox2 - old))
((lost2 == 0 && old > 0 && store2 == inbox2 + old)) || BAD=$((BAD + 1))
printf 'voicemail retrieve concurrent=%d calls=%d success=%s failed=%s cpu=%s secs=%s inbox=%d old=%d in_store=%d lost=%d entvoice=%s\n' \
	"$CONC" "$CALLS" "$(kv success "$STAT")" "$(kv failed "$STAT")" "$(pct "$WIN_CPU")" "$WIN_SECS" "$inbox2" "$old" "$store2" "$lost2" \
	"$(ev_alive && echo running || echo DIED)"
printf '  sipp: %s rc=%s\n  cmd: %s\n' "$STAT" "$SIPP_RCS" "$(sipp_cmdline)"
printf '  RSS after both phases: %s\n' "$(mb "$(rss_mb "$EV_PID")")"
ev_log_summary "$dir/entvoice.log"
stop_pid "$EV_PID"
((BAD == 0))
