#!/usr/bin/env bash
# initial-load-bench.sh N [N...] [DIR] — the initial load of issue 16, measured.
#
# For each N: generates N persons (20 departments), 5 targets of `type:
# memory`, 20 department roles of 8 entitlements per target plus 2
# birthright entitlements (10 per person and target), then runs, each as
# its own process: `accord import`, `accord plan` (the summary), `accord
# plan --json` to a file, and `accord enforce` (the run is stored, held by
# the creates threshold). For each it prints wall time and peak RSS, read
# from GNU time (/usr/bin/time -v), and the ratio of its time to
# import's; with several sizes a table of all of them follows at the end.
#
# ACCORD names the binary to measure (default: built from this checkout
# into DIR). SKIP_ENFORCE=1 leaves out enforce (at 1,000,000 it is the
# longest step). Each size works in DIR/N.
# Examples:  scripts/initial-load-bench.sh 100000
#            scripts/initial-load-bench.sh 100000 1000000 /var/tmp/load
set -euo pipefail

sizes=()
base=""
for a in "$@"; do
	if [[ $a =~ ^[0-9]+$ ]]; then sizes+=("$a"); else base=$a; fi
done
((${#sizes[@]})) || { echo "usage: initial-load-bench.sh N [N...] [DIR]" >&2; exit 2; }
base=${base:-$(mktemp -d /tmp/accord-initial-load.XXXXXX)}
mkdir -p "$base"
repo=$(cd "$(dirname "$0")/.." && pwd)
if [[ -z ${ACCORD:-} ]]; then
	ACCORD=$base/accord
	(cd "$repo" && go build -o "$ACCORD" ./cmd/accord)
fi
loadgen=$base/loadgen
(cd "$repo" && go build -o "$loadgen" ./scripts/loadgen)
[[ -x /usr/bin/time ]] || { echo "needs GNU time at /usr/bin/time (apt-get install time)" >&2; exit 2; }
summary=$base/summary.md
: >"$summary"

# one_size N measures the initial load of N persons in $base/N.
one_size() {
n=$1
dir=$base/$n
mkdir -p "$dir"
targets=5 depts=20 per_role=8

# The config (a CSV feed, 5 memory targets with 2 birthright entitlements
# each, one role per department granting 8 entitlements on every target)
# and the feed (N persons, departments round-robin, all started), from
# the generator the Go benchmarks use (internal/population).
"$loadgen" -persons "$n" -targets "$targets" -depts "$depts" -per-role "$per_role" -creates 1000 -dir "$dir"
rm -f "$dir"/accord.db*

# measure LABEL EXPECTED-EXIT CMD... runs CMD in DIR under GNU time and
# prints one table row: wall seconds, peak RSS in MiB, and the ratio of
# the wall time to import's (import is measured first).
measure() {
	local label=$1 want=$2 rc=0 row
	shift 2
	(cd "$dir" && /usr/bin/time -v -o "$dir/$label.time" "$@" >"$dir/$label.out" 2>"$dir/$label.err") || rc=$?
	if [[ $rc != "$want" ]]; then
		echo "$label exited $rc (expected $want); see $dir/$label.err" >&2
		tail -5 "$dir/$label.err" >&2
		exit 1
	fi
	row=$(awk -v label="$label" -v n="$n" -v imp="${import_wall:-}" '
		/Elapsed \(wall clock\)/ { w = $NF; k = split(w, p, ":"); s = (k == 3) ? p[1]*3600 + p[2]*60 + p[3] : p[1]*60 + p[2] }
		/Maximum resident set size/ { rss = $NF / 1024 }
		END {
			ratio = (imp > 0) ? sprintf("%.1f×", s / imp) : "1.0×"
			printf "%.3f@@| %s | %s | %.1f s | %.0f MiB | %s |\n", s, n, label, s, rss, ratio
		}' "$dir/$label.time")
	[[ $label == import ]] && import_wall=${row%%@@*}
	echo "${row#*@@}"
	echo "${row#*@@}" >>"$summary"
}

echo "initial load: $n persons x $targets targets x 10 entitlements; binary $ACCORD ($("$ACCORD" version 2>/dev/null | head -1)); checkout $(git -C "$repo" rev-parse --short HEAD); $(nproc) cores, load $(cut -d" " -f1 /proc/loadavg)"
echo "| persons | command | wall time | peak RSS | time / import |"
echo "|---|---|---|---|---|"
import_wall=""
measure import 0 "$ACCORD" import -c accord.yaml
measure plan 0 "$ACCORD" plan -c accord.yaml
measure plan-json 0 "$ACCORD" plan --json -c accord.yaml
[[ -n ${SKIP_ENFORCE:-} ]] ||
measure enforce 3 "$ACCORD" enforce -c accord.yaml
echo "plan output: $(wc -l <"$dir/plan.out") lines; plan --json: $(wc -l <"$dir/plan-json.out") lines, $(du -h "$dir/plan-json.out" | cut -f1)"
grep -m1 -o 'is HELD[^;]*' "$dir/enforce.out" "$dir/enforce.err" 2>/dev/null | head -1 || true
echo "files in $dir"
}

for n in "${sizes[@]}"; do one_size "$n"; done
if ((${#sizes[@]} > 1)); then
	echo
	echo "all sizes ($(nproc) cores, load now $(cut -d" " -f1 /proc/loadavg)):"
	echo "| persons | command | wall time | peak RSS | time / import |"
	echo "|---|---|---|---|---|"
	cat "$summary"
fi
