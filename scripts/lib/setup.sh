# Shared set-up for scripts/quickstart and scripts/test. Safe to run any
# number of times: each step checks before it acts.
# Sourced, not executed: it expects `set -euo pipefail` and ROOT from the caller.

# chromium is for the dashboard's browser test (playwright-core drives /usr/bin/chromium).
DEBIAN_PACKAGES=(docker.io docker-registry haproxy git busybox-static debootstrap socat curl ca-certificates chromium)
DOCKER_SOCKET=/var/run/docker.sock
DOCKERD_LOG=/var/log/skiff-dockerd.log

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

check_node() {
  if ! command -v node >/dev/null; then
    echo "Node.js 20 is required: apt-get install nodejs npm (or use nodesource), then run this again." >&2
    exit 1
  fi
  # 20.19 is the first Node.js 20 that can require() ES modules, which a
  # dependency of Fastify's test injector needs.
  if [ "$(node -p 'const [a, b] = process.versions.node.split(".").map(Number); a > 20 || (a === 20 && b >= 19)')" != true ]; then
    echo "Node.js $(node -v) is too old; Skiff needs Node.js 20.19 or newer." >&2
    exit 1
  fi
}

install_debian_packages() {
  local missing=()
  for pkg in "${DEBIAN_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  if [ ${#missing[@]} -eq 0 ]; then
    say "Debian packages: all present"
    return
  fi
  say "Installing Debian packages: ${missing[*]}"
  as_root apt-get update -qq
  # policy-rc.d on containers and CI images refuses to start services; Skiff
  # starts what it needs itself, so that refusal is expected and harmless.
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

# Debian's docker-registry package enables a service of its own on :5000,
# the port of Skiff's managed registry. Skiff runs the registry itself.
disable_debian_registry_service() {
  if [ -d /run/systemd/system ] && systemctl is-enabled --quiet docker-registry 2>/dev/null; then
    say "Disabling Debian's docker-registry service (Skiff runs its own registry on 127.0.0.1:5000)"
    as_root systemctl disable --now docker-registry
  fi
}

install_npm_packages() {
  local stamp="$ROOT/node_modules/.skiff-lock-sha"
  local want
  want=$(sha256sum "$ROOT/package-lock.json" | cut -d' ' -f1)
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    say "npm packages: up to date"
    return
  fi
  say "Installing npm packages (npm ci)"
  (cd "$ROOT" && npm ci --no-audit --no-fund)
  echo "$want" >"$stamp"
}

build() {
  say "Building (tsc)"
  (cd "$ROOT" && npm run --silent build)
}

docker_answers() {
  curl -fsS --max-time 2 --unix-socket "$DOCKER_SOCKET" http://docker/_ping >/dev/null 2>&1
}

start_docker() {
  if docker_answers; then
    say "Docker Engine: running"
    return
  fi
  say "Starting dockerd in the background (log: $DOCKERD_LOG)"
  as_root sh -c "nohup dockerd >>'$DOCKERD_LOG' 2>&1 &"
  for _ in $(seq 1 120); do
    if docker_answers; then
      say "Docker Engine: running"
      return
    fi
    sleep 0.5
  done
  echo "dockerd did not answer on $DOCKER_SOCKET within 60s; last lines of $DOCKERD_LOG:" >&2
  as_root tail -n 20 "$DOCKERD_LOG" >&2 || true
  exit 1
}

setup_all() {
  check_node
  install_debian_packages
  disable_debian_registry_service
  install_npm_packages
  build
  start_docker
}
