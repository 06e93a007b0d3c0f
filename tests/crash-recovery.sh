#!/bin/sh
# A persistent pool (--backing file:PATH,persistent) killed with SIGKILL
# at random moments while guest/pmemtest writes versioned records and
# discards and repopulates runs, and the host compacts through the socket
# (both policies, whole pool and order 9, in turn); after every kill the
# VMM starts again on the same file, recovers it, and the guest, booted
# again at its entry point with recover=1, checks every page against its
# table: 0 bad pages, and the VMM's invariants at its last, clean, exit.
# KILLS (default 6) kills; KEEP_LOG=1 leaves the outputs. Skips (77)
# without /dev/kvm.
set -u
vmdefrag=${VMDEFRAG:-vmm/vmdefrag}
ctl=${VMDEFRAG_CTL:-tools/vmdefrag-ctl}
guest=guest/pmemtest.elf
kills=${KILLS:-6}
if ! [ -r /dev/kvm ] || ! [ -w /dev/kvm ]; then
	echo "SKIP: /dev/kvm cannot be opened"
	exit 77
fi
dir=$(mktemp -d /tmp/crash-recovery.XXXXXX)
pool=$dir/pool sock=$dir/sock
compactor=
cleanup() {
	[ -n "$compactor" ] && kill "$compactor" 2>/dev/null
	[ -n "${pid:-}" ] && kill -9 "$pid" 2>/dev/null
	[ "${KEEP_LOG:-0}" = 1 ] || rm -rf "$dir"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; for f in "$dir"/out.*; do echo "== $f"; tail -20 "$f"; done; exit 1; }

# waits for the guest's line (count times), or fails when the VMM is gone
wait_line() {
	while n=$(grep -c "$1" "$2" 2>/dev/null); [ "${n:-0}" -lt "${3:-1}" ]; do
		kill -0 "$pid" 2>/dev/null || fail "the VMM ended before '$1' ($2)"
		sleep 0.05
	done
}

compact_loop() {
	n=0
	while :; do
		case $((n % 4)) in
		0) a="policy=twoscanner" ;;
		1) a="policy=minmove order=9" ;;
		2) a="policy=minmove" ;;
		3) a="policy=twoscanner order=9" ;;
		esac
		m=$("$ctl" --json "$sock" compact $a 2>/dev/null |
			sed -n 's/.*"frames-moved": *\([0-9]*\).*/\1/p')
		[ -n "$m" ] && echo "$m" >>"$dir/moved" || sleep 0.05
		n=$((n + 1))
	done
}

i=0
while [ $i -le "$kills" ]; do
	out=$dir/out.$i
	args="seconds=0"
	[ $i -gt 0 ] && args="recover=1 seconds=0"
	[ $i -eq "$kills" ] && args="recover=1 seconds=1"
	rm -f "$sock"
	"$vmdefrag" run "$guest" --mem 64M --cpus 1 --proactiveness 0 --stats \
		--backing "file:$pool,persistent" --socket "$sock" --args "$args" >"$out" 2>&1 &
	pid=$!
	wait_line '^pmemtest: .* pages of records' "$out"
	if [ $i -gt 0 ]; then
		grep -q '^vmdefrag: recovered the pool' "$out" || fail "run $i did not recover the pool"
		bad=$(sed -n 's/^report: pmemtest_bad //p' "$out")
		[ "$bad" = 0 ] || fail "run $i: $bad bad pages after the kill"
		# what the runs before wrote is there (a pool that came back
		# empty would pass every check above)
		versions=$(sed -n 's/^report: pmemtest_versions //p' "$out")
		[ "${versions:-0}" -gt 0 ] || fail "run $i: no page holds a write of the runs before"
	fi
	if [ $i -eq "$kills" ]; then
		wait "$pid"
		rc=$?
		pid=
		[ $rc -eq 0 ] || fail "the last run exited $rc"
		grep -q '^stats: invariants ok' "$out" || fail "the last run's invariants: $(grep '^stats: invariants' "$out")"
		break
	fi
	while [ ! -S "$sock" ]; do sleep 0.02; done
	compact_loop &
	compactor=$!
	# a moment between 0.2 and 1.7 s in
	sleep "$(awk -v s="$$$i" 'BEGIN { srand(s); printf "%.2f", 0.2 + rand() * 1.5 }')"
	kill -9 "$pid"
	wait "$pid" 2>/dev/null
	pid=
	kill "$compactor" 2>/dev/null
	wait "$compactor" 2>/dev/null
	compactor=
	i=$((i + 1))
done
newer=$(cat "$dir"/out.* | sed -n 's/^report: pmemtest_newer //p' | awk '{ s += $1 } END { print s + 0 }')
freed=$(cat "$dir"/out.* | sed -n 's/.* \([0-9]*\) frames nobody owned freed.*/\1/p' | awk '{ s += $1 } END { print s + 0 }')
moved=$(awk '{ s += $1 } END { print s + 0 }' "$dir/moved" 2>/dev/null)
[ "${moved:-0}" -gt 0 ] || fail "no frame moved: the kills never came mid-compaction"
echo "PASS: $kills kills, every page checked after each: 0 bad; $moved frames moved by compactions the kills cut into; $newer writes cut off by a kill found whole or half-new; $freed frames nobody owned freed by recovery"
