#!/usr/bin/env bash
# A PostgreSQL set with automatic failover on ONE machine, for trying it (and for the failover test):
# a pg_auto_failover monitor and two nodes (primary + synchronous standby), all on 127.0.0.1.
# Production runs each on its own machine with TLS and SCRAM (docs/operations-ha.md); this is loopback, trust auth.
#
#   pg-auto-failover-local.sh start DIR BASEPORT   monitor on BASEPORT, nodes on BASEPORT+1 and BASEPORT+2
#   pg-auto-failover-local.sh uri DIR              the hub's database URL (libpq multi-host, read-write target)
#   pg-auto-failover-local.sh state DIR            pg_auto_failover's view of the nodes
#   pg-auto-failover-local.sh primary DIR          the port of the current primary
#   pg-auto-failover-local.sh kill-primary DIR     SIGKILL the primary's keeper and its PostgreSQL (a lost machine)
#   pg-auto-failover-local.sh wait-primary DIR PORT [SECONDS]   until PORT is the writable primary
#   pg-auto-failover-local.sh stop DIR             stop everything
#
# Needs Debian's postgresql-15 and postgresql-15-auto-failover. Run as root (it switches to the postgres user) or as
# the user owning DIR. Debian package: postgresql-15-auto-failover; pg_autoctl refuses to run as root.
set -euo pipefail

PG_BIN=${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)}
DATABASE=hub
STATE_TIMEOUT_S=${STATE_TIMEOUT_S:-120}

die() { echo "pg-auto-failover-local.sh: $*" >&2; exit 1; }

owner_prefix() {
  # pg_autoctl and PostgreSQL refuse root: run as the postgres system user, with a private XDG layout in DIR.
  OWNER=()
  [ "$(id -u)" -ne 0 ] || OWNER=(runuser -u postgres --)
  OWNER+=(env PATH="$PG_BIN:/usr/bin:/bin" XDG_CONFIG_HOME="$DIR/xdg/config" XDG_DATA_HOME="$DIR/xdg/data"
          XDG_RUNTIME_DIR="$DIR/xdg/run")
}

as_owner() { owner_prefix; "${OWNER[@]}" "$@"; }

monitor_uri() { echo "postgres://autoctl_node@127.0.0.1:$(cat "$DIR/baseport")/pg_auto_failover"; }

state_json() { as_owner pg_autoctl show state --monitor "$(monitor_uri)" --json 2>/dev/null; }

node_state() {  # node_state PORT -> "reported assigned"
  state_json | python3 -c '
import json, sys
port = int(sys.argv[1])
for node in json.load(sys.stdin):
    if node["nodeport"] == port:
        print(node["current_group_state"], node["assigned_group_state"])' "$1"
}

wait_for() {  # wait_for SECONDS COMMAND...: until COMMAND succeeds
  local deadline=$((SECONDS + $1)); shift
  until "$@"; do
    [ "$SECONDS" -lt "$deadline" ] || return 1
    sleep 1
  done
}

is_state() { [ "$(node_state "$1" 2>/dev/null)" = "$2 $2" ]; }

writable() { as_owner "$PG_BIN/psql" -XAtq -h 127.0.0.1 -p "$1" -d "$DATABASE" -c "select not pg_is_in_recovery()" 2>/dev/null | grep -qx t; }

# A standby's base backup waits for a checkpoint on the primary (spread over minutes by default): ask for one.
checkpoint_until_secondary() {
  is_state "$2" secondary && return 0
  as_owner "$PG_BIN/psql" -XAtq -h 127.0.0.1 -p "$1" -d "$DATABASE" -c checkpoint >/dev/null 2>&1 || true
  return 1
}

start_keeper() {  # start_keeper NAME ARGS...: in its own process group, so that kill-primary takes it whole
  local name=$1; shift
  owner_prefix
  setsid "${OWNER[@]}" pg_autoctl "$@" --run >"$DIR/$name.log" 2>&1 &
  echo $! >"$DIR/$name.pid"  # setsid's pid is the group's id: kill -- -PID takes the keeper and its PostgreSQL
}

start() {
  local base=$1
  mkdir -p "$DIR/xdg/config" "$DIR/xdg/data" "$DIR/xdg/run"
  echo "$base" >"$DIR/baseport"
  [ "$(id -u)" -ne 0 ] || chown -R postgres:postgres "$DIR"
  local common=(--hostname 127.0.0.1 --listen 127.0.0.1 --auth trust --no-ssl)
  start_keeper monitor create monitor --pgdata "$DIR/monitor" --pgport "$base" "${common[@]}"
  wait_for "$STATE_TIMEOUT_S" as_owner "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$base" -d pg_auto_failover \
    || die "the monitor did not start (see $DIR/monitor.log)"
  wait_for "$STATE_TIMEOUT_S" state_json >/dev/null || die "the monitor does not answer (see $DIR/monitor.log)"
  for n in 1 2; do
    start_keeper "node$n" create postgres --pgdata "$DIR/node$n" --pgport $((base + n)) --dbname "$DATABASE" \
      --name "node$n" --monitor "$(monitor_uri)" "${common[@]}"
    if [ "$n" -eq 1 ]; then
      wait_for "$STATE_TIMEOUT_S" is_state $((base + 1)) single || die "node1 did not become primary (see $DIR/node1.log)"
    fi
  done
  wait_for "$STATE_TIMEOUT_S" checkpoint_until_secondary $((base + 1)) $((base + 2)) \
    || die "node2 did not become a standby (see $DIR/node2.log)"
  wait_for "$STATE_TIMEOUT_S" is_state $((base + 1)) primary || die "node1 is not primary with its standby"
  echo "ready: $(uri)"
}

uri() {
  local base; base=$(cat "$DIR/baseport")
  # The libpq multi-host form pg_autoctl prints too; the hub's storage/database.py reads it.
  echo "postgresql://postgres@127.0.0.1:$((base + 1)),127.0.0.1:$((base + 2))/$DATABASE?target_session_attrs=read-write"
}

primary() {
  local base; base=$(cat "$DIR/baseport")
  for port in $((base + 1)) $((base + 2)); do
    if writable "$port"; then echo "$port"; return 0; fi
  done
  return 1
}

kill_primary() {
  local port; port=$(primary) || die "no writable primary"
  local name="node$(( port - $(cat "$DIR/baseport") ))"
  kill -9 -- "-$(cat "$DIR/$name.pid")"
  echo "killed $name ($port)"
}

stop() {
  for name in node2 node1 monitor; do
    [ -f "$DIR/$name.pid" ] && kill -TERM -- "-$(cat "$DIR/$name.pid")" 2>/dev/null || true
  done
  sleep 2
  for name in node2 node1 monitor; do
    [ -f "$DIR/$name.pid" ] && kill -KILL -- "-$(cat "$DIR/$name.pid")" 2>/dev/null || true
  done
}

[ $# -ge 2 ] || die "usage: $0 start|uri|state|primary|kill-primary|wait-primary|stop DIR [...]"
action=$1
DIR=$(realpath -m "$2")
shift 2
case "$action" in
  start) [ $# -eq 1 ] || die "start DIR BASEPORT"; mkdir -p "$DIR"; start "$1" ;;
  uri) uri ;;
  state) as_owner pg_autoctl show state --monitor "$(monitor_uri)" ;;
  primary) primary ;;
  kill-primary) kill_primary ;;
  wait-primary) wait_for "${2:-$STATE_TIMEOUT_S}" writable "$1" || die "port $1 did not become a writable primary" ;;
  stop) stop ;;
  *) die "unknown action $action" ;;
esac
