#!/usr/bin/env bash
# Fetch axe-core from the npm registry and replace the vendored files with it.
# Usage: internal/browsertest/axe/refresh.sh [version]   (default: the pinned 4.14.1)
set -euo pipefail
version="${1:-4.14.1}"
here="$(cd "$(dirname "$0")" && pwd)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "axe-core@${version}" >/dev/null && tar xzf "axe-core-${version}.tgz")
cp "$tmp/package/axe.min.js" "$tmp/package/LICENSE" "$tmp/package/LICENSE-3RD-PARTY.txt" "$here/"
sri="$(node -e "console.log(require('$tmp/package/sri-history.json')['${version}']['axe.min.js'])")"
echo "axe-core ${version} vendored; axe.min.js ${sri}"
