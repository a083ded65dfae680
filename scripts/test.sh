#!/usr/bin/env bash
# Kale's test command: installs the real servers the tests talk to (Debian
# packages, with apt-get), then runs every test with them required, the
# fuzz targets briefly, and vet. CI runs exactly this (.ci/run).
#
#   ./scripts/test.sh            everything (as root, or with sudo available)
#   KALE_SKIP_INSTALL=1 ./scripts/test.sh   do not apt-get (servers already there)
#   KALE_FUZZTIME=30s ./scripts/test.sh     longer fuzzing (default 5s a target)
#   KALE_ZINC_BIN=/path/zincsearch ./scripts/test.sh   use this ZincSearch, not the cached build
#   KALE_ARTIFACTS=/path ./scripts/test.sh   where the browser tests' screenshots go
#                                            (default .artifacts; each test's
#                                            log names its files)
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(redis-server redis-tools graphite-carbon python3-msgpack python3-aiosmtpd chromium)
if [ "${KALE_SKIP_INSTALL:-0}" != 1 ]; then
  missing=()
  for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    sudo=""
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    echo "== installing test servers: ${missing[*]}"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
fi

export KALE_REQUIRE_SERVERS=1

# ZincSearch, the Elasticsearch-API server of oculus/elastic's tests, is not
# packaged: build it once (about 100 s on a cold Go cache) and cache it in
# $HOME/.cache/kale-test, so later runs skip this. KALE_ZINC_BIN overrides.
if [ -z "${KALE_ZINC_BIN:-}" ] && [ ! -x "${HOME:?}/.cache/kale-test/zincsearch-v0.4.10/zincsearch" ]; then
  echo "== building ZincSearch v0.4.10 into $HOME/.cache/kale-test (once)"
  ./scripts/zincsearch.sh
fi
fuzztime="${KALE_FUZZTIME:-5s}"

echo "== go vet"
go vet ./...

# Files the tests keep (t.ArtifactDir: the page's screenshots), replaced
# on each run: go test -artifacts puts them in <dir>/_artifacts/.
artifacts="${KALE_ARTIFACTS:-$PWD/.artifacts}"
rm -rf "$artifacts/_artifacts"
mkdir -p "$artifacts"

log="$(mktemp -d)/kale-test"
echo "== go test (full output: $log.*)"
# -race on the packages with concurrency of their own; the rest plainly.
rc=0
go test -count=1 -v -race ./horizon/... ./internal/store/... >"$log.race" 2>&1 || rc=$?
go test -count=1 -v -artifacts -outputdir "$artifacts" $(go list ./... | grep -v -e /horizon -e /internal/store) >"$log.plain" 2>&1 || rc=$?
# Package results and failures, not the thousands of passing lines.
grep -hE '^(ok|FAIL|--- FAIL|panic:)|^\s+[a-z_]+(_test)?\.go:[0-9]+:' "$log.race" "$log.plain" || true
# A package whose tests silently did not run (go-carbon's TestMain trap)
# reports "ok" with no test in its block: refuse that.
empty=$(awk '/^(=== RUN|--- (PASS|SKIP|FAIL))/ {n++} /^(ok|FAIL|\?) / {if ($1 == "ok" && n == 0) print $2; n = 0}' "$log.race" "$log.plain")
if [ -n "$empty" ]; then
  echo "these packages ran no test: $empty" >&2
  rc=1
fi
if [ "$rc" -ne 0 ]; then
  echo "== tests failed (full output: $log.race, $log.plain)" >&2
  exit "$rc"
fi

echo "== fuzz (${fuzztime} each)"
# Every Fuzz target, found in the sources, run briefly.
grep -rl --include='*_test.go' '^func Fuzz' . | sort | while read -r f; do
  pkg="./$(dirname "${f#./}")"
  for fn in $(grep -o '^func Fuzz[A-Za-z0-9_]*' "$f" | sed 's/^func //'); do
    echo "-- $pkg $fn"
    # A crash saves its input under testdata/fuzz, which the retry replays as
    # a seed, so a real bug fails twice; a one-off engine failure does not.
    if ! go test -run='^$' -fuzz="^${fn}\$" -fuzztime="$fuzztime" "$pkg" >"$log.fuzz" 2>&1; then
      cat "$log.fuzz"
      echo "-- $pkg $fn failed; running it again"
      if ! go test -run='^$' -fuzz="^${fn}\$" -fuzztime="$fuzztime" "$pkg" >"$log.fuzz" 2>&1; then
        cat "$log.fuzz"   # the failing input and where it is saved
        exit 1
      fi
    fi
    tail -n 1 "$log.fuzz"
  done
done
echo "== all tests passed (screenshots of the page: $artifacts/_artifacts)"
