#!/usr/bin/env bash
# Extra CPU cost of running distributed vs all-in-one (issue 6, target <= 10%).
#   bench/cluster-cost.sh [RATE...] [DURATION]    default: 200 400, 20 s
# With two or more arguments the last one is the duration in seconds.
#
# For every rate, the same SIPp load as bench/cps.sh (trunk calls from
# 127.0.0.1 to extension 1000 of context [bench]: Answer(), Hangup(); the PBX
# sends the BYE) runs against
#   (a) all-in-one: `entvoice serve` on 127.0.0.1;
#   (b) distributed: `entvoice server` on 127.0.0.1 (API, hub) and
#       `entvoice node` on 127.0.0.2, enrolled with a node token, calls sent
#       to the node; the node's CDRs ship to central over the link.
# and prints the CPU of all entvoice processes (b: server + node summed, and
# the node alone), failed calls, and the ratio distributed / all-in-one.
# Two CPU figures per load:
#   cpu    % of one core over the steady window (1 s after SIPp starts to
#          1 s before its last call), as bench/cps.sh;
#   cpu_s  CPU seconds from SIPp's start until the last call is over and
#          (b) central has acknowledged every CDR of the load (the whole
#          cost of the load, CDR drain included), shown per 1,000 calls.
#
# Env: PG_DSN=postgres://user@host:port/db?sslmode=disable puts central's store
#      (serve's store in (a), server's in (b)) on PostgreSQL: a fresh database
#      evbench_<pid>_<n> per load is created through psql from that DSN and
#      dropped afterwards. Unset: SQLite in the run's data dirs. The node's own
#      store is always SQLite (as in production).
#      AMI=1 runs an AMI listener (one user, no client connected) in serve (a)
#      and in central (b), as a production central has: its AMI server
#      subscribes to the bus, so (a) builds channel snapshots for it and (b)
#      ships every node event to central. Default 0: AMI off in both, and in
#      (b) the node still ships its events (the link always subscribes).
#      KEEP=1, PPROF=1 (profiles of every process: serve, server, node),
#      ENTVOICE=path, BUILD=1 (see lib.sh). ORDER=ba runs (b) first.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

