#!/bin/sh
# compact-bench's promises, on a 256 MiB pool so it stays quick: for every
# scenario and on both allocators (the buddy, and the lock-free one with
# its compaction on bitfields), min-move ends with at least as many free
# 2 MiB blocks as the two scanners, moves fewer frames (unless the two
# scanners already moved no more than the lower bound, as on the
# alternating pool), and moves exactly the lower bound, as does
# min-move-max; the two scanners on bitfields move what the kernel's do on
# the buddy; a scenario written out with --write-trace and replayed with
# --trace gives the same numbers.
set -eu
bench=${COMPACT_BENCH:-tools/compact-bench}
tmp=$(mktemp -d /tmp/compact-bench.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

check() {	# CSV file: checks the promises, prints the rows
	# scenario,allocator,policy,frames,used,before,after,moved,bound,...
	awk -F, 'NR > 1 {
		s = $1 " " $2
		if ($3 == "twoscanner") {
			tb = $7; tm = $8; tl = $9
			if ($2 == "buddy") two[$1] = $8
			else if ($8 != two[$1]) { print "FAIL " s ": two scanners moved " $8 ", on the buddy " two[$1]; bad = 1 }
		} else {
			if ($7 < tb) { print "FAIL " s ": " $3 " has " $7 " free blocks, twoscanner " tb; bad = 1 }
			if ($8 != $9) { print "FAIL " s ": " $3 " moved " $8 ", the lower bound is " $9; bad = 1 }
		}
		# fewer moves, unless the two scanners already did the least possible
		if ($3 == "minmove" && ($8 > tm || (tm > tl && $8 >= tm))) {
			print "FAIL " s ": minmove moved " $8 ", twoscanner " tm; bad = 1
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
	cut -d, -f2-11 "$tmp/$s.csv" >"$tmp/a"
	cut -d, -f2-11 "$tmp/$s.replay.csv" >"$tmp/b"
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
if "$bench" --allocator slab >/dev/null 2>"$tmp/err"; then echo "FAIL: --allocator slab accepted"; exit 1; fi
grep -q 'buddy, lockfree or all' "$tmp/err"
echo "PASS: compact-bench promises hold and traces replay exactly"
