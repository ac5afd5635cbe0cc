#!/bin/sh
# install-manifest.sh ROOT PACKAGE BINDIR: installs the entries of
# contrib/files.manifest that PACKAGE ships (cri-o: all of them;
# crio-userns-hook: its own) under ROOT, taking built programs from BINDIR,
# and prints the matching %files lines. Run from a checkout or a source
# archive of one; both RPM specs and `make install` use it, so every path
# installs a file the same way. PREFIX (environment, default /usr) relocates
# paths under /usr for `make install`; MANIFEST names another manifest
# than contrib/files.manifest.
set -eu
root=$1 package=$2 bindir=$3
prefix=${PREFIX:-/usr}
manifest=${MANIFEST:-contrib/files.manifest}
while read -r pkg type mode path src; do
	case $pkg in '' | '#'*) continue ;; esac
	[ "$package" = cri-o ] || [ "$pkg" = "$package" ] || continue
	case $path in /usr/*) path=$prefix/${path#/usr/} ;; esac
	dest=$root$path
	case $type in
	dir)
		install -d -m "$mode" "$dest"
		echo "%dir $path"
		;;
	bin)
		install -D -p -m "$mode" "$bindir/${src##*/}" "$dest"
		echo "$path"
		;;
	man)
		install -D -p -m "$mode" "$src" "$dest"
		gzip -9 -n -f "$dest"
		echo "$path.gz"
		;;
	config)
		install -D -p -m "$mode" "$src" "$dest"
		echo "%config(noreplace) $path"
		;;
	file)
		install -D -p -m "$mode" "$src" "$dest"
		echo "$path"
		;;
	*)
		echo "install-manifest.sh: unknown type $type for $path" >&2
		exit 1
		;;
	esac
done <"$manifest"
