#!/usr/bin/env bash
# SRTP against plain RTP on the media path of a bridged call: Go benchmarks
# of internal/media (BenchmarkRelayRTP, BenchmarkRelaySRTP, BenchmarkRelayGCM)
# relay packets from a phone through leg A, the bridge and leg B to the far
# phone over loopback; cpu-ns/pkt is the process's CPU (user+system) per
# relayed packet. A call relays 100 packets/s (50 each way), so calls per
# core = 1e9 / (cpu-ns/pkt * 100). No SIPp; prints the calibration line.
#   bench/srtp.sh [PACKETS]      default 50000 packets per run, 5 runs
set -euo pipefail
source "$(dirname "$0")/lib.sh"
pkts=${1:-50000}
calibrate
out=$(cd "$REPO_DIR" && go test ./internal/media -run XXX -bench 'BenchmarkRelay(RTP|SRTP|GCM)$' -benchtime "${pkts}x" -count 5)
printf '%s\n' "$out" | grep '^Benchmark'
printf '%s\n' "$out" | awk '
/^BenchmarkRelay/ {
	name=$1; sub(/^BenchmarkRelay/, "", name); sub(/-[0-9]+$/, "", name)
	for (i = 1; i <= NF; i++) if ($(i+1) == "cpu-ns/pkt") { sum[name] += $i; n[name]++ }
}
END {
	base = sum["RTP"] / n["RTP"]
	for (k in sum) {
		v = sum[k] / n[k]
		printf "%-5s cpu %.0f ns/packet  calls/core %.0f  extra CPU vs RTP %+.1f%%\n", k, v, 1e9 / (v * 100), (v / base - 1) * 100
	}
}' | sort
