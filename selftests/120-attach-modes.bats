#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
# Every attach mode this kernel can load (doctor says which) captures the
# same writes: the fallbacks are tested, not only the mode load picks.
# bats file_tags=kvm

N=200

setup() {
	load helper
	require_kvm
}

teardown() {
	unload_trap
}

# The attach modes doctor found loadable, in load's order of preference.
loadable_modes() {
	doctor_json | jq -r '.checks[] | select(.name | test("^attach (fentry|tp_btf|raw_tp)$"))
		| select(.detail == "loads") | .name[7:]'
}

@test "every attach mode that loads captures MMIO and PIO writes of each width" {
	modes=$(loadable_modes)
	[ -n "$modes" ] || fail "doctor found no attach mode that loads"
	for mode in $modes; do
		run "$MT" load --attach "$mode"
		assert_output "loaded at $MMIOTRAP_PIN_ROOT (attach mode $mode)"
		for step in mmio:0xd0000000 pio:0x510; do
			for w in 1 2 4; do
				capture "${step%%:*}" "${step#*:}" "$w" $N 0xfffffff0 0x01010101
				"$MT" region del db >/dev/null
			done
		done
		unload_all
	done
}

@test "every attach mode that loads runs the fast path and decodes" {
	modes=$(loadable_modes)
	[ -n "$modes" ] || fail "doctor found no attach mode that loads"
	for mode in $modes; do
		"$MT" load --attach "$mode" >/dev/null
		emulate --fast mmio:0xfebf1000:4 mmio:0xfebf1000:4:$N:1
		report_is '[.exits_mmio, .events, .fast, .emu_mismatches]' "[0,$N,$N,0]"
		decoded_nvme
		unload_all
	done
}

decoded_nvme() {
	vmm_start vm mmio:0xfebf1004:4:1:3
	"$MT" region add --vm "$vm_pid" --mmio 0xfebf1000 --len 8 --decoder nvme \
		--bar0 0xfebf0000 --queues 1 >/dev/null
	events_start "$BATS_TEST_TMPDIR/ev" --count 1 --duration 10
	vmm_go vm
	events_wait
	assert_equal "$(jq -c '[.kind, .queue, .value]' "$BATS_TEST_TMPDIR/ev")" '["cq_head",0,3]'
}

@test "load --attach with a mode that does not load says why and leaves nothing" {
	run "$MT" load --attach foo
	assert_failure
	assert_output "mmiotrap: bad --attach 'foo': fentry, tp_btf or raw_tp"
	modes=$(loadable_modes)
	refused=0
	for mode in fentry tp_btf raw_tp; do
		grep -qx "$mode" <<<"$modes" && continue
		run "$MT" load --attach "$mode"
		assert_failure
		assert_output --regexp "^mmiotrap: cannot load at $MMIOTRAP_PIN_ROOT with --attach $mode: "
		[ ! -e "$MMIOTRAP_PIN_ROOT" ]
		refused=$((refused + 1))
	done
	# Every mode loads here: the refusal went untested, and the run must say so.
	[ "$refused" -gt 0 ] || skip "every attach mode loads on this kernel: no refusal to test"
}
