#!/usr/bin/env bash
# bench/speech.sh [STREAMS...] [DURATION]: the speech engine under load, in
# one process and without SIP (bench/speechload): real-time factor, latency
# from the end-of-speech event to the result, CPU per concurrent recognition,
# then the Go micro-benchmarks (decode RTF, per-frame recognizer cost).
# Defaults: 40 and 120 concurrent callers for 30 s each.
# Needs libpocketsphinx-dev, pocketsphinx-en-us, pkg-config and espeak-ng
# (scripts/setup.sh installs them). Quick check: bench/speech.sh 20 5
set -euo pipefail
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"

args=("$@")
duration=30
if ((${#args[@]} >= 2)); then
	duration=${args[-1]}
	unset 'args[-1]'
fi
((${#args[@]} > 0)) || args=(40 120)

pkg-config --exists pocketsphinx sphinxbase || die "libpocketsphinx-dev not installed (scripts/setup.sh)"
command -v espeak-ng >/dev/null || die "espeak-ng not installed (scripts/setup.sh)"
WORK=$(mktemp -d /tmp/evbench-speech.XXXXXX)
trap cleanup EXIT
trap 'exit 130' INT TERM

calibrate
log "building bench/speechload"
(cd "$REPO_DIR" && go build -tags pocketsphinx -o "$WORK/speechload" ./bench/speechload) || die "build failed"
printf 'commit %s, %s\n' "$(git -C "$REPO_DIR" rev-parse --short HEAD 2>/dev/null || echo '?')" "$(date -u +%F)"
for n in "${args[@]}"; do
	printf '\n== %s concurrent callers, %s s\n' "$n" "$duration"
	"$WORK/speechload" -streams "$n" -duration "${duration}s" -rtf-runs 5 &
	PIDS+=($!)
	wait "${PIDS[-1]}" || BAD=$((BAD + 1))
done
printf '\n== go benchmarks\n'
(cd "$REPO_DIR" && go test -tags pocketsphinx -run '^$' -bench . -benchtime 2s ./internal/speech/ ./internal/speech/pocketsphinx/ |
	grep -E '^(Benchmark|cpu:)')
((BAD == 0))
