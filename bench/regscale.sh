#!/usr/bin/env bash
# Registration scale: N users imported through the CLI (`entvoice user
# import`, one transaction over the API), then N distinct phones registered
# with digest (SIPp, REGISTER -> 401 -> REGISTER -> 200, one AOR and Contact
# per user, users from an injection file) against one `entvoice serve`.
# Prints the import time, the REGISTER rate, and the live heap (after a
# forced collection, from /debug/pprof/heap) and RSS per user and per
# contact.
#   bench/regscale.sh [N]             default 100000
# Env: RATE=3000 (REGISTER/s), SETTLE=40 (s between the import, and the last
# REGISTER, and the readings after them), REG_PER_INSTANCE=2500, KEEP=1, ENTVOICE=path.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

N=${1:-100000}
RATE=${RATE:-3000}
SETTLE=${SETTLE:-40}
SIPP_PER_INSTANCE=${REG_PER_INSTANCE:-2500}
PPROF=1 # the live heap is read from the pprof endpoint

bench_init regscale
calibrate
dir=$WORK/regscale
EV_SIP_EXTRA="max_auth_failures: 100000000"
write_config "$dir" '[bench]
exten => 1000,1,Hangup()'
api=$(sed -n 's/^http: {listen: "\(.*\)"}$/\1/p' "$dir/config.yaml")
export ENTVOICE_ADMIN_TOKEN=evt_regscale_bench_token_0123456789abcdef
start_entvoice "$dir"

# heap_mb: live heap in MB after a forced collection (HeapAlloc of
# /debug/pprof/heap?gc=1&debug=1).
heap_mb() {
	python3 -c 'import re, sys, urllib.request
t = urllib.request.urlopen("http://%s/debug/pprof/heap?gc=1&debug=1" % sys.argv[1], timeout=60).read().decode()
print("%.1f" % (int(re.search(r"# HeapAlloc = (\d+)", t).group(1)) / 1048576))' "$PPROF_ADDR"
}
per_kb() { awk -v a="$1" -v b="$2" -v n="$N" 'BEGIN{printf "%.2f", (b-a)*1024/n}'; }

heap0=$(heap_mb) rss0=$(rss_mb "$EV_PID")
log "regscale: $N users and phones, REGISTER at $RATE/s; idle heap ${heap0} MB, RSS ${rss0} MB"

awk -v n="$N" 'BEGIN{print "name,password"; for (i = 0; i < n; i++) printf "u%d,secret-%d\n", i, i}' >"$WORK/users.csv"
t0=$(now)
"$ENTVOICE" user import "$WORK/users.csv" --server "http://$api" --token "$ENTVOICE_ADMIN_TOKEN" --tenant default -o json >"$WORK/import.json" ||
	die "user import failed: $(head -c 500 "$WORK/import.json")"
import_s=$(awk -v a="$t0" -v b="$(now)" 'BEGIN{printf "%.1f", b-a}')
# the node learns the users through realtime provisioning within a
# second; the import's garbage is returned to the OS by the trimmer once
# the process is quiet: measure after SETTLE, as for the contacts
log "imported in ${import_s} s; measuring in ${SETTLE} s"
nap "$SETTLE"
heap1=$(heap_mb) rss1=$(rss_mb "$EV_PID")

n_inst=$(((RATE + SIPP_PER_INSTANCE - 1) / SIPP_PER_INSTANCE))
for ((i = 0; i < n_inst; i++)); do
	{
		echo SEQUENTIAL
		awk -v n="$n_inst" -v i="$i" -v u="$N" 'BEGIN{for(k=i;k<u;k+=n) printf "u%d;[authentication username=u%d password=secret-%d]\n", k, k, k}'
	} >"$WORK/users-$i.csv"
done
t0=$(now)
secs=$(((N + RATE - 1) / RATE))
sipp_start "regscale" "$RATE" "$N" $((RATE * 10 + 100)) $((secs + 120)) 4 \
	-sf "$BENCH_DIR/scenarios/register_digest.xml" -inf "$WORK/users-@I@.csv" -recv_timeout 5000
win_start
sipp_wait
win_end
reg_s=$(awk -v a="$t0" -v b="$(now)" 'BEGIN{printf "%.1f", b-a}')
stat=$(sipp_final "${SIPP_STATS[@]}")
heap_busy=$(heap_mb) rss_busy=$(rss_mb "$EV_PID")
# the REGISTER transactions outlive their 200 by Timer J (64*T1 = 32 s,
# RFC 3261 17.2.2): measure what stays once they are gone
log "registered; heap ${heap_busy} MB, RSS ${rss_busy} MB with the transactions; measuring again in ${SETTLE} s"
nap "$SETTLE"
heap2=$(heap_mb) rss2=$(rss_mb "$EV_PID")
alive=running
ev_alive || alive=DIED
[[ $alive == running && $(kv failed "$stat") == 0 && $(kv success "$stat") == "$N" ]] || BAD=$((BAD + 1))

printf 'regscale users=%d import=%ss registered=%s failed=%s register_rate=%s/s cpu=%s heap_idle=%sMB heap_users=%sMB heap_contacts=%sMB heap_per_user=%sKB heap_per_contact=%sKB rss_idle=%sMB rss_users=%sMB rss_contacts=%sMB rss_per_user=%sKB rss_per_contact=%sKB entvoice=%s\n' \
	"$N" "$import_s" "$(kv success "$stat")" "$(kv failed "$stat")" "$(kv succ_rate "$stat")" "$(pct "$WIN_CPU")" \
	"$heap0" "$heap1" "$heap2" "$(per_kb "$heap0" "$heap1")" "$(per_kb "$heap1" "$heap2")" \
	"$rss0" "$rss1" "$rss2" "$(per_kb "$rss0" "$rss1")" "$(per_kb "$rss1" "$rss2")" "$alive"
printf '  sipp: %s rc=%s; registration took %s s; right after it: heap %s MB, RSS %s MB\n' "$stat" "$SIPP_RCS" "$reg_s" "$heap_busy" "$rss_busy"
printf '  cmd: %s\n' "$(sipp_cmdline)"
printf '  heap profile after the registrations: %s\n' "$PPROF_DIR"
pprof_heap regscale
ev_log_summary "$dir/entvoice.log"
((BAD == 0))
