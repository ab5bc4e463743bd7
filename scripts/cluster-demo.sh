#!/usr/bin/env bash
# A whole Izwi cluster on one machine, on loopback (docs/deploy.md,
# "A cluster on one machine"): a three-node NATS cluster (izwi bus serve,
# secured: TLS 1.3 on every link with certificates from izwi bus certs, and
# an NKey per role),
# PostgreSQL (Debian's, a private server in the demo directory), two
# gateways and a worker, each izwi process with its own data directory
# holding copies of the same secrets, as separate machines would.
#
#   scripts/cluster-demo.sh up      start it all in $IZWI_DEMO_DIR, print the URLs and an admin key
#   scripts/cluster-demo.sh down    stop what up started (SIGTERM, by the recorded pids)
#   scripts/cluster-demo.sh check   up, then prove it works, then down (make test-cluster)
#
# check: the bus refuses plain TCP; both gateways ready; a key made through gateway 1 works on gateway
# 2; revoked through gateway 1 it is refused by gateway 2; a NATS node is
# killed and a second revocation still reaches gateway 2; izwi audit verify
# passes over the chain all processes wrote.
#
# Environment: IZWI (the binary; default bin/izwi, built if missing),
# IZWI_DEMO_DIR (default a new /tmp/izwi-cluster.*), IZWI_DEMO_PORT_BASE
# (default 7400, check a random one: NATS clients BASE+1..3, routes BASE+11..13, gateways
# BASE+21,22 and worker BASE+23, their consoles BASE+31..33, PostgreSQL
# BASE+40), IZWI_DEMO_ENGINES=off to run without speech engines (check does).
set -euo pipefail
cd "$(dirname "$0")/.."

IZWI=${IZWI:-bin/izwi}
PG_BIN=/usr/lib/postgresql/15/bin
BASE=${IZWI_DEMO_PORT_BASE:-7400}
STATE=/tmp/izwi-cluster-demo.dir # where `down` finds the demo directory

die() { echo "cluster-demo: $*" >&2; exit 1; }

# as_pg runs a PostgreSQL tool as an unprivileged user (initdb refuses root).
as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u nobody -- "$@"; else "$@"; fi
}

# wait_for FILE PATTERN SECONDS: until a log line matches, or fail.
wait_for() {
  local file=$1 pattern=$2 deadline=$((SECONDS + $3))
  until grep -q "$pattern" "$file" 2>/dev/null; do
    if [ -f "${file%.log}.pid" ] && ! kill -0 "$(cat "${file%.log}.pid")" 2>/dev/null; then
      cat "$file" >&2; die "$file: the process exited"
    fi
    [ $SECONDS -lt $deadline ] || { cat "$file" >&2; die "$file: no $pattern within $3 s"; }
    sleep 0.2
  done
}

# start NAME CMD...: runs CMD in the background, logging to DIR/NAME.log.
start() {
  local name=$1; shift
  "$@" >"$DIR/$name.log" 2>&1 &
  echo $! >"$DIR/$name.pid"
}

env_for() { # the environment of the izwi process whose data dir is $1
  local role=gateway certs=$DIR/bus-certs
  [ "$1" = worker ] && role=worker
  echo "IZWI_DATA_DIR=$DIR/$1" "IZWI_DATABASE=$DSN" "IZWI_BUS_URL=$BUS_URL" \
    "IZWI_BUS_TLS_CA=$certs/ca.crt" "IZWI_BUS_TLS_CERT=$certs/$role.crt" "IZWI_BUS_TLS_KEY=$certs/$role.key" \
    "IZWI_BUS_NKEY_FILE=$certs/$role.nk" \
    "IZWI_AUDIT_CHECKPOINT_PATH=$DIR/shared/checkpoints" $ENGINES
}

settings() {
  DSN="postgres://izwi@/izwi?host=$DIR/pg&port=$((BASE + 40))"
  BUS_URL="nats://127.0.0.1:$((BASE + 1)),nats://127.0.0.1:$((BASE + 2)),nats://127.0.0.1:$((BASE + 3))"
  ENGINES=""
  if [ "${IZWI_DEMO_ENGINES:-}" = off ]; then
    ENGINES="IZWI_ASR_ENGINE=off IZWI_TRANSCRIBE_ENGINE=off IZWI_TTS_ENGINE=off IZWI_VAD_ENGINE=off IZWI_SPEAKER_ENGINE=off"
  fi
}

