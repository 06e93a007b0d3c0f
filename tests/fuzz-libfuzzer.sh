#!/bin/sh
# Builds the control-socket fuzz target with clang's libFuzzer (and ASan,
# UBSan) and runs it for SECONDS (default 60) from tests/fuzz-corpus.
#   usage: tests/fuzz-libfuzzer.sh [SECONDS]   (from the source tree)
set -eu
srcdir=${SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
secs=${1:-60}
out=$(mktemp -d /tmp/fuzz-qmp.XXXXXX)
trap 'rm -rf "$out"' EXIT
if ! command -v clang >/dev/null; then
	echo "SKIP: clang is not installed"
	exit 77
fi
clang -g -O1 -fsanitize=fuzzer,address,undefined -I"$srcdir" $(pkg-config --cflags json-c) \
	"$srcdir"/tests/fuzz_qmp.c "$srcdir"/tests/control_fake.c "$srcdir"/vmm/qmp.c \
	"$srcdir"/vmm/commands.c "$srcdir"/vmm/guest_mem.c "$srcdir"/vmm/sysctl.c "$srcdir"/mm/*.c \
	-o "$out/fuzz_qmp" $(pkg-config --libs json-c) -lm -lpthread
mkdir "$out/corpus"
cp "$srcdir"/tests/fuzz-corpus/* "$out/corpus/"
"$out/fuzz_qmp" -max_total_time="$secs" -max_len=4096 "$out/corpus" 2>"$out/log" || {
	tail -40 "$out/log"
	exit 1
}
grep -E '^Done|#[0-9]+.*DONE' "$out/log" | tail -1
