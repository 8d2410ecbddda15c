#!/usr/bin/env bash
# One central server and two PBX nodes on one machine (loopback addresses):
#   central  `entvoice server`  127.0.0.1: API 8080, node hub 7443, AMI 5038
#   site-a   `entvoice node`    SIP 127.0.0.2:5060 (UDP and TCP)
#   site-b   `entvoice node`    SIP 127.0.0.3:5060 (UDP and TCP)
# with users 1001 and 1002 (made through central's CLI) and an extension row
# _100X => Dial(PJSIP/${EXTEN},20) that every node receives over its link.
# Everything lives in ./cluster-demo/ (configs, data dirs, logs, admin
# token); a second run reuses it: no re-enrolment, no duplicate rows.
# Ctrl-C stops all three. Env: SETUP=0 skips scripts/setup.sh (already run).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
if [[ ${SETUP:-1} != 0 ]]; then
	./scripts/setup.sh
else
	command -v go >/dev/null 2>&1 || export PATH=/usr/local/go/bin:$PATH
	go build -o bin/entvoice ./cmd/entvoice
fi
EV=$ROOT/bin/entvoice
W=$ROOT/cluster-demo
mkdir -p "$W/central" "$W/site-a" "$W/site-b"

say() { printf 'cluster-demo: %s\n' "$*"; }
die() {
	printf 'cluster-demo: %s\n' "$*" >&2
	exit 1
}

# ---- secrets, created once -------------------------------------------------
[[ -s $W/admin-token ]] || (umask 077 && head -c 24 /dev/urandom | base64 | tr '+/' '-_' >"$W/admin-token")
[[ -s $W/ami-secret ]] || (umask 077 && head -c 12 /dev/urandom | base64 | tr '+/' '-_' >"$W/ami-secret")
TOKEN=$(cat "$W/admin-token")
AMI_SECRET=$(cat "$W/ami-secret")
PASS_1001=demo-pass-1001
PASS_1002=demo-pass-1002

# ---- loopback addresses: Linux routes all of 127/8 to lo; elsewhere add them.
for ip in 127.0.0.2 127.0.0.3; do
	python3 -c 'import socket, sys; s = socket.socket(); s.bind((sys.argv[1], 0))' "$ip" 2>/dev/null ||
		die "cannot bind $ip; add it to the loopback interface (e.g. 'sudo ip addr add $ip/8 dev lo', macOS: 'sudo ifconfig lo0 alias $ip')"
done
for addr in 127.0.0.1:8080 127.0.0.1:7443 127.0.0.1:5038 127.0.0.2:5060 127.0.0.3:5060; do
	if (exec 3<>"/dev/tcp/${addr%:*}/${addr#*:}") 2>/dev/null; then
		die "$addr is already in use (another entvoice, e.g. scripts/demo.sh or a previous cluster-demo still running?)"
	fi
done

# ---- configuration files (rewritten on every run; data dirs kept) -----------
cat >"$W/central/central.yaml" <<EOF
# entvoice server: API, provisioning, node hub and the cluster-wide AMI.
data_dir: $W/central/data
database: {dsn: ""}            # SQLite in data_dir; a postgres:// DSN for PostgreSQL
http: {listen: "127.0.0.1:8080"}
ami:
  listen: "127.0.0.1:5038"
  users: [{name: admin, secret: "$AMI_SECRET", read: all, write: all}]
cluster: {listen: "127.0.0.1:7443"}
log: {level: info}
EOF
node_yaml() { # NAME IP RTP_RANGE
	cat <<EOF
# entvoice node $1: SIP on $2, configuration and users from central.
system_name: $1
sip: {listen: ["udp:$2:5060", "tcp:$2:5060"]}
rtp: {ports: "$3"}
data_dir: $W/$1/data
ami: {listen: "off"}           # one AMI for every node: central's (127.0.0.1:5038)
cluster: {bind: $2}            # dial central from $2, the address its token allows
log: {level: info}
EOF
}
node_yaml site-a 127.0.0.2 20000-29999 >"$W/site-a/node.yaml"
node_yaml site-b 127.0.0.3 30000-39999 >"$W/site-b/node.yaml"

