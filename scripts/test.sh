#!/bin/sh
# Runs every *.test.ts under packages/ and examples/ with Node's test runner (Node 20's
# --test takes no globs). Extra arguments go to the runner, e.g. --test-name-pattern.
set -e
cd "$(dirname "$0")/.."
files=$(find packages examples -name '*.test.ts' -not -path '*/node_modules/*' | sort)
exec node --import tsx --test --test-concurrency=2 --test-timeout=120000 "$@" $files