up() {
  [ -x "$IZWI" ] || make build >/dev/null
  [ -x "$PG_BIN/initdb" ] || die "PostgreSQL 15 is missing: apt-get install -y postgresql (scripts/setup.sh)"
  DIR=${IZWI_DEMO_DIR:-$(mktemp -d /tmp/izwi-cluster.XXXXXX)}
  mkdir -p "$DIR" && chmod 0755 "$DIR" # PostgreSQL's user must reach its socket dir
  DIR=$(cd "$DIR" && pwd)
  echo "$DIR" >"$STATE"
  settings

  # PostgreSQL: a private server, listening only on a socket in $DIR/pg.
  mkdir -p "$DIR/pg"
  [ "$(id -u)" = 0 ] && chown nobody:nogroup "$DIR/pg"
  as_pg "$PG_BIN/initdb" -D "$DIR/pg/data" -U izwi --auth=trust >"$DIR/initdb.log"
  as_pg "$PG_BIN/pg_ctl" -D "$DIR/pg/data" -l "$DIR/pg/postgres.log" -w \
    -o "-k $DIR/pg -c listen_addresses= -p $((BASE + 40))" start >/dev/null
  "$PG_BIN/createdb" -h "$DIR/pg" -p $((BASE + 40)) -U izwi izwi

  # The bus's CA, certificates and NKeys (on machines: copy ca.crt, node.*
  # and users.json to each node, ca.crt and a role's .crt/.key/.nk to each
  # izwi process, and ca.key nowhere).
  "$IZWI" bus certs --hosts 127.0.0.1,localhost "$DIR/bus-certs" >/dev/null
  local c=$DIR/bus-certs

  # Three NATS nodes with JetStream, each its own process and store.
  local routes="127.0.0.1:$((BASE + 11)),127.0.0.1:$((BASE + 12)),127.0.0.1:$((BASE + 13))"
  for i in 1 2 3; do
    start "nats$i" "$IZWI" bus serve --name "n$i" --listen "127.0.0.1:$((BASE + i))" \
      --cluster "127.0.0.1:$((BASE + 10 + i))" --routes "$routes" --store-dir "$DIR/nats$i" \
      --tls-ca "$c/ca.crt" --tls-cert "$c/node.crt" --tls-key "$c/node.key" --users "$c/users.json"
  done
  for i in 1 2 3; do wait_for "$DIR/nats$i.log" '"bus node ready"' 60; done

  # Secrets: made once (the first key creation makes the pepper, the
  # audit signing key and the vault key), then copied to each process's
  # data directory, as you would copy them to each machine.
  mkdir -p "$DIR/shared" && chmod 0700 "$DIR/shared"
  env $(env_for gw1) "$IZWI" keys create --name ops --scopes admin >"$DIR/admin.key" 2>"$DIR/keys.log"
  cp -a "$DIR/gw1" "$DIR/gw2" && cp -a "$DIR/gw1" "$DIR/worker"

  # Gateways and a worker. With `izwi serve --role` (issue 13) each runs
  # its role; before it, each runs everything (--role all is the default).
  local gw_role="" worker_role=""
  local usage; usage=$("$IZWI" serve -h 2>&1 || true)
  case "$usage" in *-role*) gw_role="--role gateway" worker_role="--role worker" ;; esac
  # One after the other, so each one's log shows it joined a running
  # cluster (a process starting beside another's fresh appends waits for
  # their checkpoint: docs/deploy.md).
  local n=1
  for p in gw1 gw2 worker; do
    local role=$gw_role
    [ "$p" = worker ] && role=$worker_role
    start "$p" env $(env_for "$p") "$IZWI" serve $role --listen "127.0.0.1:$((BASE + 20 + n))" \
      --admin-listen "127.0.0.1:$((BASE + 30 + n))"
    wait_for "$DIR/$p.log" '"msg":"listening"' 120
    n=$((n + 1))
  done
  cat <<EOF
