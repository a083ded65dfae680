#!/usr/bin/env bash
# Kale's test command: installs the real servers the tests talk to (Debian
# packages, with apt-get), then runs every test with them required, the
# fuzz targets briefly, and vet. CI runs exactly this (.ci/run).
#
#   ./scripts/test.sh            everything (as root, or with sudo available)
#   KALE_SKIP_INSTALL=1 ./scripts/test.sh   do not apt-get (servers already there)
#   KALE_FUZZTIME=30s ./scripts/test.sh     longer fuzzing (default 5s a target)
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(redis-server redis-tools graphite-carbon python3-msgpack)
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
fuzztime="${KALE_FUZZTIME:-5s}"

echo "== go vet"
go vet ./...

echo "== go test"
# -race on the packages with concurrency of their own; the rest plainly.
go test -count=1 -race ./horizon/... ./internal/store/... 2>&1 | tee /tmp/kale-test-race.log
go test -count=1 $(go list ./... | grep -v -e /horizon -e /internal/store) 2>&1 | tee /tmp/kale-test.log

echo "== fuzz (${fuzztime} each)"
# Every Fuzz target, found in the sources, run briefly.
grep -rl --include='*_test.go' '^func Fuzz' . | while read -r f; do
  pkg="./$(dirname "${f#./}")"
  for fn in $(grep -o '^func Fuzz[A-Za-z0-9_]*' "$f" | sed 's/^func //'); do
    echo "-- $pkg $fn"
    go test -run='^$' -fuzz="^${fn}\$" -fuzztime="$fuzztime" "$pkg"
  done
done

# A test package that silently ran nothing (go-carbon's TestMain trap) fails.
if grep -h 'no tests to run\|\[no tests\]' /tmp/kale-test-race.log /tmp/kale-test.log | grep -v '\[no test files\]'; then
  echo "a package ran no tests" >&2
  exit 1
fi
echo "== all tests passed"
