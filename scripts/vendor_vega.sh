#!/usr/bin/env bash
# Refetch the Vega and Vega-Lite browser builds that cards inline into chart pages.
#
#   bash scripts/vendor_vega.sh            # the versions pinned below
#   VEGA=6.4.0 VEGA_LITE=6.4.3 bash scripts/vendor_vega.sh
#
# Needs npm and python. Copies the minified UMD builds and their LICENSE files into
# src/grange/cards/static/, writes VERSIONS.txt there and THIRD-PARTY-NOTICES (every
# package the builds bundle: d3-*, internmap, ..., with its licence text, from
# scripts/vega_notices.py); commit the result.
set -euo pipefail
VEGA="${VEGA:-6.4.0}"
VEGA_LITE="${VEGA_LITE:-6.4.3}"
here="$(cd "$(dirname "$0")/.." && pwd)"
dest="$here/src/grange/cards/static"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
npm install --silent --no-audit --no-fund --prefix "$tmp" "vega@$VEGA" "vega-lite@$VEGA_LITE"
mkdir -p "$dest"
cp "$tmp/node_modules/vega/build/vega.min.js" "$dest/vega.min.js"
cp "$tmp/node_modules/vega/LICENSE" "$dest/vega.LICENSE"
cp "$tmp/node_modules/vega-lite/build/vega-lite.min.js" "$dest/vega-lite.min.js"
cp "$tmp/node_modules/vega-lite/LICENSE" "$dest/vega-lite.LICENSE"
# A page inlines these inside <script>: the text must never close that element.
if grep -qi '</script' "$dest/vega.min.js" "$dest/vega-lite.min.js"; then
    echo "a vendored build contains '</script': cards cannot inline it" >&2
    exit 1
fi
printf 'vega %s\nvega-lite %s\n' "$VEGA" "$VEGA_LITE" > "$dest/VERSIONS.txt"
python "$here/scripts/vega_notices.py" "$tmp" "$dest/THIRD-PARTY-NOTICES"
echo "vendored vega $VEGA and vega-lite $VEGA_LITE into $dest"
