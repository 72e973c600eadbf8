#!/usr/bin/env bash
# conf/parley.toml and docs/CONFIGURATION.md are rendered from the option
# table; this fails when either has drifted from the code, and checks that
# the shipped example config loads.
# Usage: docs_generated.sh PARLEYCTL SOURCE_ROOT
set -euo pipefail
parleyctl=$1
root=$2
status=0
if ! diff -u "$root/conf/parley.toml" <("$parleyctl" config-doc example); then
  echo "conf/parley.toml is stale: run build/parleyctl config-doc example > conf/parley.toml"
  status=1
fi
if ! diff -u "$root/docs/CONFIGURATION.md" <("$parleyctl" config-doc markdown); then
  echo "docs/CONFIGURATION.md is stale: run build/parleyctl config-doc markdown > docs/CONFIGURATION.md"
  status=1
fi
"$parleyctl" --config "$root/conf/parley.toml" check-config
exit $status
