#!/usr/bin/env bash
# Start a local PostgreSQL for the test suite and print its SQLAlchemy URL.
# Needs root and Debian's postgresql package (scripts/system-deps.sh test installs it).
set -euo pipefail
# Only the URL goes to stdout; whatever the PostgreSQL tools print goes to stderr.
exec 3>&1 1>&2

user=telecentre
password=telecentre-test
db=telecentre_test

if ! command -v pg_lsclusters >/dev/null; then
  echo "PostgreSQL is not installed (apt-get install postgresql)" >&2
  exit 1
fi
read -r version cluster port status _rest < <(pg_lsclusters --no-header | head -n 1)
if [ -z "${version:-}" ]; then
  version=$(ls /usr/lib/postgresql | sort -V | tail -n 1)
  pg_createcluster "$version" main 3>&-
  read -r version cluster port status _rest < <(pg_lsclusters --no-header | head -n 1)
fi
if [ "$status" != online ]; then
  # The server must not inherit the captured stdout (fd 3), or $(…) would wait for it.
  pg_ctlcluster "$version" "$cluster" start 3>&-
fi
for _ in $(seq 1 30); do
  pg_isready -q -h 127.0.0.1 -p "$port" && break
  sleep 0.5
done

psql_admin() { runuser -u postgres -- psql -p "$port" -v ON_ERROR_STOP=1 -qtA "$@"; }
if [ -z "$(psql_admin -c "SELECT 1 FROM pg_roles WHERE rolname='$user'")" ]; then
  psql_admin -c "CREATE ROLE $user LOGIN CREATEDB PASSWORD '$password'"
fi
if [ -z "$(psql_admin -c "SELECT 1 FROM pg_database WHERE datname='$db'")" ]; then
  psql_admin -c "CREATE DATABASE $db OWNER $user"
fi
echo "postgresql+psycopg://$user:$password@127.0.0.1:$port/$db" >&3
