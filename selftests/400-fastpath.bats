#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
# The fast path: a region with an ioeventfd completes the guest's write in
# the kernel, and the emulator still gets every value, in order. The test
# VMM's emulator checks each value against the guest's script.
# bats file_tags=kvm

N=2000

setup() {
	load helper
	load_trap
}

teardown() {
	unload_trap
}

# fast BUS ADDR WIDTH: N writes of WIDTH, none of which exits.
fast() {
	emulate --fast "$1:$2:$3" "$1:$2:$3:$N:0xfffffff0:0x01010101"
	report_is '[.exits_mmio, .exits_pio, .events, .fast, .lost, .emu_mismatches]' "[0,0,$N,$N,0,0]"
	report_is .latest_ok true
}

@test "fast MMIO writes of each width reach the emulator with no exit" {
	for w in 1 2 4; do
		fast mmio 0xd0000000 "$w"
	done
}

@test "fast PIO writes of each width reach the emulator with no exit" {
	for w in 1 2 4; do
		fast pio 0x510 "$w"
	done
}

@test "the trap counts the real exits of a VM with regions: the pause and the hlt" {
	# The pause leaves time to look at the region while the VM runs.
	"$VMM" -j --pin-root "$MMIOTRAP_PIN_ROOT" --fast mmio:0xd0000000:4 \
		pause:300000 mmio:0xd0000000:4:$N >"$BATS_TEST_TMPDIR/out" 3>&- &
	vmm=$!
	sleep 0.2
	run "$MT" -j region list
	assert_equal "$(jq -c '.[0] | [.fast_widths, .action]' <<<"$output")" '[[1,2,4],"ring"]'
	wait "$vmm"
	run "$MT" -j stats
	# The pause step exits; after the run the region and its VM are gone.
	assert_equal "$(jq -c '[.regions, .totals.exits]' <<<"$output")" "[[],2]"
}

@test "slow-path dispatch gives the same events as the fast path" {
	script=(mmio:0xd0000000:4:500:7:3 pio:0x510:2:300:9 mmio:0xd0000000:4:200:100)
	emulate --fast mmio:0xd0000000:4 --fast pio:0x510:2 "${script[@]}"
	report_is '[.exits_mmio, .exits_pio, .events, .fast, .emu_mismatches]' "[0,0,1000,1000,0]"
	# The same writes, every one an exit the VMM hands to the library.
	emulate --slow mmio:0xd0000000:4 --slow pio:0x510:2 "${script[@]}"
	report_is '[.exits_mmio, .exits_pio, .events, .fast, .emu_mismatches]' "[700,300,1000,0,0]"
	# And a fast region whose only fast width is not the one written.
	emulate --fast mmio:0xd0000000:4:1,4:1 --fast pio:0x510:2:1,2:1 "${script[@]}"
	report_is '[.exits_mmio, .exits_pio, .events, .fast, .emu_mismatches]' "[700,300,1000,0,0]"
}

@test "mixed widths: the fast ones complete in the kernel, the rest exit, one stream" {
	emulate --fast mmio:0xd0000000:4:1,2,4:4 \
		mmio:0xd0000000:4:300 mmio:0xd0000000:2:100:5 mmio:0xd0000002:2:50 \
		mmio:0xd0000000:1:30 mmio:0xd0000000:4:300:1000
	report_is '[.exits_mmio, .events, .fast, .lost, .emu_mismatches]' "[180,780,600,0,0]"
	report_is .latest_ok true
}

@test "writes outside the fast region, and of widths it refuses, stay the VMM's" {
	emulate --fast mmio:0xd0000000:4:4 \
		mmio:0xd0000000:4:100 mmio:0xd0000004:4:20 mmio:0xd0000000:2:10 pio:0x510:1:5
	report_is '[.exits_mmio, .exits_pio, .expected, .events, .fast]' "[30,5,100,100,100]"
}

@test "a subscriber that sleeps is woken for every burst" {
	bursts=()
	for i in 1 2 3 4 5 6 7; do
		bursts+=("mmio:0xd0000000:4:$((i * 37)):$((i * 1000))" "pause:$((i * 3000))")
	done
	# The emulator waits without a timeout: a stranded record fails the run.
	for run in 1 2 3 4 5; do
		emulate --fast mmio:0xd0000000:4 "${bursts[@]}"
		report_is '[.exits_mmio, .events, .fast, .lost, .emu_mismatches]' "[0,1036,1036,0,0]"
	done
}

@test "a busy-polling subscriber gets every value" {
	emulate --busy-poll --fast mmio:0xd0000000:4 mmio:0xd0000000:4:$N:1:1
	report_is '[.exits_mmio, .events, .fast, .lost, .emu_mismatches]' "[0,$N,$N,0,0]"
}

