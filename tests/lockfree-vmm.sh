#!/bin/sh
# The VMM's integration tests again, with every VMM they start on the
# lock-free allocator (vmdefrag run --allocator lockfree, added by
# tests/vmm_harness.c when VMDEFRAG_TEST_ALLOCATOR is set): guests,
# populate and discard, kcompactd, huge requests and the reserve, and
# reqfuzz (compacting through the socket) with the VMM's invariants
# (zone_check: the descriptors against the bits) at the end.
# Skips (77) only when every one of them skipped (no /dev/kvm).
set -u
VMDEFRAG_TEST_ALLOCATOR=lockfree
export VMDEFRAG_TEST_ALLOCATOR
failed= ran=0
for t in check_vmm check_control check_huge check_reqfuzz; do
	echo "== tests/$t on the lock-free allocator"
	tests/$t
	rc=$?
	case $rc in
	0) ran=$((ran + 1)) ;;
	77) ;;
	*) failed="$failed $t" ;;
	esac
done
if [ -n "$failed" ]; then
	echo "FAIL on the lock-free allocator:$failed"
	exit 1
fi
[ "$ran" -gt 0 ] || exit 77
echo "PASS: $ran integration tests on the lock-free allocator"
