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

# A deploy token for the example app (what a customer's developer would
# hold: it pushes to this app and nothing else), in a 0600 file beside the
# work tree. Made again when the file is gone or the token no longer works
# (expired, revoked).
ensure_deploy_token() {
  local file=$1 name="quickstart-$EXAMPLE_APP"
  local api="http://127.0.0.1:${SKIFF_PORT:-7070}/api/v1/apps/$EXAMPLE_APP/runs"
  # The token goes to curl in its config on stdin, never as an argument (ps shows those).
  if [ -s "$file" ] && printf 'header = "Authorization: Bearer %s"\n' "$(cat "$file")" |
    curl -q -fsS --max-time 5 -o /dev/null -K - "$api"; then
    return
  fi
  "$ROOT/bin/skiff" tokens:revoke "$name" >/dev/null 2>&1 || true
  (umask 077 && "$ROOT/bin/skiff" tokens:create "$name" --app "$EXAMPLE_APP" --scope deploy >"$file" 2>/dev/null)
  say "Made the deploy token $name for $EXAMPLE_APP: $file"
}

# A work tree of the example with its own git history, outside this
# checkout, and a remote whose password comes from the deploy token's file
# (a credential helper), so no token is ever written into git's config.
deploy_example() {
  local home=$1 work="$1/quickstart/$EXAMPLE_APP"
  local token_file="$1/quickstart/$EXAMPLE_APP.deploy-token"
  if ! "$ROOT/bin/skiff" apps:info "$EXAMPLE_APP" >/dev/null 2>&1; then
    "$ROOT/bin/skiff" apps:create "$EXAMPLE_APP"
  fi
  mkdir -p "$work"
  ensure_deploy_token "$token_file"
  if [ ! -d "$work/.git" ]; then
    git -C "$work" init --quiet --initial-branch=main
    git -C "$work" config user.name "Skiff quickstart"
    git -C "$work" config user.email "quickstart@skiff.invalid"
    git -C "$work" remote add skiff "http://127.0.0.1:${SKIFF_PORT:-7070}/git/$EXAMPLE_APP.git"
  fi
  # Set every time: a work tree of an older quickstart read the admin token.
  git -C "$work" config credential.helper \
    "!f() { test \"\$1\" = get || exit 0; echo username=skiff; printf 'password=%s\\n' \"\$(cat '$token_file')\"; }; f"
  # A new work tree starts from what the app already has (an earlier
  # quickstart may have pushed it), then takes the checkout's example. Once
  # it has history, the work tree is the user's: nothing overwrites it.
  if [ -z "$(git -C "$work" rev-parse --verify --quiet HEAD)" ]; then
    if git -C "$work" ls-remote --exit-code skiff refs/heads/main >/dev/null 2>&1; then
      git -C "$work" fetch --quiet skiff main
      git -C "$work" reset --quiet --mixed FETCH_HEAD
    fi
    cp -R "$ROOT/examples/$EXAMPLE_APP/." "$work/"
    git -C "$work" add --all
    if ! git -C "$work" diff --cached --quiet 2>/dev/null || [ -z "$(git -C "$work" rev-parse --verify --quiet HEAD)" ]; then
      git -C "$work" commit --quiet -m "The Skiff example app"
    fi
  fi
  say "Deploying $EXAMPLE_APP with git push (progress below)"
  git -C "$work" push --progress skiff main
  # Nothing new to push, yet nothing live (an earlier push was refused, or
  # happened before this host could deploy): deploy the work tree as it is.
  if ! "$ROOT/bin/skiff" releases "$EXAMPLE_APP" --json | grep -q '"live": *[0-9]'; then
    say "No live release of $EXAMPLE_APP yet: deploying the work tree"
    "$ROOT/bin/skiff" deploy "$work" --app "$EXAMPLE_APP"
  fi
  local url="http://127.0.0.1:${SKIFF_EDGE_PORT:-8080}/"
  if ! curl -fsS --max-time 10 -H "Host: $EXAMPLE_APP.localhost" "$url" >/dev/null; then
    echo "$EXAMPLE_APP was deployed but does not answer through the edge; see: $ROOT/bin/skiff ps $EXAMPLE_APP" >&2
    exit 1
  fi
}
