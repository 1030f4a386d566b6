#!/usr/bin/env bash
# Installs (when missing) and starts the real infrastructure Tijori's tests and
# `make bench` run on: MariaDB, Redis, Apache Kafka (KRaft) and an SMTP server
# that keeps what it receives. Idempotent: a part that is already up is left alone.
#
#   infra/up.sh [mariadb] [redis] [kafka] [smtp] [chromium] [newman]   (no argument: all)
#
# State lives under $TIJORI_INFRA_DIR (default: .infra/ in the repository).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STATE="${TIJORI_INFRA_DIR:-$ROOT/.infra}"
PYTHON="${TIJORI_PYTHON:-$ROOT/.venv/bin/python}"
MYSQL_PORT=3306
REDIS_PORT=6379
KAFKA_PORT=9092
SMTP_PORT=2525
mkdir -p "$STATE/log"

say() { printf '\033[1m[infra]\033[0m %s\n' "$*"; }
die() { printf '\033[31m[infra] %s\033[0m\n' "$*" >&2; exit 1; }
timer_start() { T0=$EPOCHREALTIME; }
timer_end() { awk "BEGIN { printf \"%.1fs\", $EPOCHREALTIME - $T0 }"; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# wait_for SECONDS DESCRIPTION LOGFILE COMMAND...: polls COMMAND until it succeeds.
wait_for() {
  local seconds=$1 what=$2 log=$3; shift 3
  local deadline=$((SECONDS + seconds))
  until "$@" >/dev/null 2>&1; do
    if ((SECONDS >= deadline)); then
      [ -f "$log" ] && tail -n 30 "$log" >&2
      die "$what did not become ready within ${seconds}s (log: $log)"
    fi
    sleep 0.3
  done
}

apt_install() {
  local missing=()
  for pkg in "$@"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  say "installing ${missing[*]} (apt-get)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >"$STATE/log/apt.log" 2>&1 || die "apt-get update failed (see $STATE/log/apt.log)"
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >>"$STATE/log/apt.log" 2>&1 \
    || die "apt-get install ${missing[*]} failed (see $STATE/log/apt.log)"
}

mariadb_ping() { mariadb-admin --protocol=socket ping; }

up_mariadb() {
  timer_start
  command -v mariadbd >/dev/null || apt_install mariadb-server mariadb-client
  if ! mariadb_ping >/dev/null 2>&1; then
    mkdir -p /run/mysqld && chown mysql:mysql /run/mysqld
    [ -d /var/lib/mysql/mysql ] || mariadb-install-db --user=mysql --datadir=/var/lib/mysql >"$STATE/log/mariadb-install.log" 2>&1
    # no systemd here: run the server in the background ourselves
    setsid nohup mariadbd-safe --user=mysql --bind-address=127.0.0.1 --port=$MYSQL_PORT \
      --innodb-buffer-pool-size=512M --max-connections=500 \
      >"$STATE/log/mariadb.log" 2>&1 &
    wait_for 60 MariaDB "$STATE/log/mariadb.log" mariadb_ping
  fi
  # Debian's root logs in over the Unix socket only; the services use their own account over TCP.
  mariadb --protocol=socket -e "
    CREATE USER IF NOT EXISTS 'tijori'@'127.0.0.1' IDENTIFIED BY 'tijori';
    CREATE USER IF NOT EXISTS 'tijori'@'localhost' IDENTIFIED BY 'tijori';
    GRANT ALL PRIVILEGES ON \`tijori%\`.* TO 'tijori'@'127.0.0.1';
    GRANT ALL PRIVILEGES ON \`tijori%\`.* TO 'tijori'@'localhost';" \
    || die "could not create the tijori MariaDB account"
  wait_for 30 "MariaDB on 127.0.0.1:$MYSQL_PORT" "$STATE/log/mariadb.log" port_open $MYSQL_PORT
  say "MariaDB ready on 127.0.0.1:$MYSQL_PORT ($(timer_end))"
}

up_redis() {
  timer_start
  command -v redis-server >/dev/null || apt_install redis-server
  if ! redis-cli -p $REDIS_PORT ping 2>/dev/null | grep -q PONG; then
    redis-server --bind 127.0.0.1 --port $REDIS_PORT --daemonize yes --save '' --appendonly no \
      --logfile "$STATE/log/redis.log" --dir "$STATE" || die "redis-server failed to start"
    wait_for 20 Redis "$STATE/log/redis.log" sh -c "redis-cli -p $REDIS_PORT ping | grep -q PONG"
  fi
  say "Redis ready on 127.0.0.1:$REDIS_PORT ($(timer_end))"
}

# the port opens before the broker has registered itself; a metadata request proves it serves
kafka_ready() {
  "$PYTHON" - "127.0.0.1:$KAFKA_PORT" <<'PY'
import asyncio, sys
from aiokafka.admin import AIOKafkaAdminClient

async def main() -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=sys.argv[1], request_timeout_ms=3000)
    await admin.start()
    try:
        await admin.list_topics()
    finally:
        await admin.close()

asyncio.run(main())
PY
}

up_kafka() {
  timer_start
  local libs="$STATE/kafka/libs" data="$STATE/kafka/data" conf="$STATE/kafka/server.properties"
  command -v java >/dev/null || apt_install openjdk-17-jre-headless
  if ! port_open $KAFKA_PORT; then
    if [ ! -f "$libs/.complete" ]; then
      command -v mvn >/dev/null || apt_install maven
      say "fetching the Apache Kafka jars from Maven Central (mvn)"
      mvn -q -B -f "$ROOT/infra/kafka/pom.xml" dependency:copy-dependencies \
        -DoutputDirectory="$libs" -DincludeScope=runtime >"$STATE/log/mvn.log" 2>&1 \
        || { tail -n 30 "$STATE/log/mvn.log" >&2; die "mvn could not fetch the Kafka jars"; }
      touch "$libs/.complete"
    fi
    mkdir -p "$data"
    { cat "$ROOT/infra/kafka/server.properties"; echo "log.dirs=$data"; } >"$conf"
    local java_opts=(-Xms256m -Xmx768m -XX:+UseG1GC -Djava.awt.headless=true
      "-Dlog4j2.configurationFile=$ROOT/infra/kafka/log4j2.yaml" -cp "$libs/*")
    if [ ! -f "$data/meta.properties" ]; then
      local cluster_id
      cluster_id=$(java "${java_opts[@]}" kafka.tools.StorageTool random-uuid)
      java "${java_opts[@]}" kafka.tools.StorageTool format -t "$cluster_id" -c "$conf" \
        >"$STATE/log/kafka-format.log" 2>&1 || die "formatting Kafka storage failed (see $STATE/log/kafka-format.log)"
    fi
    setsid nohup java "${java_opts[@]}" kafka.Kafka "$conf" >"$STATE/log/kafka.log" 2>&1 &
    echo $! >"$STATE/kafka/pid"
  fi
  wait_for 90 "Apache Kafka" "$STATE/log/kafka.log" kafka_ready
  say "Apache Kafka ready on 127.0.0.1:$KAFKA_PORT ($(timer_end))"
}

port_closed() { ! port_open "$1"; }

up_smtp() {
  timer_start
  # one on the port already, started by another checkout: its messages go to that
  # checkout's Maildir, and this one's tests would wait for mail that never comes
  local running mailbox
  running=$(command -v pgrep >/dev/null && pgrep -f "aiosmtpd -n -l 127.0.0.1:$SMTP_PORT" | head -n 1) || true
  if [ -n "$running" ]; then
    mailbox=$(tr '\0' '\n' <"/proc/$running/cmdline" | tail -n 1)
    if [ "$mailbox" != "$STATE/mail" ]; then
      say "the SMTP server on 127.0.0.1:$SMTP_PORT writes to $mailbox: restarting it for this checkout"
      kill "$running"
      wait_for 10 "the other SMTP server's exit" "$STATE/log/smtp.log" port_closed $SMTP_PORT
    fi
  fi
  if ! port_open $SMTP_PORT; then
    mkdir -p "$STATE/mail"/{cur,new,tmp}
    # aiosmtpd's Mailbox handler keeps every message it accepts in a Maildir the tests read
    setsid nohup "$PYTHON" -m aiosmtpd -n -l "127.0.0.1:$SMTP_PORT" -c aiosmtpd.handlers.Mailbox "$STATE/mail" \
      >"$STATE/log/smtp.log" 2>&1 &
    wait_for 20 "SMTP server" "$STATE/log/smtp.log" port_open $SMTP_PORT
  fi
  say "SMTP server ready on 127.0.0.1:$SMTP_PORT, mailbox $STATE/mail ($(timer_end))"
}

# not a server: the browser the web client's tests drive (Playwright never downloads one here)
up_chromium() {
  timer_start
  [ -x /usr/bin/chromium ] || apt_install chromium fonts-noto-core
  say "Chromium ready at /usr/bin/chromium ($(timer_end))"
}

# not a server either: newman runs the Postman collection
up_newman() {
  timer_start
  command -v npm >/dev/null || apt_install nodejs npm
  if [ ! -x "$ROOT/postman/node_modules/.bin/newman" ]; then
    (cd "$ROOT/postman" && npm ci --silent --no-audit --no-fund >"$STATE/log/npm.log" 2>&1) \
      || { tail -n 20 "$STATE/log/npm.log" >&2; die "npm ci (newman) failed"; }
  fi
  say "newman ready ($(timer_end))"
}

[ -x "$PYTHON" ] || die "no Python environment at $PYTHON: run 'make install' first"
parts=("$@")
[ ${#parts[@]} -eq 0 ] && parts=(mariadb redis kafka smtp chromium newman)
for part in "${parts[@]}"; do
  case "$part" in
    mariadb | redis | kafka | smtp | chromium | newman) "up_$part" ;;
    *) die "unknown part '$part' (mariadb, redis, kafka, smtp, chromium, newman)" ;;
  esac
done
