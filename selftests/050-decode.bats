#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
# Decoders: the unit test of both builds, then real guest writes decoded by
# the trap and shown by 'mmiotrap events'.

setup() {
	load helper
	load_bpf_trap
}

teardown() {
	unload_trap
}

@test "the decoders' userspace and BPF builds give the expected results" {
	run "$BUILD/decode-test"
	assert_success
	# 26 cases, each through both builds: a case that stops running must show.
	assert_line 'decoders: 54 passed, 0 failed'
}

# decoded REGION-ARGS -- STEPS...: the guest's writes as JSON events.
decoded() {
	local args=()
	require_kvm
	while [ "$1" != -- ]; do
		args+=("$1")
		shift
	done
	shift
	vmm_start vm "$@"
	"$MT" region add --vm "$vm_pid" "${args[@]}" >/dev/null
	events_start "$BATS_TEST_TMPDIR/ev" --duration 2
	vmm_go vm
	events_wait
	output=$(cat "$BATS_TEST_TMPDIR/ev")
}

# bats test_tags=kvm
@test "nvme: SQ tails and CQ heads by queue, off-grid and beyond-queue writes said so" {
	decoded --mmio 0xfebf1000 --len 0x20 --decoder nvme --bar0 0xfebf0000 --queues 2 -- \
		mmio:0xfebf1000:4:2:5 mmio:0xfebf1004:4:1:3 mmio:0xfebf1008:4:1:9 \
		mmio:0xfebf100c:4:1:1 mmio:0xfebf1010:4:1:2 mmio:0xfebf1002:2:1:7
	assert_equal "$(jq -s -c 'map([.kind, .queue, .value])' <<<"$output")" \
		'[["sq_tail",0,5],["sq_tail",0,6],["cq_head",0,3],["sq_tail",1,9],["cq_head",1,1],["bad_queue",2,2],["off_grid",null,7]]'
}

# bats test_tags=kvm
@test "nvme with a doorbell stride: CAP.DSTRD 2 puts doorbells 16 bytes apart" {
	decoded --mmio 0xfebf1000 --len 0x40 --decoder nvme --bar0 0xfebf0000 --dstrd 2 --queues 2 -- \
		mmio:0xfebf1010:4:1:4 mmio:0xfebf1020:4:1:8 mmio:0xfebf1004:4:1:1
	assert_equal "$(jq -s -c 'map([.kind, .queue, .value])' <<<"$output")" \
		'[["cq_head",0,4],["sq_tail",1,8],["off_grid",null,1]]'
}

# bats test_tags=kvm
@test "virtio-pci: the queue from the notify address, NOTIFICATION_DATA split and packed" {
	decoded --mmio 0xfe003000 --len 0x20 --decoder virtio-pci --notify-base 0xfe003000 \
		--multiplier 4 --queues 4 --notification-data -- \
		mmio:0xfe003004:4:1:0x80050001 mmio:0xfe003008:4:1:0x00070002 mmio:0xfe003010:4:1:4
	assert_equal "$(jq -s -c 'map([.kind, .queue, .next_off, .next_wrap, .avail_idx])' <<<"$output")" \
		'[["notify",1,5,1,32773],["notify",2,7,0,7],["bad_queue",4,0,0,0]]'
	unload_trap
	load_trap
	decoded --mmio 0xfe003000 --len 4 --decoder virtio-pci --notify-base 0xfe003000 \
		--queues 8 --notification-data --packed -- mmio:0xfe003000:4:1:0x7fff0006
	assert_equal "$(jq -c '[.kind, .queue, .next_off, .next_wrap, .avail_idx]' <<<"$output")" \
		'["notify",6,32767,0,null]'
}

# bats test_tags=kvm
@test "virtio-legacy: the queue index written to QUEUE_NOTIFY" {
	decoded --pio 0xc050 --len 2 --width 2 --decoder virtio-legacy --queues 3 -- pio:0xc050:2:4:0
	assert_equal "$(jq -s -c 'map([.kind, .queue])' <<<"$output")" \
		'[["notify",0],["notify",1],["notify",2],["bad_queue",3]]'
}