rates=(200 400)
dur=${DURATION:-20}
if (($# == 1)); then
	rates=("$1")
elif (($# > 1)); then
	rates=("${@:1:$#-1}")
	dur=${!#}
fi
PG_DSN=${PG_DSN:-}
ORDER=${ORDER:-ab}
AMI=${AMI:-0}
NODE_IP=127.0.0.2
ADMIN_TOKEN=bench-admin-token-0123456789abcdef
DBS=() # PostgreSQL databases created by this run

bench_init cluster

plan='[bench]
exten => 1000,1,Answer()
 same => n,Hangup()'

# ---- PostgreSQL: a fresh database per load -------------------------------

# pg_dsn_for NAME: PG_DSN with its database replaced by NAME.
pg_dsn_for() {
	python3 -c 'import sys, urllib.parse as u; p = u.urlsplit(sys.argv[1]); print(u.urlunsplit(p._replace(path="/" + sys.argv[2])))' "$PG_DSN" "$1"
}
pg_create() {
	local name=evbench_$$_${#DBS[@]}
	psql -q -v ON_ERROR_STOP=1 "$PG_DSN" -c "CREATE DATABASE $name" >/dev/null || die "psql: CREATE DATABASE $name failed"
	DBS+=("$name")
	DB_DSN=$(pg_dsn_for "$name")
}
pg_drop_all() {
	local d
	for d in "${DBS[@]}"; do
		psql -q "$PG_DSN" -c "DROP DATABASE IF EXISTS $d WITH (FORCE)" >/dev/null 2>&1 || log "could not drop database $d"
	done
	DBS=()
}
cc_cleanup() {
	local rc=$?
	set +e
	# stop the processes first (lib.sh's cleanup, in a subshell: it exits),
	# then drop their databases
	(cleanup)
	((${#DBS[@]} == 0)) || pg_drop_all
	exit "$rc"
}
trap cc_cleanup EXIT

# ---- processes ---------------------------------------------------------------

# pprof_env NAME: sets PP_ENV, the environment entry of a process profiled
# as NAME (PPROF=1).
PP_ADDRS=()
pprof_env() {
	PP_ENV=ENTVOICE_PPROF=
	if [[ $PPROF == 1 ]]; then
		local a
		a=127.0.0.1:$(free_udp_port)
		PP_ADDRS+=("$1=$a")
		mkdir -p "$PPROF_DIR"
		PP_ENV=ENTVOICE_PPROF=$a
	fi
}
# pprof_all TAG SECS: CPU profile of every profiled process over the window.
pprof_all() {
	[[ $PPROF == 1 ]] || return 0
	local e name addr
	for e in "${PP_ADDRS[@]}"; do
		name=${e%%=*} addr=${e#*=}
		python3 -c 'import sys, urllib.request; open(sys.argv[2], "wb").write(urllib.request.urlopen(sys.argv[1], timeout=int(sys.argv[3]) + 30).read())' \
			"http://$addr/debug/pprof/profile?seconds=$2" "$PPROF_DIR/$1-$name.cpu.pprof" "$2" 2>/dev/null &
		PIDS+=($!)
	done
	log "pprof: $PPROF_DIR/$1-*.cpu.pprof (go tool pprof -top $ENTVOICE FILE)"
}

# wait_tcp HOST PORT SECS
wait_tcp() {
	local i
	for ((i = 0; i < $3 * 10; i++)); do
		(exec 3<>"/dev/tcp/$1/$2") 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

# ami_yaml: the ami section of serve's and central's config (AMI knob).
ami_yaml() {
	if [[ $AMI == 1 ]]; then
		printf 'ami: {listen: "127.0.0.1:%s", users: [{name: bench, secret: bench-secret, read: all, write: all}]}\n' "$(free_udp_port --avoid "$EV_PORT" 1)"
	else
		printf 'ami: {listen: "off"}\n'
	fi
}

common_yaml() { # DIR: the keys a PBX (serve or node) shares with bench/lib.sh's config
	cat <<EOF
rtp: {ports: "20000-40000"}
data_dir: $1/data
sounds_dir: $1/sounds
dialplan: bench.conf
log: {level: warn}
shutdown: {grace: 2s}
trunks: [{name: loadgen, match: ["127.0.0.1/32"], context: bench}]
EOF
}

# start_allinone DIR: (a) `entvoice serve` on 127.0.0.1; sets EV_PID, PROCS.
start_allinone() {
	local dir=$1 api ports
	mkdir -p "$dir/data" "$dir/sounds/en"
	printf '%s\n' "$plan" >"$dir/bench.conf"
	mapfile -t ports < <(free_udp_port 1 1)
	EV_PORT=${ports[0]} api=${ports[1]}
	{
		printf 'sip: {listen: ["udp:127.0.0.1:%s"], flood_rate: 1000000, flood_burst: 2000000}\n' "$EV_PORT"
		printf 'database: {dsn: "%s"}\nhttp: {listen: "127.0.0.1:%s"}\n' "$DB_DSN" "$api"
		ami_yaml
		common_yaml "$dir"
	} >"$dir/config.yaml"
	EV_HOST=127.0.0.1
	pprof_env serve
	env "$PP_ENV" ENTVOICE_ADMIN_TOKEN=$ADMIN_TOKEN "$ENTVOICE" serve --config "$dir/config.yaml" >"$dir/entvoice.log" 2>&1 &
	EV_PID=$!
	PIDS+=("$EV_PID")
	PROCS=("$EV_PID")
	python3 "$BENCH_DIR/tools/sipping.py" "$EV_HOST" "$EV_PORT" 20 ||
		{ tail -20 "$dir/entvoice.log" >&2; die "serve did not answer OPTIONS on $EV_PORT"; }
}

# start_distributed DIR: (b) `entvoice server` on 127.0.0.1 and `entvoice
# node` on NODE_IP enrolled with a fresh token; sets EV_PID (the node),
# CENTRAL_PID, PROCS.
start_distributed() {
	local dir=$1 api hub tok i ports
	mkdir -p "$dir/central" "$dir/node/data" "$dir/node/sounds/en"
	printf '%s\n' "$plan" >"$dir/node/bench.conf"
	mapfile -t ports < <(free_udp_port 1 1 1)
	EV_PORT=${ports[0]} api=${ports[1]} hub=${ports[2]}
	cat >"$dir/central/central.yaml" <<EOF
data_dir: $dir/central/data
database: {dsn: "$DB_DSN"}
http: {listen: "127.0.0.1:$api"}
$(ami_yaml)
cluster: {listen: "127.0.0.1:$hub"}
log: {level: warn}
EOF
	pprof_env server
	env "$PP_ENV" ENTVOICE_ADMIN_TOKEN=$ADMIN_TOKEN "$ENTVOICE" server --config "$dir/central/central.yaml" >"$dir/central/entvoice.log" 2>&1 &
	CENTRAL_PID=$!
	PIDS+=("$CENTRAL_PID")
	wait_tcp 127.0.0.1 "$hub" 30 || { tail -20 "$dir/central/entvoice.log" >&2; die "entvoice server: no hub on $hub"; }
	tok=$("$ENTVOICE" node-token create --config "$dir/central/central.yaml" --name bench-node --allow "$NODE_IP/32" --ttl 1h 2>/dev/null) ||
		die "node-token create failed"
	{
		printf 'system_name: bench-node\n'
		printf 'sip: {listen: ["udp:%s:%s"], flood_rate: 1000000, flood_burst: 2000000}\n' "$NODE_IP" "$EV_PORT"
		printf 'ami: {listen: "off"}\ncluster: {bind: %s}\n' "$NODE_IP"
		common_yaml "$dir/node"
	} >"$dir/node/node.yaml"
	EV_HOST=$NODE_IP
	pprof_env node
	env "$PP_ENV" "$ENTVOICE" node --config "$dir/node/node.yaml" --join "https://127.0.0.1:$hub" --token "$tok" >"$dir/node/entvoice.log" 2>&1 &
	EV_PID=$!
	PIDS+=("$EV_PID")
	PROCS=("$CENTRAL_PID" "$EV_PID")
	python3 "$BENCH_DIR/tools/sipping.py" "$EV_HOST" "$EV_PORT" 20 ||
		{ tail -20 "$dir/node/entvoice.log" >&2; die "node did not answer OPTIONS on $NODE_IP:$EV_PORT"; }
	# linked: central has seen the node (last_seen set)
	for ((i = 0; i < 100; i++)); do
		"$ENTVOICE" node list --config "$dir/central/central.yaml" --json 2>/dev/null |
			python3 -c 'import json,sys; n=json.load(sys.stdin); sys.exit(0 if n and not n[0]["last_seen"].startswith("0001") else 1)' && return 0
		sleep 0.2
	done
	tail -20 "$dir/node/entvoice.log" >&2
	die "the node never linked to central"
}

# cdr_acked CENTRALYAML: central's cdr_acked of the node (its last CDR id acked).
cdr_acked() {
	"$ENTVOICE" node list --config "$1" --json 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["cdr_acked"])'
}

# ticks_of PIDS...: utime+stime of each, space separated (empty if one is gone).
ticks_of() {
	local p out=()
	for p in "$@"; do out+=("$(cpu_ticks "$p")"); done
	printf '%s\n' "${out[*]}"
}
# pct_of T0 T1 C0... C1...: % of one core per process over [T0,T1].
cpu_pct() { awk -v a="$1" -v b="$2" -v t0="$3" -v t1="$4" -v hz="$CLK_TCK" 'BEGIN{printf "%.1f", (b-a)/hz/(t1-t0)*100}'; }
cpu_secs() { awk -v a="$1" -v b="$2" -v hz="$CLK_TCK" 'BEGIN{printf "%.2f", (b-a)/hz}'; }

# run_load MODE RATE: one load; sets R_CPU (sum), R_NODE (node only, b),
# R_CPUS (CPU s, whole load), R_FAILED, R_OK; prints the result lines.
run_load() {
	local mode=$1 rate=$2
	local dir=$WORK/$1-$2 calls=$((rate * dur))
	local limit=$((rate * 6 * 2 + 100)) steady=$((dur > 4 ? dur - 2 : dur))
	DB_DSN=""
	[[ -n $PG_DSN ]] && pg_create
	PP_ADDRS=()
	EV_PORT=""
	if [[ $mode == a ]]; then start_allinone "$dir"; else start_distributed "$dir"; fi
	local c_all0 c_all1 t_all0 t_all1 w0 w1 tw0 tw1
	t_all0=$(now)
	read -ra c_all0 < <(ticks_of "${PROCS[@]}")
	sipp_start "$mode-$rate" "$rate" "$calls" "$limit" $((dur + 61)) 8 \
		-sf "$BENCH_DIR/scenarios/uac_pbx_hangup.xml" -s 1000 -recv_timeout 11000
	sleep 1
	tw0=$(now)
	read -ra w0 < <(ticks_of "${PROCS[@]}")
	pprof_all "$mode-$rate" "$steady"
	nap "$steady"
	tw1=$(now)
	read -ra w1 < <(ticks_of "${PROCS[@]}")
	sipp_wait
	local stat acked=n/a i created
	stat=$(sipp_final "${SIPP_STATS[@]}")
	created=$(kv created "$stat")
	if [[ $mode == b ]]; then
		# the load ends when central holds every CDR of the node
		for ((i = 0; i < 300; i++)); do
			acked=$(cdr_acked "$dir/central/central.yaml" || echo 0)
			((acked >= ${created:-0})) && break
			sleep 0.2
		done
	fi
	t_all1=$(now)
	read -ra c_all1 < <(ticks_of "${PROCS[@]}")
	local alive=running p
	for p in "${PROCS[@]}"; do kill -0 "$p" 2>/dev/null || alive=DIED; done
	local n=${#PROCS[@]} sw=0 sa=0 k
	for ((k = 0; k < n; k++)); do
		[[ -n ${w1[k]:-} && -n ${c_all1[k]:-} ]] || alive=DIED
		sw=$((sw + ${w1[k]:-0} - ${w0[k]:-0}))
		sa=$((sa + ${c_all1[k]:-0} - ${c_all0[k]:-0}))
	done
	R_CPU=$(cpu_pct 0 "$sw" "$tw0" "$tw1")
	R_CPUS=$(cpu_secs 0 "$sa")
	R_NODE=-
	R_CENTRAL=-
	if [[ $mode == b ]]; then
		R_NODE=$(cpu_pct "${w0[1]}" "${w1[1]:-0}" "$tw0" "$tw1")
		R_CENTRAL=$(cpu_pct "${w0[0]}" "${w1[0]:-0}" "$tw0" "$tw1")
	fi
	R_FAILED=$(kv failed "$stat")
	R_OK=$(kv success "$stat")
	local per1k
	per1k=$(awk -v s="$R_CPUS" -v c="$R_OK" 'BEGIN{if (c > 0) printf "%.3f", s/c*1000; else printf "-"}')
	R_PER1K=$per1k
	local label="all-in-one (serve)"
	[[ $mode == b ]] && label="distributed (server+node)"
	printf '%-26s offered=%d/s achieved=%s/s success=%s failed=%s cpu=%s' \
		"$label" "$rate" "$(kv rate "$stat")" "$R_OK" "$R_FAILED" "$(pct "$R_CPU")"
	[[ $mode == b ]] && printf ' (node %s, central %s)' "$(pct "$R_NODE")" "$(pct "$R_CENTRAL")"
	printf ' cpu_s=%s (%s s/1000 calls, %.1f s wall)' "$R_CPUS" "$per1k" "$(awk -v a="$t_all0" -v b="$t_all1" 'BEGIN{print b-a}')"
	[[ $mode == b ]] && printf ' cdr_acked=%s' "$acked"
	printf ' entvoice=%s\n' "$alive"
	printf '  sipp: %s rc=%s; CPU window %.1f s\n' "$stat" "$SIPP_RCS" "$(awk -v a="$tw0" -v b="$tw1" 'BEGIN{print b-a}')"
	printf '  cmd: %s\n' "$(sipp_cmdline)"
	if [[ $alive != running || $R_FAILED != 0 || $R_OK != "$calls" || ($mode == b && $acked != "$calls") ]]; then
		BAD=$((BAD + 1))
	fi
	if [[ $mode == a ]]; then
		ev_log_summary "$dir/entvoice.log"
		stop_pid "$EV_PID"
	else
		ev_log_summary "$dir/node/entvoice.log"
		EV_PID=$CENTRAL_PID ev_log_summary "$dir/central/entvoice.log"
		stop_pid "$EV_PID"
		stop_pid "$CENTRAL_PID"
	fi
	((${#DBS[@]} == 0)) || pg_drop_all
}

store=SQLite
[[ -n $PG_DSN ]] && store="PostgreSQL ($PG_DSN, a fresh database per load)"
amis="off"
[[ $AMI == 1 ]] && amis="on in serve and central (no client)"
log "cluster-cost: rates ${rates[*]} cps for $dur s each; central store: $store; AMI $amis; dialplan: Answer(), Hangup(); entvoice $ENTVOICE"
SUMMARY=()
for r in "${rates[@]}"; do
	declare -A cpu=() per=()
	for m in $(grep -o . <<<"$ORDER"); do
		run_load "$m" "$r"
		cpu[$m]=$R_CPU per[$m]=$R_PER1K
		[[ $m == b ]] && node_cpu=$R_NODE
	done
	SUMMARY+=("$(printf '%-6s %-10s %-10s %-10s %-12s %-12s %-12s %s' "$r/s" \
		"$(pct "${cpu[a]}")" "$(pct "${cpu[b]}")" "$(pct "$node_cpu")" \
		"$(awk -v a="${cpu[a]}" -v b="${cpu[b]}" 'BEGIN{if (a > 0) printf "%.2f", b/a; else print "-"}')" \
		"${per[a]}/${per[b]}" \
		"$(awk -v a="${per[a]}" -v b="${per[b]}" 'BEGIN{if (a > 0) printf "%.2f", b/a; else print "-"}')" \
		"$(awk -v a="${cpu[a]}" -v b="$node_cpu" 'BEGIN{if (a > 0) printf "%.2f", b/a; else print "-"}')")")
	unset cpu per
done
printf '\nrate   cpu(a)     cpu(b)     node(b)    ratio b/a    cpu_s/1k a/b  ratio b/a    node/a\n'
printf '%s\n' "${SUMMARY[@]}"
printf '(a) all-in-one serve; (b) server+node summed; cpu = %% of one core in the steady window; cpu_s/1k = CPU s per 1,000 calls over the whole load incl. CDR drain\n'
((BAD == 0))
