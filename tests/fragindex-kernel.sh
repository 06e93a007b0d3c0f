#!/bin/sh
# The kernel is the oracle: tools/fragindex run on this machine's
# /proc/buddyinfo must print exactly what debugfs extfrag_index and
# unusable_index print at the same moment. buddyinfo is read before and
# after the debugfs files, all four by one cat (microseconds apart: a
# process per file left a window a busy host changed buddyinfo in every
# time); the comparison counts only when buddyinfo did not change.
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

# a line per zone in each of the three files
zones=$(wc -l </proc/buddyinfo)
for try in $(seq 1 200); do
	cat /proc/buddyinfo $dbg/extfrag_index $dbg/unusable_index /proc/buddyinfo >"$tmp.all"
	sed -n "1,${zones}p" "$tmp.all" >"$tmp.b1"
	sed -n "$((zones + 1)),$((2 * zones))p" "$tmp.all" >"$tmp.e"
	sed -n "$((2 * zones + 1)),$((3 * zones))p" "$tmp.all" >"$tmp.u"
	sed -n "$((3 * zones + 1)),\$p" "$tmp.all" >"$tmp.b2"
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
echo "FAIL: /proc/buddyinfo changed during every one of 200 tries"
exit 1
