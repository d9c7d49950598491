#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
# The trap's own programs, driven by mmiotrap-inject through
# BPF_PROG_TEST_RUN: real BPF, no VM. The injector plays the VMM, so its
# pid is the regions' --vm, and its worker thread the vCPU.

BASE=0xd0000000

setup() {
	load helper
	load_bpf_trap --attach raw_tp
}

teardown() {
	unload_trap
}

# events N: a reader of exactly N records into $BATS_TEST_TMPDIR/ev, subscribed
# before the writes (a subscriber gets the records made while it is there);
# events_wait after them.
events() {
	events_start "$BATS_TEST_TMPDIR/ev" --count "$1" --duration 10
}

# is JQ WANT [FILE]: one value computed by jq over the events (slurped) or FILE.
is() {
	local got
	got=$(jq -s -c "$1" "${3:-$BATS_TEST_TMPDIR/ev}")
	[ "$got" = "$2" ] || fail "$1: wanted $2, got $got"
}

stat_is() {
	local got
	got=$("$MT" -j stats | jq -c "$1")
	[ "$got" = "$2" ] || fail "stats $1: wanted $2, got $got"
}

@test "injected MMIO writes are captured with exact values, in order, from the injector's thread" {
	inject_start inj mmio:$BASE:4:100:0xfffffff0:0x01010101
	"$MT" region add --vm "$inj_pid" --mmio $BASE --len 8 --name db >/dev/null
	events 100
	t0=$(monotonic_ns)
	inject_go inj
	t1=$(monotonic_ns)
	events_wait
	check_events "$BATS_TEST_TMPDIR/ev" --vm "$inj_pid" --region 1 --bus mmio \
		--addr $BASE --width 4 --count 100 --start 0xfffffff0 --step 0x01010101
	[ "$inj_tid" != "$inj_pid" ] || fail "wanted the worker thread's tid, got the pid $inj_pid"
	is 'map(.vcpu_tid) | unique' "[$inj_tid]"
	is 'map(.ts_ns) | . == sort' true
	is "[.[0].ts_ns >= $t0, .[-1].ts_ns <= $t1]" '[true,true]'
	stat_is '.regions[0] | [.matched, .emitted, .dropped, .skipped]' '[100,100,0,0]'
}

@test "an MMIO and a PIO region at the same number each get only their own bus's writes" {
	inject_start inj mmio:0x510:4:3:10 pio:0x510:2:5:20 mmio:0x512:2:2:30 pio:0x513:1:1:40
	"$MT" region add --vm "$inj_pid" --mmio 0x510 --len 4 --name m >/dev/null
	"$MT" region add --vm "$inj_pid" --pio 0x510 --len 4 --name p >/dev/null
	events 11
	inject_go inj
	events_wait
	is 'map(select(.region == 1) | [.bus, .addr, .width, .value, .seq])' \
		'[["mmio",1296,4,10,0],["mmio",1296,4,11,1],["mmio",1296,4,12,2],["mmio",1298,2,30,3],["mmio",1298,2,31,4]]'
	is 'map(select(.region == 2) | [.bus, .addr, .width, .value, .seq])' \
		'[["pio",1296,2,20,0],["pio",1296,2,21,1],["pio",1296,2,22,2],["pio",1296,2,23,3],["pio",1296,2,24,4],["pio",1299,1,40,5]]'
	stat_is '[.regions[] | [.id, .matched, .emitted]]' '[[1,5,5],[2,6,6]]'
}

# A VM of up to MMIOTRAP_VM_RANGES (8) regions has them in its vms entry;
# one with more is looked up in the address index. Both ways, and the step
# from 9 regions down to 8, must find exactly the VM's regions.
@test "a VM with more than 8 regions is found through the index, one with 8 from its own entry" {
	local n i steps
	for n in 10 8; do
		steps=()
		for i in $(seq 0 10); do
			steps+=(mmio:$((BASE + i * 16)):4:1:$i)
		done
		rm -f "$BATS_TEST_TMPDIR/inj.go"
		inject_start inj "${steps[@]}"
		for i in $(seq 0 "$n"); do
			"$MT" region add --vm "$inj_pid" --mmio $((BASE + i * 16)) --len 4 --name r$i >/dev/null
		done
		"$MT" region del r$n >/dev/null
		assert_equal "$("$MT" -j region list | jq length)" "$n"
		events "$n"
		inject_go inj
		events_wait
		is 'map(.value)' "$(jq -c -n "[range($n)]")"
		is 'map(.addr) | unique | length' "$n"
		for i in $(seq 0 $((n - 1))); do
			"$MT" region del r$i >/dev/null
		done
	done
}

