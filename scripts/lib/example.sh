# Deploying the bundled example app (examples/shop) with git, as a user would.
# Sourced by scripts/quickstart after setup.sh; every step is safe to repeat.

EXAMPLE_APP=shop
NODE_BASE=bases/node:bookworm

# The Node.js base image the example builds FROM, built from Debian's
# packages once per host (no internet registry is needed).
ensure_node_base() {
  if "$ROOT/bin/skiff" bases --json | grep -q "/$NODE_BASE\""; then
    say "Base image $NODE_BASE: present"
    return
  fi
  say "Building the base image $NODE_BASE from Debian's packages (about a minute, once per host)"
  "$ROOT/bin/skiff" bases:build node --packages nodejs
}

# A work tree of the example with its own git history, outside this
# checkout, and a remote whose password comes from the admin token file
# (a credential helper), so the token is never written into git's config.
deploy_example() {
  local home=$1 work="$1/quickstart/$EXAMPLE_APP"
  if ! "$ROOT/bin/skiff" apps:info "$EXAMPLE_APP" >/dev/null 2>&1; then
    "$ROOT/bin/skiff" apps:create "$EXAMPLE_APP"
  fi
  mkdir -p "$work"
  if [ ! -d "$work/.git" ]; then
    git -C "$work" init --quiet --initial-branch=main
    git -C "$work" config user.name "Skiff quickstart"
    git -C "$work" config user.email "quickstart@skiff.invalid"
    git -C "$work" remote add skiff "http://127.0.0.1:${SKIFF_PORT:-7070}/git/$EXAMPLE_APP.git"
    git -C "$work" config credential.helper \
      "!f() { echo username=skiff; printf 'password=%s\\n' \"\$(cat '$home/admin-token')\"; }; f"
  fi
  # The checkout's example is the source of truth; local edits in the work
  # tree are kept by git history, not overwritten silently.
  if [ -z "$(git -C "$work" rev-parse --verify --quiet HEAD)" ]; then
    cp -R "$ROOT/examples/$EXAMPLE_APP/." "$work/"
    git -C "$work" add --all
    git -C "$work" commit --quiet -m "The Skiff example app"
  fi
  say "Deploying $EXAMPLE_APP with git push (progress below)"
  git -C "$work" push --progress skiff main
}
