#!/bin/bash
# Interleaved runs of `benchmarks.run` workloads for several versions of the code, so that they are
# compared within one session on one machine (it is noisy: compare within a round, quote medians).
#
#   benchmarks/versions.sh ROUNDS DATA_DIR "WORKLOAD ..." LABEL=CHECKOUT ...
#   git worktree add --detach /tmp/wt-before d78d4ae
#   benchmarks/versions.sh 3 /tmp/bench-i13 "plant-year fleet-night" before-13=/tmp/wt-before main-13=.
#
# Each round runs every workload once per version, in the order given, with this checkout's
# .venv and the version's own code (PYTHONPATH) and benchmark; each JSON is moved to this
# checkout's benchmarks/results as WORKLOAD-LABEL-STAMP.json and summarised on one line
# (wall s, CPU s, DuckDB reference s, readings, days, mean day efficiency %, alerts).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
rounds=$1; data=$2; workloads=$3; shift 3
for round in $(seq "$rounds"); do
  for wl in $workloads; do
    for version in "$@"; do
      label=${version%%=*}; tree=$(cd "${version#*=}" && pwd)
      out=$(cd "$tree" && PYTHONPATH="$tree" "$here/.venv/bin/python" -m benchmarks.run "$wl" --dir "$data" 2>&1) \
        || { echo "$out" >&2; exit 1; }
      json=$(echo "$out" | awk '/^json:/ {print $2}')
      target="$here/benchmarks/results/$wl-$label-$(basename "$json" .json | sed "s/^$wl-//").json"
      [ "$json" = "$target" ] || mv "$json" "$target"
      "$here/.venv/bin/python" - "$target" "$round" "$wl" "$label" <<'PY'
import json, os, sys
d = json.load(open(sys.argv[1])); t = d["thermaliq"]
print(f"round {sys.argv[2]} {sys.argv[3]} {sys.argv[4]}: load {os.getloadavg()[0]:.2f}, "
      f"{t['wall_s']:.1f} s wall, {t['cpu_s']:.1f} s CPU, reference {d['reference']['wall_s']:.2f} s, "
      f"{t['readings_stored']} readings, {t['days_calculated']} days, "
      f"{t['mean_day_efficiency_percent']:.2f} %, {t['alerts']} alerts")
PY
    done
  done
done