@test "writes straddling a region's start or end are not its own; widths 1 to 8 where accepted" {
	no_foreign_vm
	inject_start inj mmio:$BASE:1:1:0x11 mmio:$BASE:2:1:0x2222 mmio:$BASE:4:1:0x44444444 \
		mmio:$BASE:8:1:0x0807060504030201 mmio:$((BASE + 7)):1:1:0x77 mmio:$((BASE + 4)):4:1:0x55 \
		mmio:$((BASE + 6)):4:1:0x66 mmio:$((BASE - 2)):4:1:0x99 mmio:$((BASE + 8)):1:1:0x88 \
		mmio:$BASE:3:1:0x333 mmio:$((BASE + 0x1000)):2:1:0xaa mmio:$((BASE + 0x1000)):4:1:0xbb
	"$MT" region add --vm "$inj_pid" --mmio $BASE --len 8 --name all >/dev/null
	"$MT" region add --vm "$inj_pid" --mmio $((BASE + 0x1000)) --len 4 --width 4 --name four >/dev/null
	before=$("$MT" -j stats | jq .totals.unmatched)
	events 7
	inject_go inj
	events_wait
	is 'map([.region, .addr - 3489660928, .width, .value, .seq])' \
		'[[1,0,1,17,0],[1,0,2,8738,1],[1,0,4,1145324612,2],[1,0,8,578437695752307200,3],[1,7,1,119,4],[1,4,4,85,5],[2,4096,4,187,0]]'
	# jq reads numbers as doubles: the 8-byte value, to its last bit, as printed.
	grep -q '"width":8,"value":578437695752307201,' "$BATS_TEST_TMPDIR/ev" ||
		fail "wanted value 578437695752307201 of width 8, got $(grep '"width":8' "$BATS_TEST_TMPDIR/ev")"
	# Past the end and a width 3: the region's, skipped; the width 2 is not in --width 4.
	stat_is '[.regions[] | [.id, .matched, .emitted, .skipped]]' '[[1,6,6,2],[2,1,1,1]]'
	# Across the start and just past the end: in no region.
	stat_is ".totals.unmatched - $before" 2
}

@test "unmatched and emitted move by exactly the writes; reads are not writes" {
	no_foreign_vm
	inject_start inj mmio:$BASE:4:7 mmio:$((BASE + 4)):4:5 pio:0x510:1:3 read:$BASE:4:4 in:0x510:1:2
	inject_start stranger mmio:$BASE:4:6
	"$MT" region add --vm "$inj_pid" --mmio $BASE --len 4 >/dev/null
	before=$("$MT" -j stats | jq -c '[.totals.unmatched, .totals.emitted]')
	events 7
	inject_go inj
	inject_go stranger
	events_wait
	check_events "$BATS_TEST_TMPDIR/ev" --vm "$inj_pid" --region 1 --bus mmio \
		--addr $BASE --width 4 --count 7
	# 5 beside the region, 3 on a bus the VM has no region on, 6 of another process.
	stat_is "[.totals.unmatched, .totals.emitted] | [.[0] - $(jq '.[0]' <<<"$before"), .[1] - $(jq '.[1]' <<<"$before")]" \
		'[14,7]'
	stat_is '.regions[0] | [.matched, .emitted, .skipped, .dropped]' '[7,7,0,0]'
}