cluster-demo: up in $DIR
  gateways   http://127.0.0.1:$((BASE + 21))  http://127.0.0.1:$((BASE + 22))
  worker     http://127.0.0.1:$((BASE + 23))
  NATS       $BUS_URL
  PostgreSQL $DSN
  admin key  $DIR/admin.key   (logs: $DIR/*.log; stop: scripts/cluster-demo.sh down)
EOF
}

down() {
  DIR=${IZWI_DEMO_DIR:-$(cat "$STATE" 2>/dev/null || true)}
  [ -n "$DIR" ] && [ -d "$DIR" ] || die "no demo directory (set IZWI_DEMO_DIR)"
  # izwi processes first, then the bus and the database they use.
  stop gw1 gw2 worker nats1 nats2 nats3
  [ -f "$DIR/pg/data/postmaster.pid" ] && as_pg "$PG_BIN/pg_ctl" -D "$DIR/pg/data" -m fast -w stop >/dev/null
  rm -f "$STATE"
}

# stop NAME...: SIGTERM the recorded processes and wait for each.
stop() {
  for p in "$@"; do
    [ -f "$DIR/$p.pid" ] || continue
    local pid; pid=$(cat "$DIR/$p.pid")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    rm -f "$DIR/$p.pid"
  done
}

# status URL [KEY]: the HTTP status of a GET, authenticated when KEY is given.
status() {
  if [ -n "${2:-}" ]; then
    curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $2" "$1"
  else
    curl -s -o /dev/null -w '%{http_code}' "$1"
  fi
}

# until_status CODE URL KEY: poll (5 s) until the status is CODE.
until_status() {
  local deadline=$((SECONDS + 5)) got
  while :; do
    got=$(status "$2" "$3")
    [ "$got" = "$1" ] && return 0
    [ $SECONDS -lt $deadline ] || die "$2: status $got, want $1"
    sleep 0.1
  done
}

check() {
  IZWI_DEMO_ENGINES=${IZWI_DEMO_ENGINES:-off}
  # Private ports unless told: check may run beside a demo or other tests.
  BASE=${IZWI_DEMO_PORT_BASE:-$((20000 + RANDOM % 12000))} # below the ephemeral ports
  trap 'down' EXIT
  up
  local gw1="http://127.0.0.1:$((BASE + 21))" gw2="http://127.0.0.1:$((BASE + 22))" admin
  admin=$(cat "$DIR/admin.key")
  for g in "$gw1" "$gw2"; do until_status 200 "$g/readyz" ""; done
  # The bus speaks only TLS: a plain client's CONNECT gets no PONG.
  local reply
  exec 3<>"/dev/tcp/127.0.0.1/$((BASE + 1))"
  IFS= read -r -t 5 reply <&3 || true
  case "$reply" in *'"tls_required":true'*) ;; *) die "bus node 1 does not require TLS: $reply" ;; esac
  printf 'CONNECT {}\r\nPING\r\n' >&3 || true
  reply=$(timeout 5 cat <&3 || true)
  exec 3<&-
  case "$reply" in *PONG*) die "bus node 1 answered a plain client" ;; esac
  echo "cluster-demo: the bus refuses plain TCP; gateways and the worker joined it with TLS and their NKeys"

  mkkey() {
    curl -sf -H "Authorization: Bearer $admin" -H 'Content-Type: application/json' \
      -d "{\"name\":\"$1\",\"scopes\":[\"asr.read\"]}" "$gw1/v1/keys" | jq -r .secret
  }
  revoke() { curl -sf -o /dev/null -X DELETE -H "Authorization: Bearer $admin" "$gw1/v1/keys/${1:4:12}"; }

  local k1 k2
  k1=$(mkkey demo1) && k2=$(mkkey demo2)
  until_status 200 "$gw2/v1/usage" "$k1"
  until_status 200 "$gw2/v1/usage" "$k2"
  revoke "$k1"
  until_status 401 "$gw2/v1/usage" "$k1"
  echo "cluster-demo: a key revoked through gateway 1 is refused by gateway 2"

  kill "$(cat "$DIR/nats1.pid")" && rm "$DIR/nats1.pid"
  revoke "$k2"
  until_status 401 "$gw2/v1/usage" "$k2"
  until_status 200 "$gw2/readyz" ""
  echo "cluster-demo: with a NATS node down, the cluster still carries revocations"

  stop gw1 gw2 worker
  env $(env_for gw1) "$IZWI" audit verify >/dev/null || die "izwi audit verify failed"
  echo "cluster-demo: the audit chain three processes wrote verifies; check passed"
  trap - EXIT
  down
  [ -n "${IZWI_DEMO_DIR:-}" ] || rm -rf "$DIR" # a failed check leaves its logs
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  check) check ;;
  *) echo "usage: scripts/cluster-demo.sh up|down|check" >&2; exit 2 ;;
esac
