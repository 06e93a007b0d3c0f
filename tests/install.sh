#!/bin/sh
# An installed vmdefrag is a working system: make install into a scratch
# DESTDIR, then with only the installed bin/ on PATH, every program gives
# the package version, `vmdefrag run hello` boots the installed guest by
# name, a guest built outside the tree with the SDK's pkg-config file boots,
# `man vmdefrag` documents exactly the options `vmdefrag run --help` lists,
# and make uninstall leaves no file behind. Needs /dev/kvm for the boots
# (77 without, after the checks that do not boot). With INSTALLCHECK=1
# (make installcheck, which distcheck runs) it checks the tree installed at
# the configured prefix instead, and neither installs nor uninstalls.
set -eu
: "${BUILDDIR:?}" "${PACKAGE_VERSION:?}"
# the configured directories, from the Makefile
bindir=${INST_BINDIR:?} libdir=${INST_LIBDIR:?} pkglibdir=${INST_PKGLIBDIR:?}
includedir=${INST_INCLUDEDIR:?} mandir=${INST_MANDIR:?}
tmp=$(mktemp -d /tmp/vmdefrag-install.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
root=$tmp/root
[ "${INSTALLCHECK:-0}" = 1 ] && root=
fail() {
	echo "install.sh: $*" >&2
	exit 1
}

if [ -n "$root" ]; then
	make -s -C "$BUILDDIR" install DESTDIR="$root" >"$tmp/make.log" 2>&1 ||
		{ cat "$tmp/make.log" >&2; fail "make install failed"; }
fi
bin=$root$bindir
for f in "$bin/vmdefrag" "$bin/vmdefrag-ctl" "$bin/fragmap" "$bin/fragindex" \
	"$root$pkglibdir/guests/hello.elf" "$root$pkglibdir/guests/memtest.elf" \
	"$root$includedir/vmdefrag/vmd.h" "$root$includedir/vmdefrag/vmdefrag_abi.h" \
	"$root$pkglibdir/libvmdguest.a" "$root$pkglibdir/guest.lds" \
	"$root$libdir/pkgconfig/vmdefrag-guest.pc" \
	"$root$mandir/man1/vmdefrag.1" "$root$mandir/man1/vmdefrag-ctl.1" \
	"$root$mandir/man1/fragmap.1" "$root$mandir/man1/fragindex.1" \
	"$root$mandir/man7/vmdefrag-guest.7"; do
	[ -f "$f" ] || fail "make install did not install ${f#"$root"}"
done

# only what was installed: PATH is the installed bin/ alone
run() {
	env PATH="$bin" "$@"
}
[ "$(run vmdefrag --version)" = "vmdefrag $PACKAGE_VERSION" ] || fail "vmdefrag --version: $(run vmdefrag --version)"
[ "$(run vmdefrag run --version)" = "vmdefrag $PACKAGE_VERSION" ] || fail "vmdefrag run --version"
for p in vmdefrag-ctl fragmap fragindex; do
	[ "$(run $p --version)" = "$p (vmdefrag) $PACKAGE_VERSION" ] || fail "$p --version: $(run $p --version)"
done

# the installed guests, listed from the installed tree, with purposes
guests=$(cd "$root$pkglibdir/guests" && pwd -P)
run vmdefrag run --list-guests >"$tmp/list" || fail "vmdefrag run --list-guests failed"
[ "$(head -n 1 "$tmp/list")" = "$guests:" ] || fail "--list-guests starts with $(head -n 1 "$tmp/list"), not $guests:"
grep -qx '  hello        the smallest guest: prints a line and exits' "$tmp/list" ||
	fail "--list-guests does not show hello with its purpose: $(cat "$tmp/list")"

# a guest of one's own, built outside the tree with the installed SDK
cat >"$tmp/myguest.c" <<'EOF'
#include <vmd.h>

VMD_GUEST_PURPOSE("built with the installed SDK");

int main(void)
{
	vmd_printf("sdk guest: %lu MiB, n=%lu\n", vmd_info.mem_bytes >> 20, vmd_arg_u64("n", 0));
	return 7;
}
EOF
pc() {
	PKG_CONFIG_PATH= PKG_CONFIG_LIBDIR="$root$libdir/pkgconfig" pkg-config --define-prefix "$@"
}
[ "$(pc --modversion vmdefrag-guest)" = "$PACKAGE_VERSION" ] || fail "pkg-config --modversion vmdefrag-guest"
# shellcheck disable=SC2046
cc $(pc --cflags --libs vmdefrag-guest) "$tmp/myguest.c" -o "$tmp/myguest.elf" 2>"$tmp/cc.log" ||
	{ cat "$tmp/cc.log" >&2; fail "a guest does not build with the SDK's pkg-config flags"; }
VMDEFRAG_GUEST_DIR=$tmp run vmdefrag run --list-guests >"$tmp/list" || fail "--list-guests"
grep -qx '  myguest      built with the installed SDK' "$tmp/list" ||
	fail "--list-guests does not show myguest from VMDEFRAG_GUEST_DIR: $(cat "$tmp/list")"

# man vmdefrag documents what vmdefrag run accepts, no more, no less
options() {
	sed -n 's/^ \{1,8\}\(--[a-z][a-z-]*\).*/\1/p' | sort -u
}
MANPATH=$root$mandir MANWIDTH=100 man vmdefrag 2>"$tmp/man.err" |
	sed -n '/^OPTIONS/,/^[A-Z]/p' | options >"$tmp/man.opts" || true
[ -s "$tmp/man.err" ] && { cat "$tmp/man.err" >&2; fail "man vmdefrag complains"; }
run vmdefrag run --help | options >"$tmp/help.opts"
[ -s "$tmp/help.opts" ] || fail "no options in vmdefrag run --help"
diff -u "$tmp/help.opts" "$tmp/man.opts" >"$tmp/opts.diff" ||
	{ cat "$tmp/opts.diff" >&2; fail "the options in man vmdefrag (+) differ from vmdefrag run --help (-)"; }

if ! [ -r /dev/kvm ] || ! [ -w /dev/kvm ]; then
	echo "install.sh: SKIP the boots: /dev/kvm cannot be opened (no KVM here)"
	exit 77
fi
run vmdefrag run --mem 32M hello >"$tmp/out" 2>&1 || { cat "$tmp/out" >&2; fail "vmdefrag run hello failed"; }
grep -q "Hello from a vmdefrag guest: 32 MiB" "$tmp/out" || fail "hello said: $(cat "$tmp/out")"
code=0
run vmdefrag run --mem 32M --args n=42 "$tmp/myguest.elf" >"$tmp/out" 2>&1 || code=$?
[ "$code" = 7 ] || { cat "$tmp/out" >&2; fail "the SDK guest exited $code, not 7"; }
grep -q "sdk guest: 32 MiB, n=42" "$tmp/out" || fail "the SDK guest said: $(cat "$tmp/out")"
code=0
VMDEFRAG_GUEST_DIR=$tmp run vmdefrag run --mem 32M myguest >"$tmp/out" 2>&1 || code=$?
[ "$code" = 7 ] || { cat "$tmp/out" >&2; fail "vmdefrag run myguest (by name) exited $code, not 7"; }

[ -z "$root" ] && { echo "install.sh: booted hello and an SDK guest from $bindir; man page matches --help"; exit 0; }
make -s -C "$BUILDDIR" uninstall DESTDIR="$root" >"$tmp/make.log" 2>&1 ||
	{ cat "$tmp/make.log" >&2; fail "make uninstall failed"; }
left=$(find "$root" -type f)
[ -z "$left" ] || fail "make uninstall left: $left"
echo "install.sh: installed, booted hello and an SDK guest, man page matches --help, uninstalled"
