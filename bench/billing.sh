#!/usr/bin/env bash
# bench/billing.sh: the billing engine's Go benchmarks (internal/billing),
# printed beside a fixed calibration figure of this machine so that runs
# on different machines can be compared.
#
#   bench/billing.sh            # every benchmark once (about a minute)
#   QUICK=1 bench/billing.sh    # skips the 1,000,000-prefix load and import
#   ENTVOICE_TEST_PG_DSN=postgres://... bench/billing.sh   # the import on PostgreSQL too
#
# What each figure is (targets of issue 11 in brackets):
#   DeckLoad1M      parse + validate + index a 1,000,000-prefix deck      [<= 10 s]
#   DeckImport1M    the same stored in one transaction, then read back
#   Lookup1M        longest-prefix match in that index                   [<= 1 us]
#   RateCDR         rating throughput on one goroutine                   [>= 100,000 CDR/s]
#   Authorize       in-process prepaid authorization, p50/p99            [p99 <= 1 ms]
#   RaterStore      the Rater end to end on SQLite (read, rate, commit)
#   Calibration     SHA-256 MB/s: the machine's yardstick
set -euo pipefail
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_DIR"

log "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(go version | cut -d' ' -f3)"
calib=$(go test ./internal/billing/ -run '^$' -bench '^BenchmarkCalibration$' -benchtime 2000x -count 3 |
	awk '/^BenchmarkCalibration/{for(i=1;i<=NF;i++) if($i=="MB/s") print $(i-1)}' | sort -n | sed -n 2p)
printf 'calibration: SHA-256 %s MB/s (median of 3; compare figures across machines by this ratio)\n' "$calib"

run() { # run REGEX BENCHTIME
	go test ./internal/billing/ -run '^$' -bench "$1" -benchtime "$2" -timeout 30m |
		grep -E '^Benchmark' | sed -E 's/-[0-9]+ +/ /'
}
run '^BenchmarkLookup1M$' 2000000x
run '^BenchmarkRateCDR$' 500000x
run '^BenchmarkAuthorize$' 500000x
run '^BenchmarkRaterStore$' 3x
# Authorization as a node sees it: through its link to central.
go test ./internal/cluster/hub/ -run '^$' -bench '^BenchmarkChargeOverLink$' -benchtime 3000x |
	grep -E '^Benchmark' | sed -E 's/-[0-9]+ +/ /'
if [[ ${QUICK:-0} != 1 ]]; then
	run '^BenchmarkDeckLoad1M$' 1x
	run '^BenchmarkDeckImport1M$' 1x
fi
