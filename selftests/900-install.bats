#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
# make install: what an emulator's build needs, found through pkg-config.

setup() {
	load helper
}

@test "make install puts the CLI, libraries, headers and a .pc under DESTDIR" {
	dest=$BATS_TEST_TMPDIR/dest
	run make -C "$BATS_TEST_DIRNAME/.." --no-print-directory install \
		OUTPUT="$BUILD" PREFIX=/usr DESTDIR="$dest"
	assert_success
	run sh -c "cd '$dest' && find . -type f -o -type l | sort"
	assert_output "$(printf '%s\n' ./usr/include/mmiotrap.h ./usr/include/mmiotrap_abi.h ./usr/include/mmiotrap_decode.h ./usr/include/mmiotrap_rules.h \
		./usr/lib/libmmiotrap.a ./usr/lib/libmmiotrap.so ./usr/lib/libmmiotrap.so.0 \
		./usr/lib/pkgconfig/libmmiotrap.pc ./usr/sbin/mmiotrap)"
}

@test "a program builds against the installed library with pkg-config" {
	dest=$BATS_TEST_TMPDIR/dest
	make -C "$BATS_TEST_DIRNAME/.." --no-print-directory install \
		OUTPUT="$BUILD" PREFIX=/usr DESTDIR="$dest" >/dev/null
	cat >"$BATS_TEST_TMPDIR/emu.c" <<-'C'
	#include <mmiotrap.h>
	#include <stdio.h>

	int main(void)
	{
		struct mmiotrap_opts opts = { .sz = sizeof(opts), .pin_root = "/nonexistent" };
		struct mmiotrap *mt;

		printf("%d\n", mmiotrap_open(&mt, &opts));
		return 0;
	}
	C
	export PKG_CONFIG_PATH=$dest/usr/lib/pkgconfig PKG_CONFIG_SYSROOT_DIR=$dest
	# A library built with the sanitizers (make check SANITIZE=1) wants them in its program too.
	san=
	! nm -D "$dest/usr/lib/libmmiotrap.so.0" | grep -q __asan_init ||
		san="-fsanitize=address,undefined"
	for link in "" --static; do
		run sh -c "cc -Wall -Werror $san -o '$BATS_TEST_TMPDIR/emu' '$BATS_TEST_TMPDIR/emu.c' \
			\$(pkg-config $link --cflags --libs libmmiotrap)"
		assert_success
		run env LD_LIBRARY_PATH="$dest/usr/lib" "$BATS_TEST_TMPDIR/emu"
		assert_output "-2"
	done
}
