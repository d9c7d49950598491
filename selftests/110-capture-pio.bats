#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
# PIO doorbell writes (out) of a real guest, captured with exact values, in
# order, seq from 0 without a gap.

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
