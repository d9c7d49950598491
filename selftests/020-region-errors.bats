#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
# Bad input to region add and del: one line naming the problem, a failure,
# and not one change to the maps.

setup_file() {
	load helper
	file_missing bpf || return 0
	"$MT" load
}

teardown_file() {
	load helper
	unload_all
}

setup() {
	load helper
	file_required
	sleep 1000 3>&- &
	vm=$!
	"$MT" region add --vm "$vm" --mmio 0xd0000000 --len 0x1000 --name db0
	"$MT" region add --vm "$vm" --pio 0x510 --len 4 --name io0
	before=$(snapshot)
}

teardown() {
	kill "$vm" 2>/dev/null || true
	for r in $("$MT" -j region list | jq -r '.[].id'); do
		"$MT" region del "$r" >/dev/null
	done
}

# Everything the trap reads: regions, the VM table and the address index.
snapshot() {
	"$MT" -j region list
	for m in vms addr_index; do
		bpftool -j map dump pinned "$MMIOTRAP_PIN_ROOT/maps/$m" | jq -c 'sort_by(.key)'
	done
}

# rejects MESSAGE ARGS...: region ARGS fails with MESSAGE and changes nothing.
rejects() {
	local want=$1
	shift
	run "$MT" region "$@"
	assert_failure
	assert_output "mmiotrap: $want"
	assert_equal "$(snapshot)" "$before"
	run "$MT" -j region "$@"
	assert_failure
	assert_equal "$(jq -r .error <<<"$output")" "$want"
}

@test "a region overlapping one of the same VM and bus is refused" {
	rejects "mmio 0xd0000ffc len 0x8 overlaps region 1 (db0) of vm $vm" \
		add --vm "$vm" --mmio 0xd0000ffc --len 8
	rejects "mmio 0xcffff000 len 0x2000 overlaps region 1 (db0) of vm $vm" \
		add --vm "$vm" --mmio 0xcffff000 --len 0x2000
	rejects "pio 0x513 len 0x1 overlaps region 2 (io0) of vm $vm" \
		add --vm "$vm" --pio 0x513 --len 1
}

@test "the same range on another bus or of another VM is no overlap" {
	run "$MT" region add --vm "$vm" --pio 0x1000 --len 4
	assert_success
	run "$MT" region add --vm "$$" --mmio 0xd0000000 --len 0x1000
	assert_success
	run "$MT" region add --vm "$vm" --mmio 0xd0001000 --len 4
	assert_success
}

@test "a zero length is refused" {
	rejects "bad --len 0: a region needs at least one byte" add --vm "$vm" --mmio 0xe0000000 --len 0
}

@test "a length that runs past the end of the bus is refused" {
	rejects "mmio 0xfffffffffffffff0 len 0x11 runs past the end of the address space" \
		add --vm "$vm" --mmio 0xfffffffffffffff0 --len 0x11
	rejects "pio 0xfffe len 0x4 runs past the end of the 64 KiB port space" \
		add --vm "$vm" --pio 0xfffe --len 4
	rejects "bad --len '0x10000000000000000': too large for 64 bits" \
		add --vm "$vm" --mmio 0 --len 0x10000000000000000
	run "$MT" region add --vm "$vm" --mmio 0xfffffffffffffff0 --len 0x10
	assert_success
}

@test "a width other than 1, 2, 4 or 8 is refused" {
	rejects "bad width '3' in --width '1,3': widths are 1, 2, 4 or 8" \
		add --vm "$vm" --mmio 0xe0000000 --len 4 --width 1,3
	rejects "bad width '16' in --width '16': widths are 1, 2, 4 or 8" \
		add --vm "$vm" --mmio 0xe0000000 --len 4 --width 16
	rejects "bad --width ','" add --vm "$vm" --mmio 0xe0000000 --len 4 --width ,
}

@test "a VM pid that does not exist is refused" {
	gone=$(sh -c 'echo $$')
	rejects "bad --vm '$gone': no such process" add --vm "$gone" --mmio 0xe0000000 --len 4
	rejects "bad --vm 'abc': not a number" add --vm abc --mmio 0xe0000000 --len 4
	rejects "bad --vm '0': not a pid" add --vm 0 --mmio 0xe0000000 --len 4
}

@test "a duplicate name is refused" {
	rejects "a region named 'db0' exists already" add --vm "$vm" --mmio 0xe0000000 --len 4 --name db0
}

@test "a malformed name is refused" {
	rejects "bad --name '7up': use letters, digits, '_', '.', '-', starting with a letter" \
		add --vm "$vm" --mmio 0xe0000000 --len 4 --name 7up
	rejects "bad --name 'a-name-that-is-much-too-long-for-it': longer than 31 characters" \
		add --vm "$vm" --mmio 0xe0000000 --len 4 --name a-name-that-is-much-too-long-for-it
}

@test "missing or unknown arguments are refused" {
	rejects "region add needs --vm PID, --mmio ADDR or --pio PORT, and --len BYTES" \
		add --vm "$vm" --mmio 0xe0000000
	rejects "give one of --mmio or --pio, once" add --vm "$vm" --mmio 0xe0000000 --pio 1 --len 1
	rejects "unknown argument '--colour' to region add" add --colour red
}