# ---- processes ----------------------------------------------------------------
CENTRAL_PID="" NODE_A_PID="" NODE_B_PID=""
stop_all() { # EXIT_CODE
	local rc=${1:-0}
	trap - INT TERM EXIT
	say "stopping"
	local p
	for p in $NODE_A_PID $NODE_B_PID $CENTRAL_PID; do
		kill -TERM "$p" 2>/dev/null || true
	done
	for p in $NODE_A_PID $NODE_B_PID $CENTRAL_PID; do
		wait "$p" 2>/dev/null || true
	done
	say "stopped; data kept in $W (run again to restart, rm -rf $W to start afresh)"
	exit "$rc"
}
trap 'stop_all 0' INT TERM
trap 'stop_all $?' EXIT

# "default" is the tenant of static YAML users and of a PBX without tenants
# (docs/realtime.md): the demo uses no hosted tenant.
export ENTVOICE_SERVER=http://127.0.0.1:8080 ENTVOICE_TOKEN=$TOKEN ENTVOICE_TENANT=default

start_central() {
	ENTVOICE_ADMIN_TOKEN=$TOKEN "$EV" server --config "$W/central/central.yaml" >>"$W/central/central.log" 2>&1 &
	CENTRAL_PID=$!
	local i
	for ((i = 0; i < 150; i++)); do
		"$EV" tenant list >/dev/null 2>&1 && return 0
		kill -0 "$CENTRAL_PID" 2>/dev/null || break
		sleep 0.2
	done
	tail -20 "$W/central/central.log" >&2
	die "central did not start (log: $W/central/central.log)"
}

