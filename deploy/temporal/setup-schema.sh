#!/bin/sh
# Creates Temporal's two PostgreSQL databases and brings their schemas to the version of the admin-tools image that
# runs this (the server image of the same version expects it). Safe to run on every `docker compose up`: creating a
# database or a base schema that exists fails harmlessly, and update-schema applies only what is missing.
set -eu
sql() { temporal-sql-tool --plugin postgres12 --ep postgresql -p 5432 -u "$POSTGRES_USER" --db "$@"; }
until nc -z -w 5 postgresql 5432; do echo "waiting for postgresql:5432"; sleep 1; done
for db in temporal temporal_visibility; do
  sql "$db" create 2>/dev/null || echo "database $db exists"
  sql "$db" setup-schema -v 0.0 2>/dev/null || echo "database $db has its base schema"
done
sql temporal update-schema -d /etc/temporal/schema/postgresql/v12/temporal/versioned
sql temporal_visibility update-schema -d /etc/temporal/schema/postgresql/v12/visibility/versioned
echo "Temporal schemas are up to date"
