#!/bin/sh
# Smoke run of the control-socket fuzz target: every seed in
# tests/fuzz-corpus, then 20,000 mutations (in the sanitizer builds a bug
# is a crash). Then, where clang has libFuzzer, 20 seconds of the real thing.
set -eu
srcdir=${SRCDIR:-.}
"${FUZZ_DRIVER:-tests/fuzz_driver}" 20000 "$srcdir"/tests/fuzz-corpus/*
if [ -z "${FUZZ_LIBFUZZER:-}" ]; then
	exit 0
fi
"$srcdir/tests/fuzz-libfuzzer.sh" 20
