#!/bin/bash
# Starts MariaDB in a container, as the official image's entrypoint does,
# in a few lines:
# - on first start (an empty data directory), mariadb-install-db creates it;
# - on every start, the database and its user exist, with the password read
#   from MARIADB_PASSWORD_FILE (a Compose secret), so changing the secret
#   changes the password;
# - mariadbd runs in the foreground as PID 1, as the mysql user, on 3306.
# Arguments are passed on to mariadbd.
set -euo pipefail

datadir=/var/lib/mysql
database=${MARIADB_DATABASE:-site}
user=${MARIADB_USER:-site}
password_file=${MARIADB_PASSWORD_FILE:-/run/secrets/db_password}

if [[ ! $database =~ ^[A-Za-z0-9_]+$ || ! $user =~ ^[A-Za-z0-9_]+$ ]]; then
  echo "entrypoint: MARIADB_DATABASE and MARIADB_USER are letters, digits and _" >&2
  exit 1
fi
if [[ ! -r $password_file ]]; then
  echo "entrypoint: cannot read the password file $password_file" >&2
  exit 1
fi
password=$(<"$password_file")

mkdir -p /run/mysqld
chown mysql:mysql /run/mysqld "$datadir"

if [[ ! -d $datadir/mysql ]]; then
  echo "entrypoint: initialising $datadir"
  # root@localhost logs in over the socket only (unix_socket), as on Debian.
  mariadb-install-db --user=mysql --datadir="$datadir" --skip-test-db \
    --auth-root-authentication-method=socket >/dev/null
fi

# A string as an SQL literal: backslashes and quotes escaped.
quote() {
  local s=${1//\\/\\\\}
  s=${s//\'/\\\'}
  printf "'%s'" "$s"
}

# mariadbd runs these before it accepts connections, so once it answers a
# ping the database and the user are there. One statement per line.
init=/run/mysqld/init.sql
install -m 0600 -o mysql -g mysql /dev/null "$init"
cat >"$init" <<SQL
CREATE DATABASE IF NOT EXISTS \`$database\`;
CREATE USER IF NOT EXISTS '$user'@'%' IDENTIFIED BY $(quote "$password");
ALTER USER '$user'@'%' IDENTIFIED BY $(quote "$password");
GRANT ALL PRIVILEGES ON \`$database\`.* TO '$user'@'%';
SQL

echo "entrypoint: starting mariadbd (database $database, user $user)"
exec mariadbd --user=mysql --datadir="$datadir" --bind-address=0.0.0.0 \
  --skip-name-resolve --init-file="$init" "$@"
