#!/usr/bin/env bash
# The whole test suite, from a fresh machine: install the tools, build the fixture images into a
# cache (reused across runs), check formatting and lints, run every test.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
export IMAGEWISE_FIXTURES="${IMAGEWISE_FIXTURES:-/var/cache/imagewise-fixtures}"
bash scripts/fixtures.sh "$IMAGEWISE_FIXTURES"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings
cargo test --workspace
