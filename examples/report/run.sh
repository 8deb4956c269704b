#!/bin/sh
# A small, deterministic workload for trying sandlock-learn: it reads CSV
# files, writes a report beside them, and uses a scratch file it deletes.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$here/out"
python3 "$here/report.py" "$here/data" "$here/out/report.txt"
sort "$here/out/report.txt" | head -n 3
