#!/usr/bin/env bash
# Builds ZincSearch v0.4.10, the Elasticsearch-API server Kale's tests of the
# Elasticsearch backend (oculus/elastic) run against, and caches the binary
# outside the repository so later runs skip the build.
#
#   ./scripts/zincsearch.sh            build into $HOME/.cache/kale-test/zincsearch-v0.4.10/
#   ./scripts/zincsearch.sh DIR        build into DIR (the binary is DIR/zincsearch)
#   KALE_ZINC_UI=1 ./scripts/zincsearch.sh   also build the web UI with npm
#
# It follows ZincSearch's own build steps on a copy of the module source
# (`go install` cannot install it: the proxy refuses its version list, and
# the embedded UI is not in the module). The Go build embeds web/dist; the
# tests never use the UI, so by default web/dist is a one-page placeholder
# and no npm is needed. Zinc needs Go 1.21 (one of its dependencies does not
# compile with Go 1.22 or later): GOTOOLCHAIN=go1.21.13 fetches it through
# the Go module proxy.
#
# Quiet on success (nothing printed, exit 0, also when the binary is already
# there); on failure it prints the step that failed, the end of its output,
# and where the full log is. Concurrent runs wait for each other (flock).
set -euo pipefail

version=v0.4.10
module=github.com/zincsearch/zincsearch
toolchain=go1.21.13
out_dir="${1:-${HOME:?HOME is not set}/.cache/kale-test/zincsearch-$version}"
bin="$out_dir/zincsearch"

fail() {
  echo "zincsearch.sh: $*" >&2
  exit 1
}

[ -x "$bin" ] && exit 0
command -v go >/dev/null || fail "go is not on PATH: install Go (https://go.dev/dl/) and run this again"
mkdir -p "$out_dir" || fail "cannot create $out_dir"

# One build at a time: test binaries of several packages may all ask.
if command -v flock >/dev/null; then
  exec 9>"$out_dir/.lock"
  flock 9
  [ -x "$bin" ] && exit 0 # built by the run we waited for
fi

work="$(mktemp -d)"
log="$(mktemp -t zincsearch-build.XXXXXX.log)"
cleanup() { chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

# step DESCRIPTION COMMAND...: runs the command with its output in the log;
# on failure prints the log's end and exits.
step() {
  local what="$1"
  shift
  echo "== $what: $*" >>"$log"
  if ! "$@" >>"$log" 2>&1; then
    echo "zincsearch.sh: $what failed. Last lines of its output:" >&2
    tail -n 30 "$log" | sed 's/^/  /' >&2
    echo "zincsearch.sh: full log in $log" >&2
    exit 1
  fi
}

# The module source, from the Go module proxy (run outside any module, so
# no go.mod or go.sum is touched).
dl="$work/download.json"
step "downloading $module@$version" sh -c "cd '$work' && GOFLAGS=-mod=mod go mod download -json '$module@$version' >'$dl' 2>&1 || { cat '$dl'; exit 1; }"
src="$(sed -n 's/.*"Dir": "\(.*\)".*/\1/p' "$dl")"
[ -n "$src" ] && [ -d "$src" ] || fail "go mod download did not give the source folder of $module@$version (see $dl in $log)"

step "copying the source" cp -r "$src/." "$work/src"
chmod -R u+w "$work/src"

if [ "${KALE_ZINC_UI:-0}" = 1 ]; then
  command -v npm >/dev/null || fail "KALE_ZINC_UI=1 needs npm (apt-get install -y npm), or unset it to build without the UI"
  step "building the web UI with npm" sh -c "cd '$work/src/web' && CYPRESS_INSTALL_BINARY=0 npm ci --no-audit --no-fund && npm run build"
else
  mkdir -p "$work/src/web/dist"
  cat >"$work/src/web/dist/index.html" <<'EOF'
<!doctype html>
<title>ZincSearch (built for Kale's tests)</title>
<p>This ZincSearch was built by Kale's scripts/zincsearch.sh without its web UI. The API is under /es and /api.
Build with KALE_ZINC_UI=1 for the UI.</p>
EOF
fi

ldflags="-s -w -X $module/pkg/meta.Version=$version"
step "building zincsearch with $toolchain" sh -c "cd '$work/src' && GOTOOLCHAIN=$toolchain CGO_ENABLED=0 GOFLAGS=-buildvcs=false go build -trimpath -ldflags='$ldflags' -o '$work/zincsearch' ./cmd/zincsearch"
# Its package init opens ZINC_DATA_PATH, so give it a throw-away one.
step "checking the binary" sh -c "cd '$work' && ZINC_DATA_PATH='$work/data' ZINC_FIRST_ADMIN_USER=check ZINC_FIRST_ADMIN_PASSWORD=check ZINC_TELEMETRY=false ZINC_SENTRY=false ./zincsearch version"
# Rename into place: another process never sees a half-written binary.
step "installing into $out_dir" sh -c "mv -f '$work/zincsearch' '$bin.tmp' && mv -f '$bin.tmp' '$bin'"
rm -f "$log"