# bats test_tags=kvm
@test "bitfield: named fields from mask and shift" {
	decoded --pio 0x600 --len 4 --decoder bitfield --field lo:0xff:0 --field mid:0xfff:8 \
		--field top:0xf:28 -- pio:0x600:4:1:0xa1234567
	assert_equal "$(jq -c '[.kind, .fields]' <<<"$output")" '["fields",{"lo":103,"mid":837,"top":10}]'
}

# bats test_tags=kvm
@test "events in text show the decoded fields too" {
	require_kvm
	vmm_start vm mmio:0xfebf1000:4:1:9
	"$MT" region add --vm "$vm_pid" --mmio 0xfebf1000 --len 8 --decoder nvme --bar0 0xfebf0000 \
		--queues 1 >/dev/null
	events_start --text "$BATS_TEST_TMPDIR/ev" --count 1 --duration 10
	vmm_go vm
	events_wait
	run cat "$BATS_TEST_TMPDIR/ev"
	assert_output --regexp ' mmio 0xfebf1000 width 4 value 0x9 region 1 seq 0 sq_tail queue 0$'
}

@test "decoder parameters that cannot work are refused" {
	for bad in "--decoder nvme --bar0 0xfebf0000" "--decoder nvme --queues 2 --dstrd 16" \
		   "--decoder virtio-pci --notify-base 0xfe003000" "--decoder virtio-legacy" \
		   "--decoder bitfield"; do
		run "$MT" region add --vm $$ --mmio 0xfebf1000 --len 8 $bad
		assert_failure
		assert_output --regexp "^mmiotrap: --decoder [a-z-]+ needs "
	done
	run "$MT" region add --vm $$ --mmio 0xfebf1000 --len 8 --decoder nvmf
	assert_failure
	assert_output "mmiotrap: bad --decoder 'nvmf': raw, nvme, virtio-pci, virtio-legacy or bitfield"
	run "$MT" region add --vm $$ --pio 0x600 --len 4 --decoder bitfield --field x:0:3
	assert_failure
	assert_output "mmiotrap: bad --field 'x:0:3': want NAME:MASK:SHIFT, MASK not 0"
	run "$MT" -j region list
	assert_output "[]"
}

@test "options of another decoder, and numbers that are not, are refused" {
	run "$MT" region add --vm $$ --mmio 0xfebf1000 --len 8 --decoder virtio-pci \
		--notify-base 0xfebf1000 --queues 2 --bar0 0x1000
	assert_failure
	assert_output "mmiotrap: --bar0 is no option of --decoder virtio-pci"
	run "$MT" region add --vm $$ --mmio 0xfebf1000 --len 8 --field a:1:0
	assert_failure
	assert_output "mmiotrap: --field is no option of --decoder raw"
	run "$MT" region add --vm $$ --pio 0x700 --len 4 --decoder bitfield --field a:010:0x10
	assert_output "mmiotrap: bad --field 'a:010:0x10': want NAME:MASK:SHIFT, MASK not 0"
	run "$MT" region add --vm $$ --pio 0x600 --len 4 --decoder bitfield --field a:10:0x10
	assert_success
	assert_output --partial "bitfield a:0xa:16"
	run "$MT" region add --vm $$ --pio 0x700 --len 4 --decoder bitfield --field a:-1:0
	assert_failure
	assert_output "mmiotrap: bad --field 'a:-1:0': want NAME:MASK:SHIFT, MASK not 0"
	run "$MT" region add --vm $$ --pio 0x700 --len 4 --decoder bitfield --field 7a:1:0
	assert_failure
	assert_output "mmiotrap: bad --field '7a:1:0': NAME is a letter, then letters, digits, '_', '.', '-'"
	# Only the one good region of this test was added.
	assert_equal "$("$MT" -j region list | jq -c 'map([.bus, .addr])')" '[["pio",1536]]'
}
