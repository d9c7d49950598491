#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
# The library's contract, from a program linked to it: opts of older and
# newer headers, NULL handles, and why a call failed, through the print callback.

setup() {
	load helper
	require_bpf
	"$MT" load >/dev/null
}

teardown() {
	unload_all
}

@test "opts, NULL handles, positional arguments and refusals behave as documented" {
	run "$BUILD/api-test"
	assert_success
	assert_output "46 passed, 0 failed"
}
