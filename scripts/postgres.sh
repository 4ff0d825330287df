#!/usr/bin/env bash
# A local PostgreSQL server for the warehouse on Postgres (tests, `docs/deploy.md`'s local try-out).
#
#   scripts/postgres.sh start    install Debian's postgresql when missing, init a data dir, start on 127.0.0.1
#   scripts/postgres.sh stop     stop the server of that data dir (nothing when it is not running)
#   scripts/postgres.sh status   exit 0 and print the URL when it runs, exit 3 when it does not
#   scripts/postgres.sh url      the connection URL (postgresql://dangol@127.0.0.1:<port>/dangol)
#
# Idempotent: `start` on a running server prints its URL and changes nothing. The server runs as a
# non-root user (the `postgres` account the package creates when called as root), listens on 127.0.0.1
# only, keeps its socket in the data dir and trusts local connections: a developer's and CI's server,
# never a production one (docs/deploy.md).
#
# Settings (environment): DANGOL_PGDATA (default <project>/.postgres/data), DANGOL_PGPORT (default 54329).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PGDATA="${DANGOL_PGDATA:-$ROOT/.postgres/data}"
PORT="${DANGOL_PGPORT:-54329}"
SUPERUSER=dangol
DATABASE=dangol

die() { echo "postgres.sh: $*" >&2; exit 1; }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# The server binaries (initdb, pg_ctl, postgres) of the newest installed major version.
find_bindir() {
    local dir
    dir="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)"
    if [ -n "$dir" ] && [ -x "$dir/initdb" ]; then echo "$dir"; fi
}

ensure_installed() {
    if [ -z "$(find_bindir)" ]; then
        echo "postgres.sh: installing Debian's postgresql" >&2
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postgresql \
            >/dev/null || { as_root apt-get update >/dev/null && as_root env DEBIAN_FRONTEND=noninteractive \
            apt-get install -y --no-install-recommends postgresql >/dev/null; }
    fi
    BINDIR="$(find_bindir)"
    [ -n "$BINDIR" ] || die "no PostgreSQL server binaries after installing postgresql"
}

# Root may not run a server: run it as the package's `postgres` account instead.
RUN_AS=""
as_server_user() {
    if [ -n "$RUN_AS" ]; then runuser -u "$RUN_AS" -- "$@"; else "$@"; fi
}

choose_user() {
    if [ "$(id -u)" -eq 0 ]; then
        getent passwd postgres >/dev/null || die "running as root and there is no 'postgres' user to run the server"
        RUN_AS=postgres
    fi
}

running_port() {
    # postmaster.pid's fourth line is the port of a live server
    if [ -f "$PGDATA/postmaster.pid" ] && as_server_user "$BINDIR/pg_ctl" -D "$PGDATA" status >/dev/null 2>&1; then
        sed -n 4p "$PGDATA/postmaster.pid"
    fi
}

url() { echo "postgresql://$SUPERUSER@127.0.0.1:$1/$DATABASE"; }

start() {
    ensure_installed
    choose_user
    local port
    port="$(running_port)"
    if [ -n "$port" ]; then url "$port"; return 0; fi
    if [ ! -f "$PGDATA/PG_VERSION" ]; then
        mkdir -p "$PGDATA"
        chmod 700 "$PGDATA"
        if [ -n "$RUN_AS" ]; then
            chown "$RUN_AS" "$PGDATA"
            # A checkout in a folder closed to other users (a private temp dir, a CI workspace) cannot hold
            # the server's data: say so and how, instead of initdb's "Permission denied".
            as_server_user test -x "$PGDATA" || die "the '$RUN_AS' account cannot reach $PGDATA (a parent folder" \
                "is closed to other users); set DANGOL_PGDATA to a folder it can reach, e.g. /var/tmp/dangol-postgres/data"
        fi
        as_server_user "$BINDIR/initdb" -D "$PGDATA" -U "$SUPERUSER" --auth=trust --encoding=UTF8 \
            --locale=C.UTF-8 >"$PGDATA/../initdb.log" 2>&1 || { cat "$PGDATA/../initdb.log" >&2; die "initdb failed"; }
        {
            echo "listen_addresses = '127.0.0.1'"
            echo "unix_socket_directories = '$PGDATA'"
            echo "timezone = 'UTC'"
            # a throwaway server for tests and trials: durability traded for speed
            echo "fsync = off"
            echo "synchronous_commit = off"
            echo "full_page_writes = off"
            echo "max_connections = 50"
            echo "shared_buffers = 128MB"
        } >>"$PGDATA/postgresql.conf"
    fi
    as_server_user "$BINDIR/pg_ctl" -D "$PGDATA" -l "$PGDATA/server.log" -w -t 60 -o "-p $PORT" start >/dev/null \
        || { tail -n 20 "$PGDATA/server.log" >&2; die "the server did not start (port $PORT taken?)"; }
    if ! as_server_user "$BINDIR/psql" -h 127.0.0.1 -p "$PORT" -U "$SUPERUSER" -d postgres -Atqc \
        "select 1 from pg_database where datname = '$DATABASE'" | grep -q 1; then
        as_server_user "$BINDIR/createdb" -h 127.0.0.1 -p "$PORT" -U "$SUPERUSER" "$DATABASE"
    fi
    url "$PORT"
}

stop() {
    BINDIR="$(find_bindir)"
    [ -n "$BINDIR" ] || return 0
    choose_user
    if [ -n "$(running_port)" ]; then
        as_server_user "$BINDIR/pg_ctl" -D "$PGDATA" -m fast -w stop >/dev/null
    fi
}

status() {
    BINDIR="$(find_bindir)"
    [ -n "$BINDIR" ] || exit 3
    choose_user
    local port
    port="$(running_port)"
    [ -n "$port" ] || exit 3
    url "$port"
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    status) status ;;
    url) status ;;
    *) echo "usage: $0 start|stop|status|url" >&2; exit 2 ;;
esac
