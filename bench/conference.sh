#!/usr/bin/env bash
# Conference mixer cost over loopback RTP (internal/media/mixer): rooms of
# SIZE participants, PCMU and PCMA alternating, each participant's phone
# sending 50 packets/s (TALKERS per room a tone, the others faint noise).
#   bench/conference.sh [ROOMS...]        default: 50 100 (x 10 participants)
# Env: SIZE (10), TALKERS (2; "all" also runs every participant talking),
# SECS (10, measuring window), WARMUP (3), APP (1: also the application
# level, rooms built by ConfBridge's conference service (internal/conference)
# with talk detection events on and a bus subscriber, "confbridge" lines).
# Prints the machine's calibration figures first: lib.sh's calibrate
# (SHA-256 on one core) and mediabench's media figures (bench/README.md).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
rooms=("$@")
((${#rooms[@]})) || rooms=(50 100)
SIZE=${SIZE:-10} TALKERS=${TALKERS:-2} SECS=${SECS:-10} WARMUP=${WARMUP:-3}
WORK=$(mktemp -d /tmp/evbench-conference.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
(cd "$REPO_DIR" && go build -o "$WORK/mediabench" ./bench/mediabench) || die "cannot build bench/mediabench"
calibrate
"$WORK/mediabench" calibrate
for r in "${rooms[@]}"; do
	"$WORK/mediabench" conference -rooms "$r" -size "$SIZE" -talkers "${TALKERS/all/$SIZE}" -secs "$SECS" -warmup "$WARMUP"
done
if [[ ${APP:-1} == 1 ]]; then
	for r in "${rooms[@]}"; do
		"$WORK/mediabench" confbridge -rooms "$r" -size "$SIZE" -talkers "${TALKERS/all/$SIZE}" -secs "$SECS" -warmup "$WARMUP"
	done
fi
if [[ $TALKERS != all && ${ALL_TALK:-1} == 1 ]]; then
	"$WORK/mediabench" conference -rooms "${rooms[0]}" -size "$SIZE" -talkers "$SIZE" -secs "$SECS" -warmup "$WARMUP"
fi
