#!/bin/sh
# compact-bench's promises, on a 256 MiB pool so it stays quick: for every
# scenario, min-move ends with at least as many free 2 MiB blocks as the
# two scanners, moves fewer frames (unless the two scanners already moved
# no more than the lower bound, as on the alternating pool), and
# stays within 1.15x of the lower bound; a scenario written out with
# --write-trace and replayed with --trace gives the same numbers.
set -eu
bench=${COMPACT_BENCH:-tools/compact-bench}
tmp=$(mktemp -d /tmp/compact-bench.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

check() {	# CSV file: checks the promises, prints the rows
	awk -F, 'NR > 1 {
		if ($2 == "twoscanner") { tb = $6; tm = $7; tl = $8 }
		else if ($2 == "minmove") {
			if ($6 < tb) { print "FAIL " $1 ": minmove has " $6 " free blocks, twoscanner " tb; bad = 1 }
			# fewer moves, unless the two scanners already did the least possible
			if ($7 > tm || (tm > tl && $7 >= tm)) { print "FAIL " $1 ": minmove moved " $7 ", twoscanner " tm; bad = 1 }
			if ($7 > 1.15 * $8) { print "FAIL " $1 ": minmove moved " $7 ", bound " $8; bad = 1 }
		}
		print
	} END { exit bad }' "$1"
}

"$bench" --frames 65536 --seed 7 --csv >"$tmp/all.csv"
check "$tmp/all.csv"
for s in alternating random aged; do
	"$bench" --scenario $s --frames 65536 --seed 7 --csv --write-trace "$tmp/$s.trace" >"$tmp/$s.csv"
	"$bench" --trace "$tmp/$s.trace" --frames 65536 --csv >"$tmp/$s.replay.csv"
	check "$tmp/$s.replay.csv" >/dev/null
	# same numbers, but for the name and the time
	cut -d, -f2-10 "$tmp/$s.csv" >"$tmp/a"
	cut -d, -f2-10 "$tmp/$s.replay.csv" >"$tmp/b"
	if ! cmp -s "$tmp/a" "$tmp/b"; then
		echo "FAIL $s: replaying its trace gave other numbers"
		diff "$tmp/a" "$tmp/b"
		exit 1
	fi
done
# bad input is refused with a reason
if "$bench" --frames 1000 >/dev/null 2>"$tmp/err"; then echo "FAIL: --frames 1000 accepted"; exit 1; fi
grep -q 'multiple of 512' "$tmp/err"
if "$bench" --scenario nosuch >/dev/null 2>"$tmp/err"; then echo "FAIL: unknown scenario accepted"; exit 1; fi
grep -q 'unknown scenario' "$tmp/err"
printf 'a 1 0 M\nz\n' >"$tmp/bad.trace"
if "$bench" --trace "$tmp/bad.trace" --frames 512 >/dev/null 2>"$tmp/err"; then echo "FAIL: bad trace accepted"; exit 1; fi
grep -q 'bad.trace:2: unknown operation' "$tmp/err"
echo "PASS: compact-bench promises hold and traces replay exactly"
