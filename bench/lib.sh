# shellcheck shell=bash
# Shared helpers of the entVoice benchmark scripts (sourced, not run).
#
# Environment knobs (all optional):
#   ENTVOICE=path   entvoice binary (default: <repo>/bin/entvoice, built if missing;
#                   BUILD=1 rebuilds it first with `go build -o bin/entvoice ./cmd/entvoice`)
#   RSS_WAIT=35     seconds to wait after the load before the second RSS reading
#                   (default 0 = skip it, for quick runs)
#   KEEP=1          keep the temporary directory (configs, logs, SIPp stats, pcaps)
#   PPROF=1         run entvoice with ENTVOICE_PPROF on a free loopback port and save a
#                   CPU profile of each measuring window plus a heap profile after each
#                   load into PPROF_DIR (default /tmp/evbench-pprof-DATE); read them with
#                   `go tool pprof -top ENTVOICE FILE`
#   GOMEMLIMIT, GOGC, GOMAXPROCS, GODEBUG are passed to entvoice unchanged if set
#                   (GODEBUG=gctrace=1 writes GC lines into entvoice.log; KEEP=1 keeps it).

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(dirname "$BENCH_DIR")
ENTVOICE=${ENTVOICE:-$REPO_DIR/bin/entvoice}
RSS_WAIT=${RSS_WAIT:-0}
KEEP=${KEEP:-0}
CLK_TCK=$(getconf CLK_TCK)

PPROF=${PPROF:-0}
PPROF_DIR=${PPROF_DIR:-/tmp/evbench-pprof-$(date +%Y%m%d-%H%M%S)}
PPROF_ADDR=""

PIDS=()        # every process we started, stopped by cleanup
WORK=""        # temporary directory of this run
EV_PID=""      # entvoice
EV_PORT=""     # entvoice SIP UDP port
EV_HOST=${EV_HOST:-127.0.0.1} # entvoice SIP address SIPp calls (cluster-cost.sh: a node on 127.0.0.2)

log() { printf '# %s\n' "$*" >&2; }
die() { printf 'ERROR: %s\n' "$*" >&2; exit 1; }

# stop_pid PID: SIGTERM, wait up to 5 s, then SIGKILL. Only PIDs we started.
stop_pid() {
	local pid=$1 i
	kill -0 "$pid" 2>/dev/null || return 0
	kill -TERM "$pid" 2>/dev/null || true
	for i in $(seq 50); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
}

cleanup() {
	local rc=$? pid
	for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
		pid=${PIDS[i]}
		stop_pid "$pid"
	done
	if [[ -n $WORK && -d $WORK ]]; then
		if [[ $KEEP == 1 ]]; then
			log "kept $WORK"
		else
			rm -rf "$WORK"
		fi
	fi
	exit "$rc"
}

# bench_init NAME: temp dir + EXIT trap.
bench_init() {
	command -v sipp >/dev/null || die "sipp not found (apt-get install sip-tester)"
	WORK=$(mktemp -d "/tmp/evbench-$1.XXXXXX")
	trap cleanup EXIT
	trap 'exit 130' INT TERM
	if [[ ${BUILD:-0} == 1 || ! -x $ENTVOICE ]]; then
		log "building $ENTVOICE"
		(cd "$REPO_DIR" && go build -o "$ENTVOICE" ./cmd/entvoice) || die "build failed"
	fi
}

# free_udp_port [WIDTH...]: one base port per WIDTH, each block free for UDP
# and TCP on 127.0.0.1, disjoint, outside entvoice's RTP range (20000-40000)
# and below the ephemeral range (see tools/freeport.py).
free_udp_port() {
	python3 "$BENCH_DIR/tools/freeport.py" "${@:-1}"
}

