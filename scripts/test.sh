#!/bin/sh
# Runs every *.test.ts under packages/ and examples/ with Node's test runner (Node 20's
# --test takes no globs), then the suites that start servers again on PostgreSQL, so every
# feature is tested on both stores. Extra arguments go to the runner.
set -e
cd "$(dirname "$0")/.."
run() { node --import tsx --test --test-concurrency=2 --test-timeout=120000 "$@"; }
all=$(find packages examples -name '*.test.ts' -not -path '*/node_modules/*' | sort)
# Suites that start a server (the client suites too) run again on PostgreSQL; the rest (pure functions, the store
# conformance suite that opens both stores itself, the cluster that is PostgreSQL only) run once.
stores=$(grep -l -E 'startTestServer|startServerProcess|startClientServer' $all | grep -v '/cluster/' || true)
echo "# store: sqlite"
run "$@" $all
if [ -n "$stores" ]; then
  echo "# store: postgres"
  node --import tsx scripts/drop-test-databases.ts
  status=0
  RUNLET_TEST_STORE=postgres run "$@" $stores || status=$?
  node --import tsx scripts/drop-test-databases.ts
  exit $status
fi