@test "rep outs: each of up to 16 elements is a write, flagged truncated beyond 16" {
	inject_start inj outs:0x510:1:1 outs:0x510:2:16 outs:0x510:4:17 outs:0x510:1:40
	"$MT" region add --vm "$inj_pid" --pio 0x510 --len 4 >/dev/null
	events 49
	inject_go inj
	events_wait
	want=$(jq -n -c '[[1, 1, false]] + [range(1; 17) | [2, ., false]] +
		[range(1; 17) | [4, ., true]] + [range(1; 17) | [1, ., true]]')
	is 'map([.width, .value, .truncated // false])' "$want"
	is 'map(.seq)' "$(jq -n -c '[range(49)]')"
	is 'map(.addr) | unique' '[1296]'
	stat_is '.regions[0] | [.matched, .emitted]' '[49,49]'
}

@test "nvme and virtio-pci regions decode injected writes: kind and queue" {
	inject_start inj mmio:0xfebf1000:4:2:5 mmio:0xfebf1004:4:1:3 mmio:0xfebf1008:4:1:9 \
		mmio:0xfebf100c:4:1:1 mmio:0xfebf1010:4:1:2 mmio:0xfebf1002:2:1:7 \
		mmio:0xfe003004:4:1:0x80050001 mmio:0xfe003008:4:1:0x00070002 mmio:0xfe003010:4:1:4
	"$MT" region add --vm "$inj_pid" --mmio 0xfebf1000 --len 0x20 --decoder nvme \
		--bar0 0xfebf0000 --queues 2 >/dev/null
	"$MT" region add --vm "$inj_pid" --mmio 0xfe003000 --len 0x20 --decoder virtio-pci \
		--notify-base 0xfe003000 --multiplier 4 --queues 4 --notification-data >/dev/null
	events 10
	inject_go inj
	events_wait
	is 'map(select(.region == 1) | [.kind, .queue, .value])' \
		'[["sq_tail",0,5],["sq_tail",0,6],["cq_head",0,3],["sq_tail",1,9],["cq_head",1,1],["bad_queue",2,2],["off_grid",null,7]]'
	is 'map(select(.region == 2) | [.kind, .queue, .next_off, .next_wrap, .avail_idx])' \
		'[["notify",1,5,1,32773],["notify",2,7,0,7],["bad_queue",4,0,0,0]]'
}

@test "the injector says why when the instance has no raw_tp links" {
	"$MT" unload >/dev/null
	"$MT" load --attach tp_btf >/dev/null
	run "$INJ" mmio:$BASE:4:1
	assert_failure 2
	assert_output "mmiotrap-inject: $MMIOTRAP_PIN_ROOT/links/raw_tp_mmio: No such file or directory (load with 'mmiotrap load --attach raw_tp')
mmiotrap-inject: $MMIOTRAP_PIN_ROOT/links/raw_tp_pio: No such file or directory (load with 'mmiotrap load --attach raw_tp')"
	run "$INJ" mmio:$BASE:16:1
	assert_failure 2
	assert_output --partial "mmiotrap-inject: bad step 'mmio:$BASE:16:1'"
}

@test "fast MMIO writes (length-0 ioeventfds: no value, no width) are events decoded from their address" {
	# Not every architecture has kvm_fast_mmio: without it there is nothing to test.
	[ -e "$MMIOTRAP_PIN_ROOT/links/raw_tp_fast_mmio" ] || require "the kernel has no kvm:kvm_fast_mmio tracepoint"
	inject_start inj fast:$BASE:4:4 fast:$((BASE + 0x100)):1
	"$MT" region add --vm "$inj_pid" --mmio $BASE --len 0x10 --decoder virtio-pci \
		--notify-base $BASE --multiplier 4 --queues 4 >/dev/null
	events 4
	inject_go inj
	events_wait
	is 'map([.addr - '$((BASE))', .width, .value, .no_value, .fast, .kind, .queue])' \
		'[[0,0,0,true,true,"notify",0],[4,0,0,true,true,"notify",1],[8,0,0,true,true,"notify",2],[12,0,0,true,true,"notify",3]]'
	stat_is '.regions[0] | [.matched, .fast, .slow, .emitted]' '[4,4,0,4]'
	stat_is '.totals.unmatched' 1
}

@test "events whose time is up while it could not read still says what is in its ring" {
	inject_start inj mmio:$BASE:4:50:1
	"$MT" region add --vm "$inj_pid" --mmio $BASE --len 4 >/dev/null
	events_start "$BATS_TEST_TMPDIR/ev" --duration 3
	kill -STOP "$events_pid"
	inject_go inj
	sleep 3.5
	kill -CONT "$events_pid"
	events_wait
	check_events "$BATS_TEST_TMPDIR/ev" --vm "$inj_pid" --region 1 --bus mmio \
		--addr $BASE --width 4 --count 50 --start 1
}

@test "the bench's parts of the trap load and each runs: no figure is missing" {
	run "$BUILD/mmiotrap-costparts" 100
	assert_success
	# The parts measured with a full table show two figures more.
	assert_equal "$(grep -cE '^[a-z_0-9]+ +[0-9]+ ns +-?[0-9]+ ns +[0-9]+ ns +-?[0-9]+ ns ' <<<"$output")" 5
	assert_equal "$(grep -cE '^[a-z_0-9]+ +[0-9]+ ns +-?[0-9]+ ns ' <<<"$output")" 13
	run "$BUILD/mmiotrap-costparts" 0
	assert_failure 2
	assert_output "usage: mmiotrap-costparts [RUNS]"
}