# write_config DIR DIALPLAN_BODY [EXTRA_YAML]: config.yaml + bench.conf.
write_config() {
	local dir=$1 plan=$2 extra=${3:-}
	mkdir -p "$dir/data" "$dir/sounds/en"
	printf '%s\n' "$plan" >"$dir/bench.conf"
	EV_PORT=${EV_PORT:-$(free_udp_port)}
	# the API and AMI on ports of their own, as in a deployment (not off),
	# without clashing with another entvoice on this machine
	local api ami
	{ read -r api; read -r ami; } < <(free_udp_port --avoid "$EV_PORT" 1 1)
	cat >"$dir/config.yaml" <<EOF
sip: {listen: ["udp:127.0.0.1:$EV_PORT"], flood_rate: 1000000, flood_burst: 2000000${EV_SIP_EXTRA:+, $EV_SIP_EXTRA}}
rtp: {ports: "20000-40000"}
data_dir: $dir/data
sounds_dir: $dir/sounds
dialplan: bench.conf
log: {level: warn}
shutdown: {grace: 2s}
trunks: [{name: loadgen, match: ["127.0.0.1/32"], context: bench}]
http: {listen: "127.0.0.1:$api"}
ami: {listen: "127.0.0.1:$ami"}
$extra
EOF
}

# start_entvoice DIR: runs entvoice on DIR/config.yaml, log in DIR/entvoice.log,
# and waits until it answers OPTIONS.
start_entvoice() {
	local dir=$1
	if [[ $PPROF == 1 ]]; then
		PPROF_ADDR=127.0.0.1:$(free_udp_port)
		mkdir -p "$PPROF_DIR"
		ENTVOICE_PPROF=$PPROF_ADDR "$ENTVOICE" serve --config "$dir/config.yaml" >"$dir/entvoice.log" 2>&1 &
	else
		"$ENTVOICE" serve --config "$dir/config.yaml" >"$dir/entvoice.log" 2>&1 &
	fi
	EV_PID=$!
	PIDS+=("$EV_PID")
	python3 "$BENCH_DIR/tools/sipping.py" 127.0.0.1 "$EV_PORT" 10 ||
		{ tail -20 "$dir/entvoice.log" >&2; die "entvoice did not answer OPTIONS on $EV_PORT"; }
}

# ev_alive: is entvoice still running?
ev_alive() { kill -0 "$EV_PID" 2>/dev/null && [[ $(awk '{print $3}' "/proc/$EV_PID/stat" 2>/dev/null) != Z ]]; }

# cpu_ticks PID: utime+stime in clock ticks (fields 14 and 15 of /proc/PID/stat,
# counted after the ")" that closes the command name).
cpu_ticks() { { sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null || true; } | awk '{print $12+$13}'; }

# sys_ticks PID: stime alone (kernel work: socket calls, and on loopback the
# receiving side's packet processing, which the sender pays for).
sys_ticks() { { sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null || true; } | awk '{print $13}'; }

# rss_mb PID: VmRSS in MB (one decimal), "dead" if the process is gone.
rss_mb() {
	{ cat "/proc/$1/status" 2>/dev/null || true; } | awk '/^VmRSS:/{printf "%.1f", $2/1024; f=1} END{if(!f) printf "dead"}' 
}

now() { date +%s.%N; }

# nap SECS: sleep that a trapped signal interrupts at once (bash runs traps
# only between foreground commands, but does interrupt `wait`).
nap() {
	sleep "$1" &
	wait $! || true
}

# pprof_cpu NAME SECS: (PPROF=1) fetch a CPU profile in the background.
pprof_cpu() {
	[[ $PPROF == 1 && -n $PPROF_ADDR ]] || return 0
	python3 -c 'import sys, urllib.request; open(sys.argv[2], "wb").write(urllib.request.urlopen(sys.argv[1], timeout=int(sys.argv[3]) + 30).read())' \
		"http://$PPROF_ADDR/debug/pprof/profile?seconds=$2" "$PPROF_DIR/$1.cpu.pprof" "$2" 2>/dev/null &
	PIDS+=($!)
}

