#!/bin/sh
# pool-demo on the lock-free allocator: min-move on the bitfields moves
# exactly the lower bound for the chunks it frees, and every frame kept
# holds, byte for byte, what was written into it before the moves.
set -eu
demo=${POOL_DEMO:-tools/pool-demo}
out=$("$demo" --allocator lockfree 7) || { echo "FAIL: pool-demo --allocator lockfree exited $?"; exit 1; }
line=$(echo "$out" | grep '^min-move on the bitfields:')
moved=$(echo "$line" | sed -n 's/.*: \([0-9]*\) frames moved.*/\1/p')
bound=$(echo "$line" | sed -n 's/.*free chunks: \([0-9]*\)).*/\1/p')
chunks=$(echo "$line" | sed -n 's/.*lower bound for \([0-9]*\) free chunks.*/\1/p')
[ -n "$moved" ] && [ "$moved" = "$bound" ] || { echo "FAIL: $line"; exit 1; }
[ "$chunks" -gt 0 ] || { echo "FAIL: no chunk freed: $line"; exit 1; }
echo "$out" | grep -q ' kept frames checked byte for byte: 0 differ$' ||
	{ echo "FAIL: $(echo "$out" | grep 'byte for byte')"; exit 1; }
if "$demo" --allocator slab >/dev/null 2>&1; then echo "FAIL: --allocator slab accepted"; exit 1; fi
echo "PASS: $line"
