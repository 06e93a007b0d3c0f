#!/bin/sh
# A persistent pool (--backing file:PATH,persistent) killed while
# guest/pmemtest writes versioned records and discards and repopulates
# runs, and the host compacts through the socket (both policies, whole
# pool and order 9, in turn): first with SIGKILL at KILLS (default 6)
# random moments, then, where failpoints are compiled in (./configure
# --enable-failpoints: the test builds), once at each failpoint between
# two stores of a populate, a discard, a move, a back-huge, a plug-huge,
# the huge reserve and the allocator's own steps (lib/failpoint.h), the
# process dying FAILPOINT_WAIT_MS (default 50) after it gets there while
# the guest goes on writing wherever it still may. After
# every kill the VMM starts again on the same file and recovers it, and
# the guest, booted again with recover=1, checks every page against its
# table: 0 bad pages each time, the runs' writes still there, and the
# VMM's invariants at the last, clean, exit.
# KEEP_LOG=1 leaves the outputs; MEM (default 64M) sizes the guest;
# FAILPOINTS replaces the list below; POOL_DIR puts the pool file there
# (default: once in /tmp, once in /dev/shm); SYNC=1 opens it with ,sync.
# Skips (77) without /dev/kvm.
set -u
vmdefrag=${VMDEFRAG:-vmm/vmdefrag}
ctl=${VMDEFRAG_CTL:-tools/vmdefrag-ctl}
guest=guest/pmemtest.elf
kills=${KILLS:-6}
# NAME:N - the Nth pass kills: past boot, into the guest's and the host's work
failpoints=${FAILPOINTS:-"populate-allocated:100 discard-unmapped:4 discard-punched:4 move-copied:5
move-remapped:5 move-switched:5 move-released:5 lf-frame-reserved:50 lf-frame-bit-cleared:200 huge-block-taken:3
huge-copied:2 huge-rebinding:300 huge-rebound:2 huge-plugged:1"}
mem=${MEM:-64M}
sync=$([ "${SYNC:-0}" = 1 ] && echo ,sync)
if ! [ -r /dev/kvm ] || ! [ -w /dev/kvm ]; then
	echo "SKIP: /dev/kvm cannot be opened"
	exit 77
fi
# By default twice: the pool in a file on disk (under /tmp), then on tmpfs
# (/dev/shm), where 2 MiB pages and the huge reserve join in.
if [ -z "${POOL_DIR:-}" ]; then
	POOL_DIR=/tmp sh "$0" || exit $?
	[ "$(stat -f -c %T /dev/shm 2>/dev/null)" = tmpfs ] && [ "$(stat -f -c %T /tmp)" != tmpfs ] ||
		exit 0
	POOL_DIR=/dev/shm exec sh "$0"
fi
if [ "$(stat -f -c %T "$POOL_DIR")" = tmpfs ] && [ -z "${FAILPOINTS:-}" ]; then
	failpoints="$failpoints reserve-taken:2 reserve-punched:1"
fi
echo "the pool in $POOL_DIR ($(stat -f -c %T "$POOL_DIR"))"
dir=$(mktemp -d /tmp/crash-recovery.XXXXXX)
pool=$POOL_DIR/crash-recovery-pool.$$ sock=$dir/sock
compactor= pid=
# a VMM killed outright cannot put back the vm.max_map_count it raised
old_map_count=$(cat /proc/sys/vm/max_map_count)
cleanup() {
	echo "$old_map_count" >/proc/sys/vm/max_map_count 2>/dev/null
	[ -n "$compactor" ] && kill "$compactor" 2>/dev/null
	[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
	[ "${KEEP_LOG:-0}" = 1 ] || rm -rf "$dir" "$pool"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; for f in "$dir"/out.*; do echo "== $f"; tail -20 "$f"; done; exit 1; }

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

# What a run found of the kill before it: 0 bad pages, the writes there.
# A run killed while it was still recovering (a failpoint in the frees
# recovery makes) printed nothing: the next run recovers both kills.
check_recovered() {	# out [rc]
	if [ "${2:-0}" = 137 ] && ! grep -q '^vmdefrag: ' "$1"; then
		mid_recovery=$((mid_recovery + 1))
		return 0
	fi
	grep -q '^vmdefrag: recovered the pool' "$1" || fail "$1: the pool was not recovered"
	grep -q '^report: pmemtest_bad' "$1" || return 0	# killed before its check
	bad=$(sed -n 's/^report: pmemtest_bad //p' "$1")
	[ "$bad" = 0 ] || fail "$1: $bad bad pages after the kill"
	versions=$(sed -n 's/^report: pmemtest_versions //p' "$1")
	[ "$writes_seen" = 0 ] || [ "${versions:-0}" -gt 0 ] ||
		fail "$1: no page holds a write of the runs before"
}

# One run: start (with the environment given), let the host compact, and
# kill at a random moment ("random") or wait for the failpoint to.
run=0 writes_seen=0 mid_recovery=0
one_run() {	# mode args [failpoint]
	out=$dir/out.$run
	rm -f "$sock"
	VMDEFRAG_FAILPOINT=${3:-} VMDEFRAG_FAILPOINT_WAIT_MS=${FAILPOINT_WAIT_MS:-50} "$vmdefrag" run "$guest" --mem "$mem" --plug 8M --proactiveness 0 --stats \
		--backing "file:$pool,persistent$sync" --socket "$sock" --args "$2" >"$out" 2>&1 &
	pid=$!
	while [ ! -S "$sock" ] && kill -0 "$pid" 2>/dev/null; do sleep 0.02; done
	[ $run -gt 0 ] && [ -S "$sock" ] && while kill -0 "$pid" 2>/dev/null &&
		! grep -q '^pmemtest: .* pages of records' "$out"; do sleep 0.02; done
	if kill -0 "$pid" 2>/dev/null; then
		compact_loop &
		compactor=$!
	fi
	if [ "$1" = random ]; then
		sleep "$(awk -v s="$$$run" 'BEGIN { srand(s); printf "%.2f", 0.2 + rand() * 1.5 }')"
		kill -9 "$pid" 2>/dev/null
		wait "$pid"
		rc=$?
	else
		t=0
		while kill -0 "$pid" 2>/dev/null && [ $t -lt 600 ]; do sleep 0.05; t=$((t + 1)); done
		kill -0 "$pid" 2>/dev/null && fail "failpoint $3 was never reached in 30 s"
		wait "$pid"
		rc=$?
		[ $rc = 137 ] || fail "run $run (failpoint $3) ended with $rc, not SIGKILL"
	fi
	pid=
	[ -n "$compactor" ] && kill "$compactor" 2>/dev/null && wait "$compactor" 2>/dev/null
	compactor=
	[ $run -gt 0 ] && check_recovered "$out" "$rc"
	grep -q '^pmemtest: .* pages of records' "$out" && writes_seen=1
	run=$((run + 1))
}

i=0
while [ $i -lt "$kills" ]; do
	if [ $run = 0 ]; then one_run random "seconds=0"; else one_run random "recover=1 seconds=0"; fi
	i=$((i + 1))
done
points=0
if VMDEFRAG_FAILPOINT=start "$vmdefrag" --version >/dev/null 2>&1; then
	echo "failpoints are not compiled in (./configure --enable-failpoints): random kills only"
else
	for fp in $failpoints; do
		one_run failpoint "recover=1 seconds=0" "$fp"
		points=$((points + 1))
	done
fi
# the last run checks the last kill, then ends cleanly
out=$dir/out.$run
"$vmdefrag" run "$guest" --mem "$mem" --plug 8M --stats --backing "file:$pool,persistent$sync" \
	--args "recover=1 seconds=1" >"$out" 2>&1
rc=$?
[ $rc -eq 0 ] || fail "the last run exited $rc"
check_recovered "$out"
grep -q '^stats: invariants ok' "$out" || fail "the last run's invariants: $(grep '^stats: invariants' "$out")"
newer=$(cat "$dir"/out.* | sed -n 's/^report: pmemtest_newer //p' | awk '{ s += $1 } END { print s + 0 }')
freed=$(cat "$dir"/out.* | sed -n 's/.* \([0-9]*\) frames nobody owned freed.*/\1/p' | awk '{ s += $1 } END { print s + 0 }')
moved=$(awk '{ s += $1 } END { print s + 0 }' "$dir/moved" 2>/dev/null)
checked=$(cat "$dir"/out.* | sed -n 's/^report: pmemtest_checked //p' | awk '{ s += $1 } END { print s + 0 }')
backed=$(cat "$dir"/out.* | sed -n 's/^report: pmemtest_backed //p' | awk '{ s += $1 } END { print s + 0 }')
[ "${moved:-0}" -gt 0 ] || fail "no frame moved: the kills never came mid-compaction"
echo "PASS: $kills random kills and $points failpoints ($mid_recovery of them while recovering), every page checked after each ($checked page checks): 0 bad; $backed ranges made huge by back-huge in the runs that ended; $moved frames moved by compactions the kills cut into; $newer writes cut off by a kill; $freed frames nobody owned freed by recovery"
