#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
# Two VMs at once: each region captures only its own VM's writes, and the
# events filters pick one VM or one region.
# bats file_tags=kvm

DB=0xd0000000
PORT=0x510

setup() {
	load helper
	load_trap
	# Both guests write the same address and the same port.
	vmm_start a mmio:$DB:4:300:0 pio:$PORT:2:200:1000
	vmm_start b mmio:$DB:4:250:5000 pio:$PORT:2:150:9000
	"$MT" region add --vm "$a_pid" --mmio $DB --len 4 --name a-db >/dev/null
	"$MT" region add --vm "$b_pid" --mmio $DB --len 4 --name b-db >/dev/null
	"$MT" region add --vm "$b_pid" --pio $PORT --len 2 --name b-io >/dev/null
}

teardown() {
	unload_trap
}

run_both() {
	vmm_release a
	vmm_release b
	vmm_wait a
	vmm_wait b
}

@test "each VM's writes land in its own regions only, from its own vCPU, in time" {
	no_foreign_vm "$a_pid" "$b_pid"
	before=$("$MT" -j stats | jq -c '.totals | [.unmatched, .emitted]')
	events_start "$BATS_TEST_TMPDIR/ev" --count 700 --duration 60
	t0=$(monotonic_ns)
	run_both
	t1=$(monotonic_ns)
	events_wait
	jq -c "select(.vm == $a_pid)" "$BATS_TEST_TMPDIR/ev" >"$BATS_TEST_TMPDIR/a"
	jq -c "select(.vm == $b_pid and .bus == \"mmio\")" "$BATS_TEST_TMPDIR/ev" >"$BATS_TEST_TMPDIR/b-db"
	jq -c "select(.vm == $b_pid and .bus == \"pio\")" "$BATS_TEST_TMPDIR/ev" >"$BATS_TEST_TMPDIR/b-io"
	# Each VM's vCPU is its main thread; ts_ns goes forward on each.
	check_events "$BATS_TEST_TMPDIR/a" --vm "$a_pid" --region 1 --bus mmio --addr $DB --width 4 --count 300 \
		--tid "$a_pid" --after "$t0" --before "$t1"
	check_events "$BATS_TEST_TMPDIR/b-db" --vm "$b_pid" --region 2 --bus mmio --addr $DB --width 4 \
		--count 250 --start 5000 --tid "$b_pid" --after "$t0" --before "$t1"
	check_events "$BATS_TEST_TMPDIR/b-io" --vm "$b_pid" --region 3 --bus pio --addr $PORT --width 2 \
		--count 150 --start 9000 --tid "$b_pid" --after "$t0" --before "$t1"
	assert_equal "$(jq -s -c "map(select(.vm == $b_pid) | .ts_ns) | . == sort" "$BATS_TEST_TMPDIR/ev")" true
	# A's 200 port writes match no region of A's, though B has one there.
	run "$MT" -j stats
	assert_equal "$(jq -c '[.regions[].matched]' <<<"$output")" "[300,250,150]"
	assert_equal "$(jq -c --argjson b "$before" '.totals | [.unmatched - $b[0], .emitted - $b[1]]' \
		<<<"$output")" "[200,700]"
}

@test "events --vm shows one VM's events only" {
	events_start "$BATS_TEST_TMPDIR/ev" --vm "$b_pid" --count 400 --duration 60
	run_both
	events_wait
	assert_equal "$(jq -s -c 'map(.vm) | unique' "$BATS_TEST_TMPDIR/ev")" "[$b_pid]"
	jq -c 'select(.region == 3)' "$BATS_TEST_TMPDIR/ev" >"$BATS_TEST_TMPDIR/b-io"
	check_events "$BATS_TEST_TMPDIR/b-io" --vm "$b_pid" --region 3 --bus pio --addr $PORT --width 2 \
		--count 150 --start 9000
}

@test "events --region shows one region's events only, by name or id" {
	events_start "$BATS_TEST_TMPDIR/ev" --region a-db --count 300 --duration 60
	run_both
	events_wait
	check_events "$BATS_TEST_TMPDIR/ev" --vm "$a_pid" --region 1 --bus mmio --addr $DB --width 4 --count 300
	run "$MT" events --region nope --count 1
	assert_failure
	assert_output "mmiotrap: no region 'nope'"
}

@test "two subscribers at once each get every event, taking none from the other" {
	events_start "$BATS_TEST_TMPDIR/ev" --count 700 --duration 60
	first=$events_pid
	events_start "$BATS_TEST_TMPDIR/ev2" --count 700 --duration 60
	run_both
	events_wait
	wait "$first" || fail "the first subscriber exited $?"
	assert_equal "$(wc -l <"$BATS_TEST_TMPDIR/ev")" 700
	assert_equal "$(jq -c '[.vm, .region, .seq, .value]' "$BATS_TEST_TMPDIR/ev" | sort)" \
		"$(jq -c '[.vm, .region, .seq, .value]' "$BATS_TEST_TMPDIR/ev2" | sort)"
}
