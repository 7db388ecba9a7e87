#!/usr/bin/env bash
# Entrypoint of the locally built app-databases/postgres image.
#
# Honours the contract of the official `postgres` image's entrypoint, so a
# container can be run exactly like `postgres:16-alpine`:
#   POSTGRES_PASSWORD (required unless POSTGRES_HOST_AUTH_METHOD=trust),
#   POSTGRES_USER (default postgres), POSTGRES_DB (default: the user),
#   POSTGRES_INITDB_ARGS, POSTGRES_INITDB_WALDIR, POSTGRES_HOST_AUTH_METHOD,
#   *_FILE variants for secrets, PGDATA, scripts in /docker-entrypoint-initdb.d,
#   and `docker run IMAGE -c name=value ...` passing options to postgres.
# Differences: the default host auth is scram-sha-256 for loopback TCP too (the
# official image trusts 127.0.0.1 inside the container); `--user` with a uid
# that is not in /etc/passwd is not supported (no nss_wrapper in this image).
# No `set -u`: init scripts are sourced into this shell, as in the official image.
set -Eeo pipefail

: "${PGDATA:=/var/lib/postgresql/data}"
export PGDATA

log() { printf '%s\n' "$*"; }

# file_env VAR [DEFAULT]: VAR from $VAR or from the file named by $VAR_FILE (docker secrets).
file_env() {
	local var="$1" fileVar="${1}_FILE" def="${2:-}" val
	if [ -n "${!var:-}" ] && [ -n "${!fileVar:-}" ]; then
		log "error: both $var and $fileVar are set (but are exclusive)" >&2
		exit 1
	fi
	val="$def"
	if [ -n "${!var:-}" ]; then
		val="${!var}"
	elif [ -n "${!fileVar:-}" ]; then
		val="$(<"${!fileVar}")"
	fi
	export "$var"="$val"
	unset "$fileVar"
}

# postgres options that only print something: no setup needed for them.
wants_help() {
	local arg
	for arg; do
		case "$arg" in
			-'?' | --help | --describe-config | -V | --version | -C) return 0 ;;
		esac
	done
	return 1
}

setup_env() {
	file_env POSTGRES_PASSWORD
	file_env POSTGRES_USER postgres
	file_env POSTGRES_DB "$POSTGRES_USER"
	file_env POSTGRES_INITDB_ARGS
	: "${POSTGRES_HOST_AUTH_METHOD:=}"
	DATABASE_ALREADY_EXISTS=
	if [ -s "$PGDATA/PG_VERSION" ]; then DATABASE_ALREADY_EXISTS=true; fi
}

# Runs as root before dropping privileges: a freshly mounted volume (or a bind
# mount) is often root-owned, and postgres refuses a data dir it does not own.
create_db_directories() {
	mkdir -p "$PGDATA"
	chmod 00700 "$PGDATA" || : # postgres insists on 0700/0750; may fail on odd mounts
	mkdir -p /var/run/postgresql || :
	chmod 03775 /var/run/postgresql || :
	if [ -n "${POSTGRES_INITDB_WALDIR:-}" ]; then
		mkdir -p "$POSTGRES_INITDB_WALDIR"
		chmod 700 "$POSTGRES_INITDB_WALDIR"
	fi
	if [ "$(id -u)" = 0 ]; then
		find "$PGDATA" /var/run/postgresql ${POSTGRES_INITDB_WALDIR:+"$POSTGRES_INITDB_WALDIR"} \
			\! -user postgres -exec chown postgres:postgres '{}' +
	fi
}

verify_minimum_env() {
	if [ -z "$POSTGRES_PASSWORD" ] && [ "$POSTGRES_HOST_AUTH_METHOD" != trust ]; then
		cat >&2 <<-'EOM'
			Error: Database is uninitialized and superuser password is not specified.
			       You must specify POSTGRES_PASSWORD to a non-empty value for the
			       superuser. For example, "-e POSTGRES_PASSWORD=password" on "docker run".

			       You may also use "POSTGRES_HOST_AUTH_METHOD=trust" to allow all
			       connections without a password. This is *not* recommended.
		EOM
		exit 1
	fi
	if [ "$POSTGRES_HOST_AUTH_METHOD" = trust ]; then
		log 'WARNING: POSTGRES_HOST_AUTH_METHOD=trust: every connection is allowed without a password.' >&2
	fi
}

# The host auth method: explicit, else what matches password_encryption given
# as `-c password_encryption=...` (scram-sha-256 by default in PostgreSQL 14+).
host_auth_method() {
	local method="scram-sha-256" arg
	if [ -n "$POSTGRES_HOST_AUTH_METHOD" ]; then
		echo "$POSTGRES_HOST_AUTH_METHOD"; return
	fi
	for arg; do
		case "$arg" in *password_encryption=*) method="${arg#*password_encryption=}" ;; esac
	done
	[ "$method" = on ] && method=md5 # legacy spelling
	echo "$method"
}