@test "deleting an unknown region is refused" {
	rejects "no region 'nope'" del nope
	rejects "no region '99'" del 99
	rejects "which region? give its name or id" del
}

@test "del by name or id removes the region from every map" {
	run "$MT" region del db0
	assert_success
	assert_output "deleted region 1"
	run "$MT" region del 2
	assert_success
	assert_equal "$("$MT" -j region list)" "[]"
	for m in vms addr_index; do
		assert_equal "$(bpftool -j map dump pinned "$MMIOTRAP_PIN_ROOT/maps/$m")" "[]"
	done
}

@test "region list shows each region in text and JSON" {
	run "$MT" region list
	assert_output "$(printf '1: name db0  vm %s  mmio 0xd0000000 len 0x1000  widths 1,2,4,8\n2: name io0  vm %s  pio 0x510 len 0x4  widths 1,2,4,8' "$vm" "$vm")"
	run "$MT" -j region list
	assert_equal "$(jq -c '.[0]' <<<"$output")" \
		"{\"id\":1,\"name\":\"db0\",\"vm\":$vm,\"bus\":\"mmio\",\"addr\":3489660928,\"len\":4096,\"widths\":[1,2,4,8],\"fast_widths\":[],\"want_fast\":[],\"decoder\":\"raw\",\"action\":\"ring\",\"policy\":false,\"stale\":false}"
}

@test "numbers are all digits, decimal or 0x hex, and too large says so" {
	rejects "bad --len '+4': not a number" add --vm "$vm" --mmio 0xe0000000 --len +4
	rejects "bad --len ' 4': not a number" add --vm "$vm" --mmio 0xe0000000 --len ' 4'
	rejects "bad --len '010': not a number" add --vm "$vm" --mmio 0xe0000000 --len 010
	rejects "bad --len '0x': not a number" add --vm "$vm" --mmio 0xe0000000 --len 0x
	rejects "bad --len '0x10000000000000000': too large for 64 bits" \
		add --vm "$vm" --mmio 0 --len 0x10000000000000000
	rejects "bad --mmio '99999999999999999999999': too large for 64 bits" \
		add --vm "$vm" --mmio 99999999999999999999999 --len 4
	rejects "bad --vm '4294967297': too large, at most 2147483647" \
		add --vm 4294967297 --mmio 0xe0000000 --len 4
}

@test "a region id is a whole number: 4294967297 and +1 are not region 1" {
	rejects "bad region id '4294967297': too large, at most 4294967295" del 4294967297
	rejects "no region '+1'" del +1
	rejects "no region ' 1'" del ' 1'
	rejects "no region '01'" del 01
}

@test "errors are one line of valid JSON whatever bytes the input holds" {
	rejects 'no region '\''\xff'\''' del $'\xff'
	rejects 'no region '\''a\x0ab'\''' del $'a\nb'
	rejects 'no region '\''\xc3'\''' del $'\xc3'
	long=$(printf 'é%.0s' $(seq 400))
	run "$MT" -j region del "$long"
	assert_failure
	assert_equal "$(jq -r 'keys[0]' <<<"$output")" error
	run "$MT" region del "$long"
	assert_equal "${#lines[@]}" 1
}

@test "a single-valued option given twice is refused" {
	rejects "--vm given twice" add --vm "$vm" --vm "$vm" --mmio 0xe0000000 --len 4
	rejects "--len given twice" add --vm "$vm" --mmio 0xe0000000 --len 4 --len 8
	rejects "--name given twice" add --vm "$vm" --mmio 0xe0000000 --len 4 --name a --name b
	rejects "--decoder given twice" add --vm "$vm" --mmio 0xe0000000 --len 4 --decoder raw \
		--decoder raw
	rejects "--width given twice" add --vm "$vm" --mmio 0xe0000000 --len 4 --width 4 --width 8
	rejects "--queues given twice" add --vm "$vm" --mmio 0xe0000000 --len 0x1000 \
		--decoder nvme --bar0 0xdffff000 --queues 1 --queues 2
	rejects "bad --field 'a:0xff:8': field 'a' given twice" add --vm "$vm" --mmio 0xe0000000 \
		--len 4 --decoder bitfield --field a:0xff:0 --field a:0xff:8
	run "$MT" --pin-root /sys/fs/bpf/a --pin-root /sys/fs/bpf/b status
	assert_failure
	assert_output "mmiotrap: --pin-root given twice"
}

@test "--vm names a process, not one of its threads" {
	python3 -c 'import threading, time
threading.Thread(target=time.sleep, args=(1000,), daemon=True).start()
time.sleep(1000)' 3>&- &
	tpid=$!
	for i in $(seq 100); do
		tid=$(ls "/proc/$tpid/task" | grep -vx "$tpid" | head -1)
		[ -z "$tid" ] || break
		sleep 0.05
	done
	[ -n "$tid" ] || { kill "$tpid"; fail "no thread of $tpid"; }
	rejects "$tid is a thread of process $tpid, not a process: give the VMM's pid" \
		add --vm "$tid" --mmio 0xe0000000 --len 4
	kill "$tpid"
}
