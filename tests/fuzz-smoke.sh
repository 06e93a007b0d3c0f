#!/bin/sh
# make check's fuzz run. Every target in tests/fuzz-targets is built with
# this build's compiler and flags (so under ASan+UBSan, or TSan, in those
# builds) around tests/fuzz_driver.c and run on every seed of its corpus
# (tests/fuzz-corpus/NAME/) and FUZZ_SMOKE_RUNS (default 3000) mutations
# of them. Then, in a build without sanitizers of its own and where clang
# has libFuzzer, a few seconds (FUZZ_SMOKE_SECONDS, default 3) of the real
# thing per target (tools/fuzz).
set -eu
srcdir=${SRCDIR:-.}
cc=${FUZZ_CC:-cc}
cflags=${FUZZ_CFLAGS:--O2 -pthread}
ldflags=${FUZZ_LDFLAGS:--pthread}
runs=${FUZZ_SMOKE_RUNS:-3000}
out=tests/fuzz-smoke.d
mkdir -p "$out"
while read -r name pkgs srcs; do
	case $name in ''|'#'*) continue ;; esac
	# the sources; the words with a - are for libFuzzer builds (tools/fuzz)
	files=$(cd "$srcdir" && for g in $srcs; do case $g in -*) ;; *) printf '%s\n' "$srcdir/$g" ;; esac; done)
	pcflags= plibs=
	if [ "$pkgs" != - ]; then
		pcflags=$(pkg-config --cflags $pkgs)
		plibs=$(pkg-config --libs $pkgs)
	fi
	# shellcheck disable=SC2086
	$cc $cflags -D_GNU_SOURCE -I"$srcdir" $pcflags "$srcdir/tests/fuzz_driver.c" $files \
		-o "$out/fuzz_driver_$name" $ldflags $plibs -lm
	printf '%s: ' "$name"
	"$out/fuzz_driver_$name" "$runs" "$srcdir/tests/fuzz-corpus/$name"/*
done < "$srcdir/tests/fuzz-targets"

case " $cflags " in
*" -fsanitize="*)
	echo "libFuzzer: left to the build without sanitizers"
	exit 0 ;;
esac
rc=0
"$srcdir/tools/fuzz" --seconds "${FUZZ_SMOKE_SECONDS:-3}" || rc=$?
if [ "$rc" = 77 ]; then
	echo "libFuzzer: clang is not installed, skipped"
	exit 0
fi
exit "$rc"
