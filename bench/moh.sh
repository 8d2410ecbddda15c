#!/usr/bin/env bash
# Music on hold cost over loopback RTP (internal/media/moh): LISTENERS
# sessions hear one class (the synthesised default tune, or the files of
# MOH_DIR), PCMU and PCMA alternating.
#   bench/moh.sh [LISTENERS...]           default: 1000
# Env: MOH_DIR (class directory), SECS (10), WARMUP (3), PHONES_SEND=1 also
# runs the load with every listener's phone sending RTP (the callers' own
# audio, not music on hold).
# Prints the machine's calibration figures first: lib.sh's calibrate
# (SHA-256 on one core) and mediabench's media figures (bench/README.md).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
loads=("$@")
((${#loads[@]})) || loads=(1000)
SECS=${SECS:-10} WARMUP=${WARMUP:-3}
WORK=$(mktemp -d /tmp/evbench-moh.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
(cd "$REPO_DIR" && go build -o "$WORK/mediabench" ./bench/mediabench) || die "cannot build bench/mediabench"
calibrate
"$WORK/mediabench" calibrate
for n in "${loads[@]}"; do
	"$WORK/mediabench" moh -listeners "$n" -dir "${MOH_DIR:-}" -secs "$SECS" -warmup "$WARMUP"
	if [[ ${PHONES_SEND:-0} == 1 ]]; then
		"$WORK/mediabench" moh -listeners "$n" -dir "${MOH_DIR:-}" -talk -secs "$SECS" -warmup "$WARMUP"
	fi
done
