#!/usr/bin/env bash
# A/B: two builds of entvoice under the same loads in one run, alternated
# (A B B A A B ...) so that the machine's drift falls on both alike.
#   bench/ab.sh REV_A REV_B [ROUNDS]
# REV_A/REV_B: a git revision of this repository (built into a temporary
# worktree) or the path of an entvoice binary. ROUNDS defaults to 3.
# Env: LOADS (default "cps:200:10 cps:800:10 wait:200:10 playback:400"):
#        cps:RATE:SECS       bench/cps.sh RATE SECS
#        wait:RATE:SECS      bench/wait.sh RATE SECS
#        playback:N          bench/playback.sh N
#      RSS_WAIT (default 30): second RSS reading after each load.
# Prints every result line as it comes (tagged A or B), then per load the
# median of each build, B/A ratios and the calibration figure of every round.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
(($# >= 2)) || { echo "usage: bench/ab.sh REV_A REV_B [ROUNDS]" >&2; exit 2; }
rounds=${3:-3}
LOADS=${LOADS:-cps:200:10 cps:800:10 wait:200:10 playback:400}
export RSS_WAIT=${RSS_WAIT:-30}
source "$here/lib.sh"

tmp=$(mktemp -d /tmp/evbench-ab.XXXXXX)
trees=()
finish() {
	local rc=$? t
	for t in "${trees[@]}"; do git -C "$repo" worktree remove --force "$t" >/dev/null 2>&1 || true; done
	rm -rf "$tmp"
	exit "$rc"
}
trap finish EXIT

# binary REV NAME: path of an entvoice binary for REV (built when REV is a revision).
binary() {
	local rev=$1 name=$2
	if [[ -x $rev && -f $rev ]]; then
		realpath "$rev"
		return
	fi
	local tree=$tmp/$name-src
	git -C "$repo" worktree add --detach "$tree" "$rev" >/dev/null 2>&1 || die "cannot check out $rev"
	trees+=("$tree")
	(cd "$tree" && go build -o "$tmp/$name" ./cmd/entvoice) >&2 || die "build of $rev failed"
	printf '%s\n' "$tmp/$name"
}
bin_a=$(binary "$1" a)
bin_b=$(binary "$2" b)
log "A = $1 ($bin_a), B = $2 ($bin_b); $rounds rounds; loads: $LOADS; RSS_WAIT=$RSS_WAIT"

results=$tmp/results # lines: LOAD BUILD ROUND <result line>
: >"$results"
calibrations=()
run_load() {
	local load=$1 build=$2 round=$3 bin=$4 kind args line
	IFS=: read -r kind args <<<"$load"
	case $kind in
	cps | wait) line=$(ENTVOICE=$bin CALIBRATE=0 "$here/$kind.sh" ${args//:/ } 2>"$tmp/err" | grep -E "^$kind " | tail -1) || true ;;
	playback) line=$(ENTVOICE=$bin CALIBRATE=0 "$here/playback.sh" "$args" 2>"$tmp/err" | grep -E '^playback ' | tail -1) || true ;;
	*) die "unknown load $load" ;;
	esac
	[[ -n $line ]] || { tail -5 "$tmp/err" >&2; line="$kind failed=run"; }
	printf '%s %s %s %s\n' "$load" "$build" "$round" "$line" >>"$results"
	printf '[%s round %s] %s\n' "$build" "$round" "$line"
}
for ((r = 1; r <= rounds; r++)); do
	calibrate | tee -a "$tmp/cal"
	for load in $LOADS; do
		if ((r % 2)); then order="A B"; else order="B A"; fi
		for b in $order; do
			if [[ $b == A ]]; then bin=$bin_a; else bin=$bin_b; fi
			run_load "$load" "$b" "$r" "$bin"
		done
	done
done

echo
echo "== A/B summary: medians of $rounds rounds (A = $1, B = $2); ratio = B/A"
python3 "$here/tools/abstat.py" "$results"
echo "calibration per round: $(sed -n 's/.* at \([0-9]* MB\/s\).*/\1/p' "$tmp/cal" | paste -sd, | sed 's/,/, /g')"
