#!/usr/bin/env bash
# Create a database (if missing) and the PostGIS extension in it (if missing). Idempotent.
# Usage: tools/ensure_postgis.sh [DBNAME]   (default: frontier_atlas)
# Connects with psql's usual settings (PGHOST, PGPORT, PGUSER; default the local socket as
# the current user); needs a role allowed to create databases and extensions (e.g. postgres).
set -euo pipefail
db="${1:-frontier_atlas}"
export PGOPTIONS="${PGOPTIONS:-} -c client_min_messages=warning"
case "$db" in *[!A-Za-z0-9_]*|"") echo "ensure_postgis: bad database name: $db" >&2; exit 2;; esac
if ! psql -X -d postgres -Atqc "SELECT 1 FROM pg_database WHERE datname = '$db'" | grep -q 1; then
  psql -X -d postgres -qc "CREATE DATABASE \"$db\" ENCODING 'UTF8' TEMPLATE template0"
fi
psql -X -d "$db" -v ON_ERROR_STOP=1 -qc "CREATE EXTENSION IF NOT EXISTS postgis"
psql -X -d "$db" -Atqc "SELECT 'postgis ' || extversion || ' in database $db' FROM pg_extension WHERE extname = 'postgis'"
