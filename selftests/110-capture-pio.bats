#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
# PIO doorbell writes (out) of a real guest, captured with exact values, in
# order, seq from 0 without a gap.
# bats file_tags=kvm

N=1000

setup() {
	load helper
	load_trap
}

teardown() {
	unload_trap
}

@test "$N one-byte PIO writes are captured in order" {
	capture pio 0x510 1 $N 0xf0 3
}

@test "$N two-byte PIO writes are captured in order" {
	capture pio 0x510 2 $N 0xfff0 0x101
}

@test "$N four-byte PIO writes are captured in order" {
	capture pio 0xcf8 4 $N 0xfffffff0 0x01010101
}

@test "a PIO region at the top of the port space captures its last port" {
	capture pio 0xfffe 2 10 7 1
}

@test "an MMIO and a PIO region at the same number each get only their own bus's writes" {
	# 0xcf00 is in the test VM's MMIO hole: an address and a port at once.
	vmm_start vm mmio:0xcf00:4:3:10 pio:0xcf00:2:5:20 mmio:0xcf02:2:2:30 pio:0xcf03:1:1:40
	"$MT" region add --vm "$vm_pid" --mmio 0xcf00 --len 4 --name m >/dev/null
	"$MT" region add --vm "$vm_pid" --pio 0xcf00 --len 4 --name p >/dev/null
	events_start "$BATS_TEST_TMPDIR/ev" --count 11 --duration 60
	vmm_go vm
	events_wait
	assert_equal "$(jq -s -c 'map(select(.region == 1) | [.bus, .addr, .width, .value, .seq])' \
		"$BATS_TEST_TMPDIR/ev")" \
		'[["mmio",52992,4,10,0],["mmio",52992,4,11,1],["mmio",52992,4,12,2],["mmio",52994,2,30,3],["mmio",52994,2,31,4]]'
	assert_equal "$(jq -s -c 'map(select(.region == 2) | [.bus, .addr, .width, .value, .seq])' \
		"$BATS_TEST_TMPDIR/ev")" \
		'[["pio",52992,2,20,0],["pio",52992,2,21,1],["pio",52992,2,22,2],["pio",52992,2,23,3],["pio",52992,2,24,4],["pio",52995,1,40,5]]'
	run "$MT" -j stats
	assert_equal "$(jq -c '[.regions[] | [.id, .matched, .emitted]]' <<<"$output")" '[[1,5,5],[2,6,6]]'
}

@test "rep outs of 1, 16 and 40 elements: each element is its own exit and event" {
	# KVM emulates rep outs one element at a time (em_out, count 1): no
	# kvm_pio carries more than one, so none is flagged truncated.
	vmm_start vm outs:0x510:1:1:0xab outs:0x510:2:16:0xfff0:0x101 outs:0x510:4:40:0xfffffff0:0x01010101
	"$MT" region add --vm "$vm_pid" --pio 0x510 --len 4 --name rep >/dev/null
	events_start "$BATS_TEST_TMPDIR/ev" --count 57 --duration 60
	vmm_go vm
	events_wait
	assert_equal "$(jq -c '[.exits_pio, .writes, .mismatches]' "$BATS_TEST_TMPDIR/vm.out")" "[57,57,0]"
	for w in 1 2 4; do
		jq -c "select(.width == $w)" "$BATS_TEST_TMPDIR/ev" >"$BATS_TEST_TMPDIR/ev$w"
	done
	check_events "$BATS_TEST_TMPDIR/ev1" --vm "$vm_pid" --region 1 --bus pio --addr 0x510 \
		--width 1 --count 1 --start 0xab --tid "$vm_pid"
	check_events "$BATS_TEST_TMPDIR/ev2" --vm "$vm_pid" --region 1 --bus pio --addr 0x510 \
		--width 2 --count 16 --start 0xfff0 --step 0x101 --seq0 1 --tid "$vm_pid"
	check_events "$BATS_TEST_TMPDIR/ev4" --vm "$vm_pid" --region 1 --bus pio --addr 0x510 \
		--width 4 --count 40 --start 0xfffffff0 --step 0x01010101 --seq0 17 --tid "$vm_pid"
	run "$MT" -j stats
	assert_equal "$(jq -c '.regions[0] | [.matched, .emitted, .skipped]' <<<"$output")" "[57,57,0]"
}

@test "PIO and MMIO regions at the same address are told apart" {
	vmm_start vm pio:0x1000:2:10:1 mmio:0x100000:2:10:1000
	"$MT" region add --vm "$vm_pid" --pio 0x1000 --len 2 --name port
	events_start "$BATS_TEST_TMPDIR/ev" --count 10 --duration 60
	vmm_go vm
	events_wait
	check_events "$BATS_TEST_TMPDIR/ev" --vm "$vm_pid" --region 1 --bus pio \
		--addr 0x1000 --width 2 --count 10 --start 1
	run "$MT" -j stats
	assert_equal "$(jq -c '.regions[0] | [.matched, .emitted]' <<<"$output")" "[10,10]"
}
