#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
# MMIO doorbell writes of a real guest, captured with exact values, in order,
# each region's seq counting from 0 without a gap.
# bats file_tags=kvm

N=1000
BASE=0xd0000000

setup() {
	load helper
	load_trap
}

teardown() {
	unload_trap
}

@test "$N one-byte MMIO writes are captured in order" {
	capture mmio $BASE 1 $N 0xf0 3
}

@test "$N two-byte MMIO writes are captured in order" {
	capture mmio $BASE 2 $N 0xfff0 0x101
}

@test "$N four-byte MMIO writes are captured in order" {
	capture mmio $BASE 4 $N 0xfffffff0 0x01010101
}

@test "$N eight-byte MMIO writes are captured in order, both halves" {
	# The top half is the complement of the bottom one: both must arrive.
	capture mmio $BASE 8 $N 0xfffffff0 0x01010101
}

@test "writes of a width the region does not accept are counted as skipped, not captured" {
	vmm_start vm mmio:$BASE:2:10:1 mmio:$BASE:4:5:100
	"$MT" region add --vm "$vm_pid" --mmio $BASE --len 4 --width 4
	events_start "$BATS_TEST_TMPDIR/ev" --count 5 --duration 60
	vmm_go vm
	events_wait
	check_events "$BATS_TEST_TMPDIR/ev" --vm "$vm_pid" --region 1 --bus mmio \
		--addr $BASE --width 4 --count 5 --start 100
	run "$MT" -j stats
	assert_equal "$(jq -c '.regions[0] | [.matched, .emitted, .skipped]' <<<"$output")" "[5,5,10]"
}

@test "writes beside a region are not captured, and count as unmatched" {
	vmm_start vm mmio:$((BASE - 4)):4:7 mmio:$((BASE + 8)):4:9 mmio:$((BASE + 4)):4:3:42
	no_foreign_vm "$vm_pid"
	"$MT" region add --vm "$vm_pid" --mmio $BASE --len 8
	before=$("$MT" -j stats | jq -c '.totals | [.unmatched, .emitted]')
	events_start "$BATS_TEST_TMPDIR/ev" --count 3 --duration 60
	vmm_go vm
	events_wait
	check_events "$BATS_TEST_TMPDIR/ev" --vm "$vm_pid" --region 1 --bus mmio \
		--addr $((BASE + 4)) --width 4 --count 3 --start 42
	# Exactly the 16 writes beside it, and the 3 in it.
	assert_equal "$("$MT" -j stats | jq -c --argjson b "$before" \
		'.totals | [.unmatched - $b[0], .emitted - $b[1]]')" "[16,3]"
}

@test "writes straddling a region's start or its end are not its own" {
	# 0x100 into a page: the straddling writes stay inside one page.
	local r=$((BASE + 0x100))
	vmm_start vm mmio:$((r - 2)):4:3:1 mmio:$((r + 6)):4:5:2 mmio:$((r + 7)):2:4:3 \
		mmio:$((r + 4)):4:2:42 mmio:$((r + 7)):1:1:7
	no_foreign_vm "$vm_pid"
	"$MT" region add --vm "$vm_pid" --mmio $r --len 8 --name r >/dev/null
	before=$("$MT" -j stats | jq .totals.unmatched)
	events_start "$BATS_TEST_TMPDIR/ev" --count 3 --duration 60
	vmm_go vm
	events_wait
	assert_equal "$(jq -s -c --argjson r $r 'map([.addr - $r, .width, .value, .seq])' \
		"$BATS_TEST_TMPDIR/ev")" '[[4,4,42,0],[4,4,43,1],[7,1,7,2]]'
	# Across the start: in no region. Past the end: the region's, skipped.
	run "$MT" -j stats
	assert_equal "$(jq -c --argjson b "$before" \
		'[.totals.unmatched - $b, (.regions[0] | .matched, .emitted, .skipped)]' <<<"$output")" \
		"[3,3,3,9]"
}

@test "several regions each count their own seq from 0" {
	vmm_start vm mmio:$BASE:4:20:0 mmio:0xfebf1000:4:30:500 mmio:$BASE:4:5:20
	"$MT" region add --vm "$vm_pid" --mmio $BASE --len 4 --name a
	"$MT" region add --vm "$vm_pid" --mmio 0xfebf1000 --len 0x1000 --name b
	events_start "$BATS_TEST_TMPDIR/ev" --count 55 --duration 60
	vmm_go vm
	events_wait
	jq -c 'select(.region == 1)' "$BATS_TEST_TMPDIR/ev" >"$BATS_TEST_TMPDIR/a"
	jq -c 'select(.region == 2)' "$BATS_TEST_TMPDIR/ev" >"$BATS_TEST_TMPDIR/b"
	check_events "$BATS_TEST_TMPDIR/a" --vm "$vm_pid" --region 1 --bus mmio --addr $BASE --width 4 --count 25
	check_events "$BATS_TEST_TMPDIR/b" --vm "$vm_pid" --region 2 --bus mmio --addr 0xfebf1000 \
		--width 4 --count 30 --start 500
	# The ring keeps the guest's order across regions.
	assert_equal "$(jq -s -c '[.[].region] | [.[0], .[19], .[20], .[49], .[50]]' "$BATS_TEST_TMPDIR/ev")" "[1,1,2,2,1]"
}

@test "a full ring drops records, counts them, and events says what was lost" {
	# A ring of 64 KiB holds 585 records of 112 bytes: its reader is stopped
	# while the guest writes, then reads what there is and what was lost.
	vmm_start vm mmio:$BASE:4:30000
	"$MT" region add --vm "$vm_pid" --mmio $BASE --len 4 >/dev/null
	events_start "$BATS_TEST_TMPDIR/ev" --ring-size 65536 --duration 10
	kill -STOP "$events_pid"
	vmm_go vm
	run "$MT" -j stats
	stats=$output
	emitted=$(jq '.regions[0].emitted' <<<"$stats")
	assert_equal "$(jq -c '.regions[0] | [.matched, .emitted + .dropped]' <<<"$stats")" "[30000,30000]"
	[ "$emitted" -ge 500 ] && [ "$emitted" -lt 30000 ] || fail "wanted 500..29999 emitted, got $emitted"
	kill -CONT "$events_pid"
	events_wait
	jq -c 'select(has("lost") | not)' "$BATS_TEST_TMPDIR/ev" >"$BATS_TEST_TMPDIR/writes"
	check_events "$BATS_TEST_TMPDIR/writes" --vm "$vm_pid" --region 1 --bus mmio \
		--addr $BASE --width 4 --count "$emitted"
	# The newest writes were the ones dropped; the slot still has the last value.
	assert_equal "$(jq -c 'select(has("lost"))' "$BATS_TEST_TMPDIR/ev")" \
		"{\"lost\":$((30000 - emitted)),\"region\":1,\"seq\":$emitted,\"value\":29999}"
}
