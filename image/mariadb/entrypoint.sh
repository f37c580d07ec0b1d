#!/bin/sh
# The MariaDB test image's entrypoint: initialise an empty datadir on first start, create the
# account named by the environment, then run mariadbd in the foreground (extra args go to it).
#
#   MARIADB_USER                        the account to create (required on first start)
#   MARIADB_PASSWORD_FILE or MARIADB_PASSWORD   its password (a mounted Secret file is preferred)
#   MARIADB_DATABASE                    optional: a database to create
#
# The account gets ALL PRIVILEGES on *.* (no GRANT OPTION) from any host. root@localhost is
# reached through the socket by the OS user the server runs as.
set -eu

datadir=/var/lib/mysql
die() { echo "mariadb-entrypoint: error: $*" >&2; exit 1; }

if [ ! -d "$datadir/mysql" ]; then
  user="${MARIADB_USER:-}"
  [ -n "$user" ] || die "the datadir $datadir is empty and MARIADB_USER is not set; set MARIADB_USER and MARIADB_PASSWORD_FILE (a mounted Secret)"
  if [ -n "${MARIADB_PASSWORD_FILE:-}" ]; then
    [ -r "$MARIADB_PASSWORD_FILE" ] || die "MARIADB_PASSWORD_FILE=$MARIADB_PASSWORD_FILE is not readable by uid $(id -u); check the Secret's volume and defaultMode"
    password="$(cat "$MARIADB_PASSWORD_FILE")"
  else
    password="${MARIADB_PASSWORD:-}"
  fi
  [ -n "$password" ] || die "no password for $user: set MARIADB_PASSWORD_FILE (or MARIADB_PASSWORD)"
  case "$user$password${MARIADB_DATABASE:-}" in
    *\'* | *\\*) die "MARIADB_USER, the password and MARIADB_DATABASE must not contain ' or \\" ;;
  esac

  echo "mariadb-entrypoint: initialising $datadir (user $(id -un))" >&2
  # Its chatter goes to a file, shown only when it fails. --force: it otherwise insists that the
  # hostname resolves, which a bare runtime without /etc/hosts does not give, and which
  # --skip-name-resolve makes moot (grants are by IP or %, never by host name).
  if ! mariadb-install-db --datadir="$datadir" --auth-root-authentication-method=socket \
    --auth-root-socket-user="$(id -un)" --skip-test-db --skip-name-resolve --force >/tmp/mariadb-install-db.log 2>&1; then
    cat /tmp/mariadb-install-db.log >&2
    die "mariadb-install-db failed (its output is above); $datadir must be writable by uid $(id -u) (fsGroup: 999)"
  fi

  # The password goes in on stdin, never as an argument. --bootstrap runs the statements
  # without networking and exits; FLUSH PRIVILEGES loads the grant tables it starts without.
  {
    echo "FLUSH PRIVILEGES;"
    echo "CREATE USER '$user'@'%' IDENTIFIED BY '$password';"
    echo "GRANT ALL PRIVILEGES ON *.* TO '$user'@'%';"
    [ -z "${MARIADB_DATABASE:-}" ] || echo "CREATE DATABASE IF NOT EXISTS \`$MARIADB_DATABASE\`;"
  } | mariadbd --bootstrap --datadir="$datadir" --skip-networking ||
    die "creating the account $user failed (the server's messages are above)"
  echo "mariadb-entrypoint: created $user@'%'${MARIADB_DATABASE:+ and database $MARIADB_DATABASE}" >&2
fi

exec mariadbd "$@"
