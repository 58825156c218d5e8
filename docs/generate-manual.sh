#!/usr/bin/env bash
# Regenerates docs/gigachatctl.1 from gigachatctl's own help with swift-argument-parser's
# generate-manual plugin (works offline), then makes two fixes the generator cannot:
#  - EXIT STATUS lists gigachatctl's codes (read back from `gigachatctl --help`) instead of the
#    generic ".Ex -std" ("exits 0 on success, and >0 if an error occurs");
#  - the same list, which --help shows in the description, is not repeated there;
#  - blank lines inside descriptions become paragraph breaks (mdoc warns about empty lines).
# Usage: docs/generate-manual.sh   (from anywhere; builds in debug mode, a few seconds when built)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
swift package plugin generate-manual --configuration debug --authors 'gigachatd contributors' >"$log" 2>&1 \
  || { cat "$log" >&2; exit 1; }
generated=.build/plugins/GenerateManual/outputs/gigachatctl/gigachatctl.1
codes=$(.build/debug/gigachatctl --help | sed -n 's/^  \([0-9][0-9]*\)  *\(.*\)$/\1\t\2/p')
[ -n "$codes" ] || { echo "generate-manual.sh: no exit codes found in gigachatctl --help" >&2; exit 1; }
awk -v codes="$codes" '
  /^\.Ex -std$/ {
    print ".Bl -tag -width 6n -compact"
    n = split(codes, lines, "\n")
    for (i = 1; i <= n; i++) { split(lines[i], f, "\t"); print ".It " f[1]; print f[2] }
    print ".El"
    next
  }
  /^Exit status:$/ { held = ""; skipping = 1; next }
  skipping && /^  [0-9]+ / { next }
  { skipping = 0 }
  held != "" { print held; held = "" }
  /^$/ { held = ".Pp"; next }
  { print }
  END { if (held != "") print held }
' "$generated" > docs/gigachatctl.1
echo "wrote docs/gigachatctl.1"
