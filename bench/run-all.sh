#!/usr/bin/env bash
# Runs the four benchmarks with their default loads and prints a summary table.
#   bench/run-all.sh
# About 4 minutes with RSS_WAIT=0 (the default); RSS_WAIT=35 adds 35 s per
# load (about 3.5 more minutes). Each script starts and stops its own
# entvoice; their full output is in the log named at the end.
# Env: RSS_WAIT, KEEP, ENTVOICE, BUILD=1 (see lib.sh), DURATION (cps/wait seconds).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=$(mktemp /tmp/evbench-all.XXXXXX.log)
rc=0
start=$(date +%s)
for s in cps wait playback register; do
	echo "== $s ==" | tee -a "$out"
	"$here/$s.sh" 2>&1 | tee -a "$out"
	r=${PIPESTATUS[0]}
	((r == 0)) || { echo "== $s: exit $r (failed calls or entvoice died, see above)" | tee -a "$out"; rc=1; }
	BUILD=0
	export BUILD
done
echo
echo "== summary ($(($(date +%s) - start)) s; entvoice ${ENTVOICE:-$(dirname "$here")/bin/entvoice}; $(nproc) cores; full log $out)"
python3 "$here/tools/summary.py" "$out"
exit $rc