init_database_dir() {
	local auth="$1"; shift
	local extra=(--auth-local=trust --auth-host="$auth")
	if [ -n "${POSTGRES_INITDB_WALDIR:-}" ]; then extra+=(--waldir "$POSTGRES_INITDB_WALDIR"); fi
	# eval: POSTGRES_INITDB_ARGS is a shell-quoted string in the official
	# contract; it comes last so it can override our auth defaults.
	# --pwfile refuses an empty file, hence the newline.
	eval 'initdb --username="$POSTGRES_USER" --pwfile=<(printf "%s\n" "$POSTGRES_PASSWORD") "${extra[@]}" '"$POSTGRES_INITDB_ARGS"
}

# Admit TCP connections from any address (other containers, the Docker bridge
# gateway that published ports arrive from) with the password method; the
# Unix socket inside the container stays trust (initdb --auth-local above).
setup_hba_conf() {
	local auth="$1"
	{
		printf '\n# added by docker-entrypoint.sh: connections from other hosts/containers\n'
		if [ "$auth" = trust ]; then printf '# warning: trust is enabled for all connections\n'; fi
		printf 'host all all all %s\n' "$auth"
	} >>"$PGDATA/pg_hba.conf"
	# The image's postgresql.conf.sample already says this; keep it true even
	# if someone replaced the sample or passed a config through POSTGRES_INITDB_ARGS.
	if ! grep -qE "^[[:space:]]*listen_addresses[[:space:]]*=" "$PGDATA/postgresql.conf"; then
		printf "listen_addresses = '*'\n" >>"$PGDATA/postgresql.conf"
	fi
}

# A server on the socket only, for the setup steps below; takes the user's
# `-c` options too so e.g. shared_buffers applies the same way.
temp_server_start() {
	if [ "${1:-}" = postgres ]; then shift; fi
	set -- "$@" -c listen_addresses='' -p "${PGPORT:-5432}"
	PGUSER="${PGUSER:-$POSTGRES_USER}" pg_ctl -D "$PGDATA" -o "$(printf '%q ' "$@")" -w start
}

temp_server_stop() {
	PGUSER="${PGUSER:-postgres}" pg_ctl -D "$PGDATA" -m fast -w stop
}

# psql on the Unix socket as the superuser; a later --dbname in "$@" wins.
process_sql() {
	PGHOST='' PGHOSTADDR='' psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" \
		--no-password --no-psqlrc --dbname "$POSTGRES_DB" "$@"
}

setup_db() {
	local exists
	exists="$(process_sql --dbname postgres --set db="$POSTGRES_DB" --tuples-only <<-'EOSQL'
		SELECT 1 FROM pg_database WHERE datname = :'db' ;
	EOSQL
	)"
	if [ -z "$exists" ]; then
		process_sql --dbname postgres --set db="$POSTGRES_DB" <<-'EOSQL'
			CREATE DATABASE :"db" ;
		EOSQL
		log
	fi
}

process_init_files() {
	local f
	for f; do
		[ -e "$f" ] || continue # unmatched glob: empty initdb.d
		case "$f" in
			*.sh)
				if [ -x "$f" ]; then
					log "$0: running $f"; "$f"
				else
					log "$0: sourcing $f"
					# shellcheck disable=SC1090
					. "$f"
				fi
				;;
			*.sql) log "$0: running $f"; process_sql -f "$f"; log ;;
			*.sql.gz) log "$0: running $f"; gunzip -c "$f" | process_sql; log ;;
			*.sql.xz) log "$0: running $f"; xzcat "$f" | process_sql; log ;;
			*.sql.zst) log "$0: running $f"; zstd -dc "$f" | process_sql; log ;;
			*) log "$0: ignoring $f" ;;
		esac
	done
}

main() {
	# `docker run IMAGE -c max_connections=50`: the arguments are postgres options.
	if [ "$#" -eq 0 ] || [ "${1:0:1}" = '-' ]; then
		set -- postgres "$@"
	fi

	if [ "$1" = postgres ] && ! wants_help "$@"; then
		setup_env
		create_db_directories
		if [ "$(id -u)" = 0 ]; then
			# Re-run this script as postgres. setpriv (util-linux, always in the
			# rootfs) execs in place, unlike su/runuser which stay as a parent,
			# so postgres ends up as PID 1 and gets docker's stop signal.
			export HOME=/var/lib/postgresql
			exec setpriv --reuid=postgres --regid=postgres --init-groups -- "${BASH_SOURCE[0]}" "$@"
		fi

		if [ -z "$DATABASE_ALREADY_EXISTS" ]; then
			verify_minimum_env
			ls /docker-entrypoint-initdb.d/ >/dev/null # fail early if unreadable, not half-initialised
			local auth
			auth="$(host_auth_method "$@")"
			init_database_dir "$auth"
			setup_hba_conf "$auth"
			# For psql when POSTGRES_INITDB_ARGS made local connections need a password.
			export PGPASSWORD="${PGPASSWORD:-$POSTGRES_PASSWORD}"
			temp_server_start "$@"
			setup_db
			process_init_files /docker-entrypoint-initdb.d/*
			temp_server_stop
			unset PGPASSWORD
			log
			log 'PostgreSQL init process complete; ready for start up.'
			log
		else
			log
			log 'PostgreSQL Database directory appears to contain a database; Skipping initialization'
			log
		fi
	fi

	# exec: postgres replaces this shell, so it receives SIGINT from `docker stop`
	# (STOPSIGNAL SIGINT = fast shutdown) directly.
	exec "$@"
}

main "$@"
