#!/bin/sh
# The memory workloads tools/thp-bench runs (guest/tlbbench, gups, stream,
# bfs, kvstore, btree), small: each passes its own verification and
# reports a figure of merit; gups and kvstore on 2 vCPUs too; each fails
# (exit 1, saying what is wrong) when corrupt=1 damages its result before
# the check, so the check is not one that cannot fail; and prep=frag-huge
# backs every 2 MiB of the span with a host huge page, as thp-bench's (b)
# needs. Skips (77) without /dev/kvm.
set -u
vmdefrag=${VMDEFRAG:-vmm/vmdefrag}
if ! [ -r /dev/kvm ] || ! [ -w /dev/kvm ]; then
	echo "SKIP: /dev/kvm cannot be opened"
	exit 77
fi
out=$(mktemp /tmp/workloads.XXXXXX)
trap 'rm -f "$out"' EXIT
fail() { echo "FAIL: $*"; tail -20 "$out"; exit 1; }

run() {	# EXPECTED_RC CPUS GUEST ARGS
	"$vmdefrag" run "guest/$3.elf" --mem 128M --cpus "$2" --args "$4" >"$out" 2>&1
	rc=$?
	[ $rc = "$1" ] || fail "$3 $4 on $2 vCPU(s) exited $rc, not $1"
}

report() { sed -n "s/^report: $1 //p" "$out"; }

for w in "tlbbench mb=64 accesses=1M" "gups mb=64 updates=1M" "stream mb=96 passes=2" \
	"bfs mb=64 roots=2" "kvstore mb=64 ops=1M" "btree mb=64 keys=100000 ops=200000"; do
	set -- $w
	guest=$1
	shift
	run 0 1 "$guest" "$*"
	score=$(report score_x1000)
	[ "${score:-0}" -gt 0 ] || fail "$guest reported no score"
	case $guest in
	gups) [ "$(report gups_errors)" = 0 ] || fail "gups: $(report gups_errors) errors on 1 vCPU" ;;
	stream) [ "$(report stream_errors)" = 0 ] || fail "stream: errors" ;;
	kvstore) [ $(($(report kvstore_hits) + $(report kvstore_sets))) = "$(report kvstore_ops)" ] ||
		fail "kvstore: GETs that missed" ;;
	esac
	echo "ok: $guest $*: score $score (x1000)"
	[ "$guest" = tlbbench ] && continue
	run 1 1 "$guest" "$* corrupt=1"
	grep -q "^$guest: " "$out" || fail "$guest corrupt=1 did not say what was wrong"
	echo "ok: $guest $* corrupt=1: $(grep "^$guest: " "$out" | head -1)"
done
# a child pointer lost: its leaves are still on the leaf chain, in order
run 1 1 btree "mb=64 keys=100000 ops=200000 corrupt=2"
grep -q "^btree: verification failed" "$out" || fail "btree corrupt=2 did not say what was wrong"
echo "ok: btree corrupt=2 (a lost child): $(grep "^btree: " "$out" | head -1)"
for w in "gups mb=64 updates=2M" "kvstore mb=64 ops=2M"; do
	set -- $w
	run 0 2 "$1" "$2 $3"
	echo "ok: $1 on 2 vCPUs: score $(report score_x1000) (x1000)"
done
# a number that is not one ends the run (exit 2, saying which); a size in
# MiB takes a unit
for bad in "mb=64x" "mb=1.5G" "updates=99999999999999999999" "updates=18014398509481984K" "mb="; do
	run 2 1 gups "$bad mb=64 updates=1M"
	grep -q "^vmd: argument $bad: not a number" "$out" || fail "gups $bad: $(head -3 "$out")"
	echo "ok: gups $bad: $(grep '^vmd: argument' "$out")"
done
run 0 1 gups "mb=64M updates=1M"
[ "$(report gups_words)" = 8388608 ] || fail "gups mb=64M: a table of $(report gups_words) words, not 8 Mi"
echo "ok: gups mb=64M: a 64 MiB table"
run 0 1 tlbbench "prep=frag-huge mb=32 accesses=1M"
ranges=$(report prep_back_huge_ranges)
huge=$(report prep_back_huge_host_huge)
[ "${ranges:-0}" = 16 ] || fail "prep=frag-huge backed ${ranges:-no} ranges, not 16"
if grep -q '\[deny\]' /sys/kernel/mm/transparent_hugepage/shmem_enabled 2>/dev/null; then
	echo "ok: prep=frag-huge: 16 ranges (shmem THP denied here: not host-huge)"
else
	[ "$huge" = 16 ] || fail "prep=frag-huge: $huge of 16 ranges host-huge"
	echo "ok: prep=frag-huge: 16 of 16 ranges host-huge"
fi
echo "PASS"
