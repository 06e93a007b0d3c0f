#!/bin/sh
# The kernel is the oracle: tools/fragindex run on this machine's
# /proc/buddyinfo must print exactly what debugfs extfrag_index and
# unusable_index print at the same moment. buddyinfo is read before and
# after the debugfs files; the comparison counts only when it did not change.
set -u
fragindex=${FRAGINDEX:-tools/fragindex}
dbg=/sys/kernel/debug/extfrag
mounted=
cleanup() {
	rm -f "$tmp".*
	if [ -n "$mounted" ]; then umount /sys/kernel/debug; fi
}
tmp=$(mktemp /tmp/fragindex-kernel.XXXXXX)
trap cleanup EXIT

if [ ! -r $dbg/extfrag_index ] && ! grep -q ' /sys/kernel/debug debugfs' /proc/mounts; then
	mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null && mounted=1
fi
if ! cat $dbg/extfrag_index >/dev/null 2>&1; then
	echo "SKIP: cannot read $dbg/extfrag_index (needs root and a kernel with debugfs)"
	exit 77
fi

for try in $(seq 1 50); do
	cat /proc/buddyinfo >"$tmp.b1"
	cat $dbg/extfrag_index >"$tmp.e"
	cat $dbg/unusable_index >"$tmp.u"
	cat /proc/buddyinfo >"$tmp.b2"
	cmp -s "$tmp.b1" "$tmp.b2" || continue
	"$fragindex" "$tmp.b1" >"$tmp.oe" || exit 1
	"$fragindex" --unusable "$tmp.b1" >"$tmp.ou" || exit 1
	if ! cmp -s "$tmp.e" "$tmp.oe"; then
		echo "FAIL: extfrag_index differs from the kernel's (try $try)"
		diff "$tmp.e" "$tmp.oe"
		exit 1
	fi
	if ! cmp -s "$tmp.u" "$tmp.ou"; then
		echo "FAIL: unusable_index differs from the kernel's (try $try)"
		diff "$tmp.u" "$tmp.ou"
		exit 1
	fi
	echo "PASS: extfrag_index and unusable_index equal the kernel's ($(wc -l <"$tmp.b1") zones, try $try)"
	cat "$tmp.b1" "$tmp.ou"
	exit 0
done
echo "FAIL: /proc/buddyinfo changed during every one of 50 tries"
exit 1