# pprof_heap NAME: (PPROF=1) save a heap profile now.
pprof_heap() {
	[[ $PPROF == 1 && -n $PPROF_ADDR ]] || return 0
	python3 -c 'import sys, urllib.request; open(sys.argv[2], "wb").write(urllib.request.urlopen(sys.argv[1], timeout=30).read())' \
		"http://$PPROF_ADDR/debug/pprof/heap" "$PPROF_DIR/$1.heap.pprof" 2>/dev/null || true
	log "pprof: $PPROF_DIR/$1.{cpu,heap}.pprof"
}

# ms_per_call CPU_PCT RATE: milliseconds of CPU per call (CPU_PCT % of one core
# at RATE calls/s: CPU_PCT/100 s of CPU per second over RATE calls).
ms_per_call() {
	if [[ $1 =~ ^[0-9.]+$ && $2 =~ ^[0-9.]+$ ]]; then
		awk -v c="$1" -v r="$2" 'BEGIN{if (r > 0) printf "%.3fms", c*10/r; else printf "-"}'
	else
		printf '%s' "-"
	fi
}

# units for printing: mb 12.3 -> 12.3MB, pct 4.5 -> 4.5%; other words unchanged.
mb() { if [[ $1 =~ ^[0-9.]+$ ]]; then printf '%sMB' "$1"; else printf '%s' "$1"; fi; }
pct() { if [[ $1 =~ ^[0-9.]+$ ]]; then printf '%s%%' "$1"; else printf '%s' "$1"; fi; }

BAD=0 # loads with failed calls or a dead entvoice; scripts exit 1 when > 0

# Load window accounting: win_start; ...load...; win_end -> WIN_CPU (% of one
# core), WIN_SECS.
win_start() { W_T0=$(now); W_C0=$(cpu_ticks "$EV_PID"); W_S0=$(sys_ticks "$EV_PID"); }
win_end() {
	local t1 c1
	t1=$(now)
	c1=$(cpu_ticks "$EV_PID")
	if [[ -z $c1 || -z $W_C0 ]] || ! ev_alive; then
		WIN_CPU=dead
	else
		WIN_CPU=$(awk -v a="$W_C0" -v b="$c1" -v t0="$W_T0" -v t1="$t1" -v hz="$CLK_TCK" \
			'BEGIN{printf "%.1f", (b-a)/hz/(t1-t0)*100}')
	fi
	WIN_SECS=$(awk -v t0="$W_T0" -v t1="$t1" 'BEGIN{printf "%.1f", t1-t0}')
	WIN_SYS=$(awk -v a="$W_S0" -v b="$(sys_ticks "$EV_PID")" -v t0="$W_T0" -v t1="$t1" -v hz="$CLK_TCK" \
		'BEGIN{if (a == "" || b == "") printf "-"; else printf "%.1f", (b-a)/hz/(t1-t0)*100}')
}

# rss_later: second RSS reading after RSS_WAIT seconds (prints "-" when skipped).
rss_later() {
	if [[ $RSS_WAIT -gt 0 ]]; then
		nap "$RSS_WAIT"
		rss_mb "$EV_PID"
	else
		printf skipped
	fi
}

# sipp_final STATCSV: prints "created success failed retrans rate cause=N..." from the
# last row of a SIPp -trace_stat CSV (see tools/sippstat.py).
sipp_final() { python3 "$BENCH_DIR/tools/sippstat.py" "$@"; }

# ev_errors: count and show the warn/error lines and panics of entvoice's log.
ev_log_summary() {
	local f=$1 n
	n=$(grep -cE 'level=(WARN|ERROR)|^panic|fatal error' "$f" 2>/dev/null || true)
	if [[ ${n:-0} -gt 0 ]]; then
		log "entvoice log ($f): $n warn/error/panic lines; most frequent (data= cut):"
		{ grep -E 'level=(WARN|ERROR)|^panic|fatal error' "$f" || true; } |
			sed -E 's/^time=[^ ]+ //; s/ (call|uniqueid|channel|callid|call_id|from|to|src|addr)=[^ ]+//g; s/ data=.*( error=)/ data=...\1/' |
			cut -c1-220 | sort | uniq -c | sort -rn | awk 'NR<=8{print "#   " $0}' >&2
	fi
	if ! ev_alive; then
		log "entvoice DIED; last log lines:"
		tail -25 "$f" | sed 's/^/#   /' >&2
	fi
}

