#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
# The libFuzzer targets of selftests/fuzz, a few seconds each from the
# in-tree corpus: the policy reader, the decoders (against their BPF build
# when BPF works here) and the number and text parsers. make fuzz runs
# them longer.

setup() {
	load helper
	FUZZ=$BUILD/fuzz
	CORPUS=$BATS_TEST_DIRNAME/fuzz/corpus
	SECONDS_EACH=${MMIOTRAP_FUZZ_SECONDS:-5}
}

# fuzz TARGET: runs it; a crash, leak, sanitizer report or failed invariant fails.
fuzz() {
	[ -x "$FUZZ/fuzz-$1" ] || fail "$FUZZ/fuzz-$1 is not built: make fuzz-build"
	mkdir -p "$BATS_TEST_TMPDIR/$1"
	# A crash's input lands in the test's directory, not in the tree.
	run "$FUZZ/fuzz-$1" -max_total_time="$SECONDS_EACH" -max_len=65536 \
		-artifact_prefix="$BATS_TEST_TMPDIR/" "$BATS_TEST_TMPDIR/$1" "$CORPUS/$1"
	[ "$status" = 0 ] || fail "fuzz-$1 exited $status: $(tail -30 <<<"$output")"
	assert_output --regexp 'Done [0-9]+ runs'
}

@test "the policy reader survives any file in bounded work" {
	fuzz policy
}

@test "the decoders keep queues in range, and their BPF build agrees" {
	fuzz decode
}

@test "numbers parse strictly and any text becomes one line of valid UTF-8" {
	fuzz number
}
