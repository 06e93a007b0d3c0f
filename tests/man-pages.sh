#!/bin/sh
# Every manual page renders with man(1), without a single warning from
# groff (-ww), and has the sections a page of its kind needs.
set -eu
: "${SRCDIR:?}"
status=0
n=0
for page in "$SRCDIR"/man/*.[1-8]; do
	n=$((n + 1))
	warnings=$(MANWIDTH=80 man --warnings -l "$page" 2>&1 >/dev/null) || {
		echo "man-pages.sh: man -l $page failed: $warnings" >&2
		status=1
	}
	if [ -n "$warnings" ]; then
		echo "man-pages.sh: $page: $warnings" >&2
		status=1
	fi
	for section in NAME SYNOPSIS DESCRIPTION "SEE ALSO"; do
		MANWIDTH=80 man -l "$page" 2>/dev/null | grep -qx "$section" ||
			{ echo "man-pages.sh: $page has no $section section" >&2; status=1; }
	done
done
[ "$n" = 5 ] || { echo "man-pages.sh: $n pages in $SRCDIR/man, want 5" >&2; exit 1; }
[ "$status" = 0 ] && echo "man-pages.sh: $n pages render without warnings"
exit "$status"
