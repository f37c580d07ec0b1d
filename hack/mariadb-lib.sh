# shellcheck shell=bash
# What the standalone server (mariadb.sh) and the Galera nodes (galera.sh) share. Source it
# after lib.sh and versions.sh.

MARIADBD=/usr/sbin/mariadbd
DB_USER="${MARIADB_USER:-lifeboat}"

need_mariadb() {
  need_apt "${MARIADB_APT_PACKAGES[@]}"
  [[ -x "$MARIADBD" ]] || die "$MARIADBD is missing although mariadb-server is installed" \
    "reinstall it: apt-get install --reinstall mariadb-server"
}

# Unix socket paths are limited to 107 bytes; a deep checkout would fail later and obscurely.
check_socket_path() {
  ((${#1} <= 100)) || die "socket path $1 is ${#1} characters; Unix sockets allow about 100" \
    "use a shorter state directory: LIFEBOAT_STATE=/tmp/lifeboat-state $0 up"
}

# Settings every server gets: binlog on with GTIDs (what backups record and PITR replays),
# small buffers (several servers share a 2-core machine), no DNS lookups on loopback.
# log_bin_trust_function_creators lets the unprivileged restore account recreate routines
# from a dump while binlogging is on (otherwise that needs SUPER).
common_mysqld_cnf() {
  local dir="$1" port="$2"
  cat <<EOF
user = root
datadir = $dir/data
socket = $dir/mysqld.sock
pid-file = $dir/mysqld.pid
tmpdir = $dir/tmp
port = $port
bind-address = 127.0.0.1
skip-name-resolve
log_bin = mariadb-bin
binlog_format = ROW
gtid_strict_mode = ON
log_slave_updates = ON
log_bin_trust_function_creators = ON
default_storage_engine = InnoDB
innodb_buffer_pool_size = 64M
innodb_log_file_size = 48M
performance_schema = OFF
max_connections = 100
EOF
}

# install_datadir NAME DIR — mariadb-install-db into DIR/data (only if never completed).
install_datadir() {
  local name="$1" dir="$2"
  [[ -f "$dir/data/.lifeboat-initialized" ]] && return 0
  if [[ -d "$dir/data" && -n "$(ls -A "$dir/data")" ]]; then
    warn "$dir/data exists but was never fully initialized (an earlier run was interrupted); recreating it (test data only)"
    rm -rf "$dir/data"
  fi
  mkdir -p "$dir/data" "$dir/tmp"
  log "initializing datadir $dir/data"
  mariadb-install-db --defaults-file="$dir/my.cnf" --auth-root-authentication-method=socket \
    --skip-test-db >"$LOG_DIR/$name-install-db.log" 2>&1 ||
    { tail -n 20 "$LOG_DIR/$name-install-db.log" >&2; die "mariadb-install-db failed for $name (log: $LOG_DIR/$name-install-db.log)" \
      "read the log above; then remove the half-made datadir: $0 clean && $0 up"; }
  touch "$dir/data/.lifeboat-initialized"
}

# root_sql SOCKET SQL — mariadb-install-db gives the OS user that ran it (root here) an
# all-privileges account that authenticates through the socket (unix_socket), no password.
# The SQL goes in on stdin: it may hold passwords, and arguments are visible to every user (ps).
root_sql() { mariadb --no-defaults --connect-timeout=5 -u"$(id -un)" -S "$1" -N -B <<<"$2"; }

mariadb_alive() { mariadb-admin --no-defaults --connect-timeout=5 -u"$(id -un)" -S "$1" ping; }

# The account Lifeboat and the e2e tests use. The privileges are the least that:
#   mariabackup 10.11 needs:  RELOAD, PROCESS, LOCK TABLES, BINLOG MONITOR,
#                             SLAVE MONITOR (for --galera-info / --slave-info)
#   mariadb-dump needs:       SELECT, SHOW VIEW, TRIGGER, EVENT, LOCK TABLES, RELOAD and
#                             BINLOG MONITOR (for --single-transaction --gtid --master-data)
#   a logical restore needs:  CREATE, DROP, ALTER, INDEX, INSERT, UPDATE, DELETE, REFERENCES,
#                             CREATE VIEW, CREATE ROUTINE, ALTER ROUTINE, EVENT, TRIGGER,
#                             SET USER (DEFINER= clauses in dumped views/routines/triggers)
#   PITR and binlog archive:  BINLOG ADMIN (FLUSH BINARY LOGS), BINLOG REPLAY (replay
#                             mariadb-binlog output), REPLICATION SLAVE (read binlogs remotely)
#   Galera prefer-standby:    SUPER, on the Galera nodes only (galera.sh): 10.11 lets nothing
#                             narrower SET GLOBAL wsrep_desync
# Hosts: 127.0.0.1 and ::1 for TCP (skip-name-resolve matches the address), localhost for the socket.
# lifeboat_user_sql PASSWORD [EXTRA_PRIVILEGES] — with ACCOUNT=NAME REQUIRE=X509 (environment),
# the same grants for another account that must also present a client certificate.
lifeboat_user_sql() {
  local pw="$1" host sql="" user="${ACCOUNT:-$DB_USER}" require="${REQUIRE:-NONE}"
  for host in 127.0.0.1 ::1 localhost; do
    sql+="CREATE USER IF NOT EXISTS '$user'@'$host' IDENTIFIED BY '$pw';"
    sql+="ALTER USER '$user'@'$host' IDENTIFIED BY '$pw' REQUIRE $require;"
    # Converge to exactly the list below, also when an earlier version granted more.
    sql+="REVOKE ALL PRIVILEGES, GRANT OPTION FROM '$user'@'$host';"
    sql+="GRANT RELOAD, PROCESS, LOCK TABLES, BINLOG MONITOR, SLAVE MONITOR,"
    sql+=" SELECT, SHOW VIEW, TRIGGER, EVENT,"
    sql+=" CREATE, DROP, ALTER, INDEX, INSERT, UPDATE, DELETE, REFERENCES, CREATE VIEW,"
    sql+=" CREATE ROUTINE, ALTER ROUTINE, SET USER,"
    sql+=" BINLOG ADMIN, BINLOG REPLAY, REPLICATION SLAVE"
    sql+=" ON *.* TO '$user'@'$host';"
    [[ -n "${2:-}" ]] && sql+="GRANT $2 ON *.* TO '$user'@'$host';"
  done
  echo "$sql"
}

# client_cnf — a 0600 option file with the lifeboat account's password, for the mariadb client
# (--defaults-file=...), so no password is ever an argument. Rewritten each time: cheap, and
# it follows the secret.
client_cnf() {
  local file="$SECRETS_DIR/mariadb-client.cnf"
  (umask 077 && printf '[client]\nuser=%s\npassword=%s\n' "$DB_USER" "$(secret mariadb-password)" >"$file.tmp" &&
    mv "$file.tmp" "$file")
  echo "$file"
}

# TLS for the standalone servers: a CA, a server certificate for 127.0.0.1/::1/localhost, and a
# client certificate for the account that REQUIREs X509. Generated once into $TLS_DIR and kept;
# the e2e tests make Secrets of ca.crt and client.{crt,key}. Galera nodes get none, so the
# stack also has servers without TLS.
TLS_DIR="$STATE/mariadb-tls"
TLS_ACCOUNT="${MARIADB_TLS_USER:-lifeboat_x509}"

ensure_tls_certs() {
  [[ -s "$TLS_DIR/client.crt" ]] && return 0
  command -v openssl >/dev/null 2>&1 || need_apt openssl
  local tmp
  tmp="$(mktemp -d "$STATE/mariadb-tls.XXXXXX")"
  chmod 0700 "$tmp"
  (
    cd "$tmp"
    umask 077
    openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=Lifeboat dev MariaDB CA" \
      -keyout ca.key -out ca.crt 2>/dev/null
    issue() { # issue NAME SUBJECT EXTENSIONS
      openssl req -newkey rsa:2048 -nodes -subj "$2" -keyout "$1.key" -out "$1.csr" 2>/dev/null
      printf '%s\n' "$3" >"$1.ext"
      openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days 3650 \
        -extfile "$1.ext" -out "$1.crt" 2>/dev/null
      rm -f "$1.csr" "$1.ext"
    }
    issue server "/CN=127.0.0.1" "subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost
extendedKeyUsage=serverAuth"
    issue client "/CN=$TLS_ACCOUNT" "extendedKeyUsage=clientAuth"
    chmod 0644 ca.crt server.crt client.crt
  ) || { rm -rf "$tmp"; die "openssl could not make the MariaDB TLS certificates" "check: openssl version"; }
  rm -rf "$TLS_DIR"
  mv "$tmp" "$TLS_DIR"
  log "made a CA, a server and a client certificate in $TLS_DIR"
}

# The [mysqld] lines that turn TLS on (optional for clients: the plain `lifeboat` account still
# connects without it).
tls_mysqld_cnf() {
  printf 'ssl_ca = %s\nssl_cert = %s\nssl_key = %s\n' "$TLS_DIR/ca.crt" "$TLS_DIR/server.crt" "$TLS_DIR/server.key"
}

# check_tcp_login PORT — the account must work over TCP, not only through the socket.
check_tcp_login() {
  mariadb --defaults-file="$(client_cnf)" --connect-timeout=5 -h127.0.0.1 -P"$1" --protocol=TCP -N -B -e 'SELECT 1'
}

# check_tls_login PORT — the X.509 account over verified TLS, with the client certificate.
check_tls_login() {
  mariadb --defaults-file="$(client_cnf)" --connect-timeout=5 -h127.0.0.1 -P"$1" --protocol=TCP -u"$TLS_ACCOUNT" \
    --ssl --ssl-ca="$TLS_DIR/ca.crt" --ssl-cert="$TLS_DIR/client.crt" --ssl-key="$TLS_DIR/client.key" \
    --ssl-verify-server-cert -N -B -e "SHOW STATUS LIKE 'Ssl_cipher'" | grep -q .
}