# start_node NAME IP: enrols the node the first time (a one-time token from
# central, allowed from IP only), then runs it; later runs reuse its
# certificate in data/cluster.
start_node() {
	local name=$1 ip=$2 join=()
	if [[ ! -s $W/$name/data/cluster/node.crt ]]; then
		local tok
		tok=$("$EV" node-token create --config "$W/central/central.yaml" --name "$name" --allow "$ip/32" --ttl 1h 2>/dev/null) ||
			die "node-token create for $name failed"
		join=(--join https://127.0.0.1:7443 --token "$tok")
		say "enrolling $name from $ip with a one-time token"
	fi
	"$EV" node --config "$W/$name/node.yaml" "${join[@]}" >>"$W/$name/node.log" 2>&1 &
	local pid=$!
	if [[ $name == site-a ]]; then NODE_A_PID=$pid; else NODE_B_PID=$pid; fi
	local i
	for ((i = 0; i < 150; i++)); do
		grep -q "linked to central" "$W/$name/node.log" 2>/dev/null && return 0
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.2
	done
	tail -20 "$W/$name/node.log" >&2
	die "$name did not link to central (log: $W/$name/node.log)"
}

# Fresh logs for this run (the previous run's are kept as *.prev): a node
# is up when its log says "linked to central".
for f in central/central.log site-a/node.log site-b/node.log; do
	if [[ -f $W/$f ]]; then mv -f "$W/$f" "$W/$f.prev"; fi
done
start_central
say "central running (pid $CENTRAL_PID)"
start_node site-a 127.0.0.2
start_node site-b 127.0.0.3

# ---- the demo's users and dialplan, through central's API (once) ------------
ensure_user() { # NAME PASSWORD
	"$EV" user get "$1" >/dev/null 2>&1 && return 0
	"$EV" user create "$1" --password "$2" --context internal --callerid "\"User $1\" <$1>" >/dev/null
	say "created user $1"
}
ensure_ext() { # EXTEN PRIORITY APP [APPDATA]
	"$EV" ext list --context internal -o json 2>/dev/null |
		python3 -c 'import json, sys
rows = json.load(sys.stdin)
rows = rows.get("items", rows) if isinstance(rows, dict) else rows
sys.exit(0 if any(r.get("exten") == sys.argv[1] and int(r.get("priority", 0)) == int(sys.argv[2]) for r in rows) else 1)' "$1" "$2" && return 0
	local data=()
	[[ $# -ge 4 ]] && data=(--appdata "$4")
	"$EV" ext add --context internal --exten "$1" --priority "$2" --app "$3" "${data[@]}" >/dev/null
	say "added extension $1,$2,$3${4:+($4)}"
}
ensure_user 1001 "$PASS_1001"
ensure_user 1002 "$PASS_1002"
# Dialling 1001 or 1002 from any node rings that user's phone.
ensure_ext _100X 1 Dial 'PJSIP/${EXTEN},20'
ensure_ext _100X 2 Hangup
# 600: echo test, answered by the node the phone is on.
ensure_ext 600 1 Answer
ensure_ext 600 2 Echo

cat <<EOF

================================================================================
 entVoice cluster demo: one central server and two nodes on this machine
================================================================================
 central   pid $CENTRAL_PID   API http://127.0.0.1:8080/api/v1, node hub 127.0.0.1:7443,
                      AMI 127.0.0.1:5038 (admin / $AMI_SECRET)
 site-a    pid $NODE_A_PID   SIP 127.0.0.2:5060 (UDP, TCP)
 site-b    pid $NODE_B_PID   SIP 127.0.0.3:5060 (UDP, TCP)

 Phones (realm entvoice):
   1001 / $PASS_1001  -> register with node A: server/registrar 127.0.0.2:5060
   1002 / $PASS_1002  -> register with node B: server/registrar 127.0.0.3:5060
   dial 1001 or 1002 (Dial(PJSIP/\${EXTEN},20)), 600 for an echo test

 CLI and API against central (in another shell):
   export ENTVOICE_SERVER=http://127.0.0.1:8080 ENTVOICE_TENANT=default ENTVOICE_TOKEN=\$(cat $W/admin-token)
   bin/entvoice cdr list                         # every node's CDRs, shipped to central
   curl -s -H "Authorization: Bearer \$ENTVOICE_TOKEN" http://127.0.0.1:8080/api/v1/cdrs
   bin/entvoice node list --config $W/central/central.yaml
   bin/entvoice user create 1003 --password pw-1003-secret --context internal   # reaches both nodes

 Survivability: kill central as a crash would:
   kill -9 $CENTRAL_PID
 The nodes keep registering phones and routing calls; their CDRs wait in
 each node's store. Bring central back: press Enter here (or kill -USR1 $$);
 the nodes relink and ship the CDRs of the outage, once each.

 Logs: $W/central/central.log, $W/site-a/node.log, $W/site-b/node.log
 Ctrl-C stops all three (data kept in $W; run again to restart).
================================================================================
EOF

restart_central() {
	if kill -0 "$CENTRAL_PID" 2>/dev/null; then
		say "central is running (pid $CENTRAL_PID)"
		return 0
	fi
	wait "$CENTRAL_PID" 2>/dev/null || true
	start_central
	say "central is back (pid $CENTRAL_PID; kill -9 $CENTRAL_PID to stop it again)"
}
RESTART=0
trap 'RESTART=1' USR1
down_said=""
while true; do
	if ! kill -0 "$NODE_A_PID" 2>/dev/null || ! kill -0 "$NODE_B_PID" 2>/dev/null; then
		say "a node exited; see $W/site-a/node.log and $W/site-b/node.log"
		stop_all 1
	fi
	if ! kill -0 "$CENTRAL_PID" 2>/dev/null && [[ $down_said != "$CENTRAL_PID" ]]; then
		down_said=$CENTRAL_PID
		say "central (pid $CENTRAL_PID) is down; the nodes keep serving. Press Enter (or kill -USR1 $$) to start it again"
	fi
	if [[ -t 0 ]]; then
		if read -r -t 1 _; then RESTART=1; fi
	else
		sleep 1 &
		wait $! || true
	fi
	if ((RESTART)); then
		RESTART=0
		restart_central
	fi
done
