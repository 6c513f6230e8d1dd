#!/bin/sh
# Skiff's pre-receive hook. Skiff installs it, and rewrites it each time it
# prepares this repository, so edits here do not last.
#
# It hands the push to the Skiff server, which runs the pipeline while git
# holds the pushed objects in quarantine, and copies the server's answer to
# stderr line by line as it arrives: git shows a hook's stderr to the pusher
# as `remote:` lines. The answer's last line is the verdict; the exit code
# (0 or 1) accepts or rejects the push.
#
# POSIX sh and curl only, because every push waits for it: measured on one
# machine, this whole hook took about 0.02 s against a local server, where a
# Node.js client took 0.15 s (Node.js alone takes about 0.1 s to start).
#
# The server's address, the hook token and the app come in the environment of
# the `git http-backend` the server starts, so a push that did not come through
# the server is refused, and nothing here names a port or holds a secret. The
# wire format is described in src/git/hook-protocol.ts.

refuse() {
  printf 'skiff: push rejected: %s\n' "$1" >&2
  exit 1
}

# git runs the hook in the bare repository, APP.git (githooks(5)).
repository=${PWD##*/}
if [ -z "$SKIFF_HOOK_URL" ] || [ -z "$SKIFF_HOOK_TOKEN" ] || [ -z "$SKIFF_APP" ]; then
  printf '%s\n' \
    "skiff: push refused: it did not come through the Skiff server, so no pipeline would run." \
    "skiff: push to the app's git remote instead: git push http://<skiff-host>:7070/git/$repository main" \
    "skiff: (\`skiff apps:info ${repository%.git}\` shows the remote)" >&2
  exit 1
fi

# The token goes to curl in its config on a file descriptor, never as an
# argument (ps shows every process's arguments to every user), and curl does
# not inherit it in its environment either.
token=$SKIFF_HOOK_TOKEN
unset SKIFF_HOOK_TOKEN
case $token in
  *[!A-Za-z0-9_-]*)
    refuse "SKIFF_HOOK_TOKEN is not a token the Skiff server made (base64url); push through the server's git remote, and restart the server if this persists"
    ;;
esac

if ! command -v curl >/dev/null 2>&1; then
  refuse "this hook needs curl to reach the Skiff server, and curl is not installed on the server's host; install it (Debian: apt-get install curl), then push again"
fi

# scheme://host:port of the hook URL, for messages.
rest=${SKIFF_HOOK_URL#*://}
origin=${SKIFF_HOOK_URL%%://*}://${rest%%/*}

# Sends the push: git's variables as they are and the ref updates from stdin,
# each value URL-encoded by curl (--data-urlencode), so no ref name or path is
# ever parsed or quoted here. -q (first): no ~/.curlrc. --no-buffer: each chunk
# of the answer is written as it arrives. --write-out reports the HTTP status,
# curl's exit code and its error on stderr, which the caller collects.
send_push() {
  curl -q --silent --no-buffer --noproxy '*' --connect-timeout 10 \
    --config /dev/fd/3 \
    --data-urlencode "app=$SKIFF_APP" \
    --data-urlencode "cwd=$PWD" \
    --data-urlencode "GIT_DIR=$GIT_DIR" \
    --data-urlencode "GIT_OBJECT_DIRECTORY=$GIT_OBJECT_DIRECTORY" \
    --data-urlencode "GIT_ALTERNATE_OBJECT_DIRECTORIES=$GIT_ALTERNATE_OBJECT_DIRECTORIES" \
    --data-urlencode "GIT_QUARANTINE_PATH=$GIT_QUARANTINE_PATH" \
    --data-urlencode "updates@-" \
    --write-out '%{stderr}%{http_code} %{exitcode} %{errormsg}' \
    --url "$SKIFF_HOOK_URL" 3<<CONFIG
header = "Authorization: Bearer $token"
header = "Accept: text/plain"
CONFIG
}

# Copies the answer to stderr a line at a time, except the verdict, which
# counts only as the last line (a line after it means it was not the verdict).
# Returns 0 for `::skiff-result ok`, 1 for `::skiff-result failed <reason>`
# (having said why), 2 when the answer ended without a verdict.
print_answer() {
  verdict=none
  while IFS= read -r line || [ -n "$line" ]; do
    case $line in
      '::skiff-result ok')
        verdict=ok
        ;;
      '::skiff-result failed' | '::skiff-result failed '*)
        verdict=failed
        reason=${line#'::skiff-result failed'}
        while [ "${reason# }" != "$reason" ]; do reason=${reason# }; done
        ;;
      *)
        verdict=none
        printf '%s\n' "$line" >&2
        ;;
    esac
  done
  case $verdict in
    ok) return 0 ;;
    failed)
      printf 'skiff: push rejected: %s\n' "${reason:-the pipeline failed}" >&2
      return 1
      ;;
  esac
  return 2
}

# fd 4 is the command substitution: curl's report goes there, the answer
# through print_answer to stderr; $? is print_answer's.
report=$({ send_push 2>&4 | print_answer; } 4>&1)
answer=$?
[ "$answer" = 1 ] && exit 1

status=${report%% *}
rest=${report#* }
curl_exit=${rest%% *}
curl_error=${rest#* }
case $status in
  000 | '')
    refuse "could not reach the Skiff server at $origin (${curl_error:-curl stopped without a report}); is it running? (skiff server status)"
    ;;
  200) ;;
  *)
    refuse "the Skiff server refused the push hook (HTTP $status); restart the server if this persists"
    ;;
esac
if [ "$curl_exit" != 0 ]; then
  refuse "the connection to the Skiff server broke before the pipeline finished ($curl_error); see \`skiff releases\` for what went live"
fi
[ "$answer" = 0 ] && exit 0
refuse "the Skiff server's answer ended without a result (did the server stop?); see \`skiff releases\` for what went live"
