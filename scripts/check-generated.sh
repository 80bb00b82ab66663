#!/usr/bin/env bash
# Fails when a generated TypeScript file is not what the Rust types give:
# regenerates into the tree, then asks git whether anything changed or appeared.
set -euo pipefail
cd "$(dirname "$0")/.."
GENERATED=(widget/src/generated ui/src/lib/generated)

bash scripts/gen-types.sh
untracked="$(git ls-files --others --exclude-standard -- "${GENERATED[@]}")"
if ! git diff --exit-code -- "${GENERATED[@]}" || [ -n "$untracked" ]; then
  [ -n "$untracked" ] && printf 'not committed: %s\n' $untracked
  echo "generated TypeScript is out of date: run scripts/gen-types.sh and commit the result" >&2
  exit 1
fi
echo "generated TypeScript is up to date"