# sipp_cmd_string: the command line as printed (quoted).
quote_cmd() { printf '%q ' "$@" | sed 's/ $//'; }

# ---- SIPp load generation -------------------------------------------------

SIPP_PER_INSTANCE=${SIPP_PER_INSTANCE:-1000} # calls/s one SIPp instance is given at most
SIPP_PIDS=()
SIPP_STATS=()
SIPP_CMDS=()
SIPP_MEDIA=() # "base last" media port span of each instance

# sipp_start TAG RATE CALLS LIMIT MAXSECS MEDIAWIDTH ARGS...: starts
# ceil(RATE/SIPP_PER_INSTANCE) SIPp instances in the background, splitting RATE,
# CALLS and LIMIT evenly; each gets its own -p, -mp, -cp and stat file
# ($WORK/TAG-i.csv). Stat files are listed in SIPP_STATS, commands in SIPP_CMDS.
# ARGS may contain the placeholder @I@ (instance number). Each instance runs
# under timeout(1): USR1 (soft exit) after MAXSECS, KILL 15 s later.
sipp_start() {
	local tag=$1 rate=$2 calls=$3 limit=$4 maxsecs=$5 mwidth=$6
	shift 6
	local n=$(((rate + SIPP_PER_INSTANCE - 1) / SIPP_PER_INSTANCE)) i ports p mp cp r m l args
	((n < 1)) && n=1
	SIPP_PIDS=() SIPP_STATS=() SIPP_CMDS=() SIPP_MEDIA=()
	# all ports of all instances in one go: disjoint, and no media block
	# covering entvoice's SIP port (SIPp would address RTP to it)
	local spec=() all
	for ((i = 0; i < n; i++)); do spec+=(1 1 "$mwidth"); done
	mapfile -t all < <(free_udp_port --avoid "$EV_PORT" "${spec[@]}")
	((${#all[@]} == 3 * n)) || die "no free ports for $n SIPp instances"
	for ((i = 0; i < n; i++)); do
		p=${all[3 * i]} cp=${all[3 * i + 1]} mp=${all[3 * i + 2]}
		r=$(awk -v a="$rate" -v n="$n" 'BEGIN{printf "%g", a/n}')
		m=$(((calls + n - 1 - i) / n))
		l=$(((limit + n - 1) / n))
		args=("${@//@I@/$i}")
		local cmd=(sipp "$EV_HOST:$EV_PORT" "${args[@]}" -i 127.0.0.1 -p "$p" -mi 127.0.0.1 -mp "$mp" -cp "$cp"
			-r "$r" -m "$m" -l "$l" -nostdin -trace_stat -stf "$WORK/$tag-$i.csv" -fd 1
			-trace_screen -screen_file "$WORK/$tag-$i.screen")
		(cd "$WORK" && exec timeout -s USR1 -k 15 "$maxsecs" "${cmd[@]}" >"$WORK/$tag-$i.out" 2>&1) &
		SIPP_PIDS+=($!)
		PIDS+=($!)
		SIPP_STATS+=("$WORK/$tag-$i.csv")
		SIPP_CMDS+=("$(quote_cmd "${cmd[@]}")")
		SIPP_MEDIA+=("$mp $((mp + (4 * (m - 1)) % 10000))")
	done
}

# sipp_wait: waits for the instances of sipp_start; SIPP_RCS = their exit codes.
sipp_wait() {
	local pid rc
	SIPP_RCS=""
	for pid in "${SIPP_PIDS[@]}"; do
		rc=0
		wait "$pid" || rc=$?
		SIPP_RCS+="${SIPP_RCS:+,}$rc"
	done
}

# sipp_cmdline: the first instance's command (+ "x N instances").
sipp_cmdline() {
	local s=${SIPP_CMDS[0]}
	((${#SIPP_CMDS[@]} > 1)) && s+="   [x${#SIPP_CMDS[@]} instances, rate/calls/limit split evenly]"
	printf '%s' "$s"
}

# kv KEY LINE: value of key=value in LINE.
kv() { sed -n "s/.*\b$1=\([^ ]*\).*/\1/p" <<<"$2"; }

# call_load BENCH PLAN RATE DURATION CALL_SECS: one load of calls to extension
# 1000 of context [bench] at RATE calls/s for DURATION s against a fresh
# entvoice running the dialplan PLAN; the PBX hangs up every call (CALL_SECS
# = how long a call lasts). Prints the result line, sets RESULT.
call_load() {
	local bench=$1 plan=$2 rate=$3 dur=$4 callsecs=$5
	local dir=$WORK/$bench-$rate calls=$((rate * dur)) st
	# concurrent calls in SIPp: set-up + call + 4 s timewait, doubled for slack
	local limit=$((rate * (callsecs + 5) * 2 + 100))
	EV_PORT=""
	write_config "$dir" "$plan"
	start_entvoice "$dir"
	local rss0
	rss0=$(rss_mb "$EV_PID")
	sipp_start "$bench-$rate" "$rate" "$calls" "$limit" $((dur + callsecs + 60)) 8 \
		-sf "$BENCH_DIR/scenarios/uac_pbx_hangup.xml" -s 1000 -recv_timeout $(((callsecs + 10) * 1000))
	# steady window: from 1 s after the start to 1 s before the last call is sent
	local steady=$((dur > 4 ? dur - 2 : dur))
	sleep 1
	win_start
	pprof_cpu "$bench-$rate" "$steady"
	nap "$steady"
	win_end
	sipp_wait
	local rss1 rss2 stat
	rss1=$(rss_mb "$EV_PID")
	pprof_heap "$bench-$rate"
	stat=$(sipp_final "${SIPP_STATS[@]}")
	rss2=$(rss_later)
	local alive=running
	ev_alive || alive=DIED
	RESULT=$(printf '%-5s offered=%d/s achieved=%s/s success=%s failed=%s cpu=%s cpu_per_call=%s rss_after=%s rss_after_%ss=%s entvoice=%s' \
		"$bench" "$rate" "$(kv rate "$stat")" "$(kv success "$stat")" "$(kv failed "$stat")" "$(pct "$WIN_CPU")" \
		"$(ms_per_call "$WIN_CPU" "$(kv rate "$stat")")" "$(mb "$rss1")" "$RSS_WAIT" "$(mb "$rss2")" "$alive")
	[[ $alive == running && $(kv failed "$stat") == 0 && $(kv success "$stat") == "$calls" ]] || BAD=$((BAD + 1))
	printf '%s\n' "$RESULT"
	printf '  RSS after %s calls: %s (idle before the load %s; %s s later: %s)\n' "$(kv created "$stat")" "$(mb "$rss1")" "$(mb "$rss0")" "$RSS_WAIT" "$(mb "$rss2")"
	printf '  sipp: %s rc=%s; CPU window %s s (of which system %s)\n' "$stat" "$SIPP_RCS" "$WIN_SECS" "$(pct "$WIN_SYS")"
	printf '  cmd: %s\n' "$(sipp_cmdline)"
	ev_log_summary "$dir/entvoice.log"
	stop_pid "$EV_PID"
}

# calibrate: a fixed single-core workload (SHA-256 of 256 MiB of zeros) whose
# speed is printed beside the results, so figures taken on different machines
# (or on one machine under other load) can be compared. Sets CALIBRATION.
calibrate() {
	local t0 t1
	t0=$(now)
	head -c 268435456 /dev/zero | sha256sum >/dev/null
	t1=$(now)
	CALIBRATION=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.0f MB/s", 256/(b-a)}')
	printf 'calibration: sha256sum of 256 MiB of zeros at %s (one core; %s cores, %s)\n' \
		"$CALIBRATION" "$(nproc)" "$(awk -F': ' '/^model name/{print $2; exit}' /proc/cpuinfo)"
}