@test "an overloaded subscriber gets lost counts equal to the gaps, and the latest value" {
	# 100 µs per event against a ring of 20164 records.
	emulate --delay-us 100 --fast mmio:0xd0000000:4 mmio:0xd0000000:4:40000:3:7
	lost=$(jq .lost <<<"$report")
	[ "$lost" -gt 0 ] || fail "wanted writes lost, got none: $report"
	report_is '[.events + .lost, .lost == .dropped, .lost_events > 0, .latest_ok, .emu_mismatches]' \
		"[40000,true,true,true,0]"
}

@test "deregistration leaves no ioeventfd: the next write exits again" {
	emulate --fast mmio:0xd0000000:4 --fast pio:0x510:2 \
		mmio:0xd0000000:4:100 pio:0x510:2:100 release mmio:0xd0000000:4:50:9 pio:0x510:2:40
	# The release step is a port write of its own.
	report_is '[.exits_mmio, .exits_pio, .events, .fast, .emu_mismatches]' "[50,41,200,200,0]"
	run "$MT" -j region list
	assert_output "[]"
	run "$MT" -j stats
	assert_equal "$(jq -c .regions <<<"$output")" "[]"
}

@test "a capture region's ring wakeups never strand a record" {
	# No eventfd: the subscriber sleeps until the ring itself wakes it,
	# and 'events' never looks at the ring on a timeout of its own.
	bursts=()
	for i in 1 2 3 4 5 6 7; do
		bursts+=("pio:0x510:2:$((i * 13))" "pause:$((i * 500))")
	done
	for run in $(seq 20); do
		vmm_start vm "${bursts[@]}"
		"$MT" region add --vm "$vm_pid" --pio 0x510 --len 2 >/dev/null
		events_start "$BATS_TEST_TMPDIR/ev" --count 364 --duration 20
		vmm_go vm
		events_wait
		[ "$(wc -l <"$BATS_TEST_TMPDIR/ev")" = 364 ] ||
			fail "run $run: wanted 364 events, got $(wc -l <"$BATS_TEST_TMPDIR/ev")"
		"$MT" region del 1 >/dev/null
	done
}

@test "fast-region mistakes are refused and leave nothing registered" {
	run "$VMM" -j --pin-root "$MMIOTRAP_PIN_ROOT" --fast mmio:0xd0000000:4:4:2 mmio:0xd0000000:4:1
	assert_failure
	assert_output --partial "emulator: Invalid argument"
	run "$VMM" -j --pin-root "$MMIOTRAP_PIN_ROOT" --fast mmio:0xd0000000:0x1000:1 mmio:0xd0000000:4:1
	assert_failure
	assert_output --partial "emulator: Argument list too long"
	run "$MT" -j region list
	assert_output "[]"
}

@test "unload refuses while a live VMM holds a fast region, naming it; --force unloads all the same" {
	"$VMM" -j --pin-root "$MMIOTRAP_PIN_ROOT" --fast mmio:0xd0000000:4 \
		pause:3000000 mmio:0xd0000000:4:10 >"$BATS_TEST_TMPDIR/out" 3>&- &
	vmm=$!
	echo "$vmm" >>"$BATS_TEST_TMPDIR/children"
	for i in $(seq 100); do
		[ "$("$MT" -j region list | jq length)" = 1 ] && break
		sleep 0.05
	done
	run "$MT" unload
	assert_failure
	assert_output "mmiotrap: VMM $vmm holds fast region 1 (-): unloading would lose its writes"
	run "$MT" status
	assert_success
	run "$MT" unload --force
	assert_success
	kill "$vmm" 2>/dev/null || true
}

@test "a fast-path VMM killed with SIGKILL mid-stream: the next one takes the doorbell at once, every value" {
	vmm_start old --pin-root "$MMIOTRAP_PIN_ROOT" --fast mmio:0xd0000000:4 \
		mmio:0xd0000000:4:300:1 pause:30000000 mmio:0xd0000000:4:300:1
	vmm_release old
	# Killed in its pause, with the first 300 values taken in the kernel.
	for i in $(seq 200); do
		[ "$("$MT" -j stats | jq '.regions[0].fast // 0')" = 300 ] && break
		sleep 0.05
	done
	assert_equal "$("$MT" -j stats | jq '.regions[0].fast')" 300
	kill -KILL "$old_pid"
	wait "$old_pid" 2>/dev/null || true
	emulate --fast mmio:0xd0000000:4 mmio:0xd0000000:4:$N:7:3
	report_is '[.exits_mmio, .events, .fast, .lost, .emu_mismatches]' "[0,$N,$N,0,0]"
	report_is .latest_ok true
	# What is left is the killed VMM's region, named stale, and deletable.
	run "$MT" -j region list
	assert_equal "$(jq -c 'map([.id, .vm, .stale])' <<<"$output")" "[[1,$old_pid,true]]"
	run "$MT" region del 1
	assert_success
}
