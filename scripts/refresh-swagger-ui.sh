#!/usr/bin/env bash
# Refresh the Swagger UI files that /api/docs serves (src/timeledger/server/swagger_ui/) from the
# npm registry: `npm pack swagger-ui-dist@VERSION`, then keep only the bundle, the stylesheet and
# their licence files, and record the version. Usage: scripts/refresh-swagger-ui.sh [VERSION]
# (no VERSION: the registry's latest). Needs npm; run it by hand, then commit the files.
set -euo pipefail
version="${1:-$(npm view swagger-ui-dist version)}"
here="$(cd "$(dirname "$0")/.." && pwd)"
target="$here/src/timeledger/server/swagger_ui"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "swagger-ui-dist@$version" >/dev/null)
tar -xzf "$work"/swagger-ui-dist-*.tgz -C "$work"
mkdir -p "$target"
# LICENSE and NOTICE (Apache-2.0), and the licences of what the bundle includes.
for name in swagger-ui-bundle.js swagger-ui.css LICENSE NOTICE swagger-ui-bundle.js.LICENSE.txt; do
  cp "$work/package/$name" "$target/$name"
done
# The bundle ends with a sourceMappingURL comment for a map we do not ship: drop it.
sed -i '/^\/\/# sourceMappingURL=/d' "$target/swagger-ui-bundle.js"
sed -i 's#/\*\# sourceMappingURL=.*\*/##' "$target/swagger-ui.css"
printf '%s\n' "$version" > "$target/VERSION"
echo "swagger-ui-dist $version -> $target"
