#!/usr/bin/env bash
# Starts a local PostgreSQL for the test suite and prints its URL on the last line of stdout:
#   export TEST_DATABASE_URL=$(bash scripts/postgres.sh | tail -n 1)
# Debian's `postgresql` package (installed with apt-get when missing, as root), its default cluster
# started with pg_ctlcluster, a password for the postgres role so tests connect over TCP on
# 127.0.0.1, and a database `gateway_test` (the tests create a database of their own per run).
set -euo pipefail

PASSWORD="${TEST_PG_PASSWORD:-postgres}"

as_postgres() {
  if [ "$(id -u)" = "0" ]; then su postgres -c "$1"; else sudo -u postgres sh -c "$1"; fi
}

if ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
  if [ "$(id -u)" != "0" ]; then
    echo "postgresql is not installed and this is not root: install Debian's postgresql package" >&2
    exit 1
  fi
  echo "installing postgresql (apt-get)…" >&2
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
fi

VERSION=$(ls /usr/lib/postgresql | sort -V | tail -n 1)
if ! pg_lsclusters -h 2>/dev/null | awk '{print $1, $2}' | grep -q "^$VERSION main$"; then
  pg_createcluster "$VERSION" main >&2
fi
if ! pg_lsclusters -h | awk -v v="$VERSION" '$1 == v && $2 == "main" {print $4}' | grep -q online; then
  pg_ctlcluster --skip-systemctl-redirect "$VERSION" main start >&2
fi
PORT=$(pg_lsclusters -h | awk -v v="$VERSION" '$1 == v && $2 == "main" {print $3}')

# Wait until it accepts connections (a fresh start takes a moment).
for _ in $(seq 1 50); do
  if as_postgres "psql -p $PORT -qAtc 'SELECT 1'" >/dev/null 2>&1; then break; fi
  sleep 0.2
done
as_postgres "psql -p $PORT -qAtc \"ALTER USER postgres PASSWORD '$PASSWORD'\"" >/dev/null
if ! as_postgres "psql -p $PORT -qAtc \"SELECT 1 FROM pg_database WHERE datname = 'gateway_test'\"" | grep -q 1; then
  as_postgres "psql -p $PORT -qAtc 'CREATE DATABASE gateway_test'" >/dev/null
fi
echo "postgres://postgres:$PASSWORD@127.0.0.1:$PORT/gateway_test"
