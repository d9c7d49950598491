#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
# load, unload, status, doctor: idempotence, and nothing left behind.

setup() {
	load helper
	require_bpf
}

teardown() {
	unload_all
}

# doctor_traces NAME: doctor says the kernel has tracepoint(s) NAME.
doctor_traces() {
	doctor_json | jq -e --arg n "tp $1" '.checks[] | select(.name == $n) |
		.detail | startswith("traced")' >/dev/null
}

# The tp_btf links: kvm_fast_mmio's and the interrupts' too where the
# kernel has those tracepoints.
tp_btf_links() {
	{
		printf '%s\n' tp_btf_exit tp_btf_mmio tp_btf_pio
		! doctor_traces kvm_fast_mmio || echo tp_btf_fast_mmio
		! doctor_traces "kvm irq" || printf '%s\n' tp_btf_line tp_btf_msi
	} | LC_ALL=C sort
}

@test "load attaches tp_btf programs and pins maps and links" {
	run "$MT" load
	assert_success
	assert_output "loaded at $MMIOTRAP_PIN_ROOT (attach mode tp_btf)"
	run ls "$MMIOTRAP_PIN_ROOT/maps"
	assert_output "$(printf '%s\n' addr_index counters drops irqs queues regions rings routes slots subs totals vm_bits vms)"
	run ls "$MMIOTRAP_PIN_ROOT/links"
	assert_output "$(tp_btf_links)"
	run bpftool link show pinned "$MMIOTRAP_PIN_ROOT/links/tp_btf_mmio"
	assert_output --partial "tp 'kvm_mmio'"
	run bpftool link show pinned "$MMIOTRAP_PIN_ROOT/links/tp_btf_pio"
	assert_output --partial "tp 'kvm_pio'"
	run bpftool link show pinned "$MMIOTRAP_PIN_ROOT/links/tp_btf_exit"
	assert_output --partial "tp 'kvm_userspace_exit'"
	if doctor_traces "kvm irq"; then
		run bpftool link show pinned "$MMIOTRAP_PIN_ROOT/links/tp_btf_msi"
		assert_output --partial "tp 'kvm_msi_set_irq'"
		run bpftool link show pinned "$MMIOTRAP_PIN_ROOT/links/tp_btf_line"
		assert_output --partial "tp 'kvm_set_irq'"
	fi
}

# own_links: each link pinned under this suite's root, with its id and
# program; other suites (and other instances) may load and unload meanwhile.
own_links() {
	local pin
	for pin in "$MMIOTRAP_PIN_ROOT"/links/*; do
		bpftool -j link show pinned "$pin" |
			jq -c --arg pin "${pin##*/}" '[$pin, .id, .prog_id]' ||
			fail "bpftool cannot show the link pinned at $pin"
	done
}

@test "a second load says it is loaded and changes nothing" {
	"$MT" load
	before=$(own_links)
	[ "$(wc -l <<<"$before")" = "$(tp_btf_links | wc -l)" ] ||
		fail "wanted the links $(tp_btf_links | paste -sd' '), got: $before"
	run "$MT" load
	assert_success
	assert_output "already loaded at $MMIOTRAP_PIN_ROOT (attach mode tp_btf); nothing changed"
	assert_equal "$(own_links)" "$before"
	run "$MT" -j load
	assert_output "{\"pin_root\":\"$MMIOTRAP_PIN_ROOT\",\"attach_mode\":\"tp_btf\",\"changed\":false}"
}

@test "unload detaches and removes every pin it made" {
	"$MT" load
	links=$(bpftool -j link show pinned "$MMIOTRAP_PIN_ROOT/links/tp_btf_mmio" | jq .id)
	run "$MT" unload
	assert_success
	assert_output "unloaded $MMIOTRAP_PIN_ROOT"
	[ ! -e "$MMIOTRAP_PIN_ROOT" ]
	run bpftool link show id "$links"
	assert_failure
}

@test "unload removes only its own pins" {
	"$MT" load
	bpftool map create "$MMIOTRAP_PIN_ROOT/foreign" type array key 4 value 4 entries 1 name foreign
	run "$MT" unload
	assert_failure
	assert_output "mmiotrap: unloaded, but $MMIOTRAP_PIN_ROOT holds files mmiotrap did not make: left it"
	run ls "$MMIOTRAP_PIN_ROOT"
	assert_output "foreign"
	rm "$MMIOTRAP_PIN_ROOT/foreign"
	rmdir "$MMIOTRAP_PIN_ROOT"
}

@test "status reports the attach mode and regions" {
	"$MT" load
	run "$MT" status
	assert_success
	assert_output "$(printf 'loaded at %s\nattach mode: tp_btf\nregions: 0 (0 stale)\nsubscribers: 0\nlimits: 16384 regions, 4096 VMs, 65536 index entries, 64 subscribers' "$MMIOTRAP_PIN_ROOT")"
	run "$MT" -j status
	assert_output "{\"pin_root\":\"$MMIOTRAP_PIN_ROOT\",\"loaded\":true,\"attach_mode\":\"tp_btf\",\"regions\":0,\"stale_regions\":0,\"subscribers\":[],\"limits\":{\"max_regions\":16384,\"max_vms\":4096,\"index_entries\":65536,\"max_subs\":64}}"
}

@test "doctor reports each kernel feature on a line and chooses tp_btf" {
	run "$MT" doctor
	for name in root btf 'tp kvm_mmio' 'tp kvm_pio' 'tp kvm_fast_mmio' 'tp kvm irq' bpffs tracefs lockdown \
		'fast mmio bus' 'attach fentry' 'attach tp_btf' 'attach raw_tp'; do
		assert_line --regexp "^$name +ok "
	done
	assert_line --regexp '^kvm +(ok|MISSING) '
	assert_line --regexp '^attach mode +ok +tp_btf$'
	run "$MT" -j doctor
	[ "$(jq -r '.checks[] | select(.name == "attach mode") | .detail' <<<"$output")" = tp_btf ]
}

# bats test_tags=kvm
@test "doctor succeeds where /dev/kvm is usable too" {
	require_kvm
	run "$MT" doctor
	assert_success
	assert_line --regexp '^kvm +ok '
	run "$MT" -j doctor
	assert_success
	[ "$(jq -r '.ok' <<<"$output")" = true ]
}

@test "every command but load says so when nothing is loaded" {
	for cmd in unload status "region list" "region del x" stats "events --count 1" \
		   "region add --vm $$ --mmio 0xd0000000 --len 4"; do
		run $MT $cmd
		assert_failure
		if [ "$cmd" = unload ]; then
			assert_output "mmiotrap: not loaded at $MMIOTRAP_PIN_ROOT"
		else
			assert_output "mmiotrap: not loaded at $MMIOTRAP_PIN_ROOT (run 'mmiotrap load')"
		fi
	done
	run "$MT" -j stats
	assert_failure
	assert_output "{\"error\":\"not loaded at $MMIOTRAP_PIN_ROOT (run 'mmiotrap load')\"}"
}

@test "commands that change or read the trap refuse to run without root" {
	"$MT" load
	# Wherever the tree is, nobody must be able to run the binary.
	nobody_dir=$(mktemp -d)
	chmod 755 "$nobody_dir"
	install -m 755 "$MT" "$nobody_dir/mmiotrap"
	for cmd in load unload status "region list" "region add" "region del" stats events; do
		run setpriv --reuid=65534 --regid=65534 --clear-groups "$nobody_dir/mmiotrap" $cmd x
		assert_failure
		assert_output "mmiotrap: '${cmd##* }' needs root"
	done
	run setpriv --reuid=65534 --regid=65534 --clear-groups "$nobody_dir/mmiotrap" doctor
	rm -r "$nobody_dir"
	assert_failure
	assert_line --regexp '^root +MISSING +no'
	[ -e "$MMIOTRAP_PIN_ROOT/links/tp_btf_mmio" ]
}

@test "a pin root outside bpffs is refused and nothing is made" {
	run "$MT" --pin-root "$BATS_TEST_TMPDIR/pins" load
	assert_failure
	assert_output "mmiotrap: pin root $BATS_TEST_TMPDIR/pins is not on a bpf filesystem"
	[ ! -e "$BATS_TEST_TMPDIR/pins" ]
}

@test "load mounts bpffs when missing, and says so when it cannot" {
	# A mount namespace of its own: bpffs unmounted, then made unmountable.
	run unshare -m sh -c "{ ! mountpoint -q /sys/fs/bpf || umount /sys/fs/bpf; } && '$MT' load >/dev/null &&
		mountpoint -q /sys/fs/bpf && '$MT' unload"
	assert_success
	run unshare -m sh -c "mount -t tmpfs -o ro,size=64k none /sys/fs && exec '$MT' load"
	assert_failure
	assert_output "mmiotrap: bpffs is not mounted for $MMIOTRAP_PIN_ROOT and cannot be mounted at /sys/fs/bpf: No such file or directory"
	[ ! -e "$MMIOTRAP_PIN_ROOT" ]
}

@test "unknown commands and arguments get one line and a failure" {
	run "$MT" frobnicate
	assert_failure
	assert_output "mmiotrap: unknown command 'frobnicate' (try 'mmiotrap help')"
	run "$MT" region frob
	assert_failure
	assert_output "mmiotrap: unknown region command 'frob' (try 'mmiotrap region help')"
	run "$MT" load now
	assert_failure
	assert_output "mmiotrap: unexpected argument 'now'"
	run "$MT" region help
	assert_success
	assert_output "Usage: mmiotrap [-j|-p] [--pin-root DIR] region { add | del | list | help }"
}

@test "every spelling of a pin root names one instance; an empty one, or a symlink, names none" {
	local root=$MMIOTRAP_PIN_ROOT
	run "$MT" --pin-root "$root//" load
	assert_success
	assert_output "loaded at $root (attach mode tp_btf)"
	for spelling in "$root/" "$(dirname "$root")/./x/../$(basename "$root")"; do
		run "$MT" -j --pin-root "$spelling" status
		assert_success
		assert_output --partial "\"pin_root\":\"$root\""
	done
	run sh -c "cd '$(dirname "$root")' && '$MT' -j --pin-root '$(basename "$root")' status"
	assert_output --partial "\"pin_root\":\"$root\""
	run "$MT" --pin-root "" status
	assert_failure
	assert_output "mmiotrap: --pin-root '': an empty path names no instance"
	ln -s "$root" "$root-link"
	run "$MT" --pin-root "$root-link" status
	rm "$root-link"
	assert_failure
	assert_output "mmiotrap: cannot open $root-link: Too many levels of symbolic links"
	unload_all
}

@test "load makes a pin root that is there already private to root" {
	mkdir -m 0777 "$MMIOTRAP_PIN_ROOT"
	run "$MT" load
	assert_success
	run stat -c %a "$MMIOTRAP_PIN_ROOT"
	assert_output 700
	unload_all
}

@test "half an instance is named by every command, refused by load, and removed by unload" {
	"$MT" load >/dev/null
	rm "$MMIOTRAP_PIN_ROOT/links/tp_btf_pio"
	for cmd in status "region list" stats load; do
		run "$MT" $cmd
		assert_failure
		assert_output "mmiotrap: half an instance is pinned at $MMIOTRAP_PIN_ROOT (a crash's?): run 'mmiotrap unload' first"
	done
	run "$MT" unload
	assert_success
	run "$MT" load
	assert_success
}

@test "the tables' sizes are chosen at load; a full table names its limit and the option that raises it" {
	sleep 600 3>&- &
	a=$!
	sleep 600 3>&- &
	b=$!
	echo "$a $b" >>"$BATS_TEST_TMPDIR/children"
	run "$MT" load --max-regions 2 --max-vms 1 --index-entries 4
	assert_success
	run "$MT" -j status
	assert_equal "$(jq -c .limits <<<"$output")" '{"max_regions":2,"max_vms":1,"index_entries":4,"max_subs":64}'
	"$MT" region add --vm "$a" --mmio 0x1000 --len 4 >/dev/null
	"$MT" region add --vm "$a" --mmio 0x2000 --len 4 >/dev/null
	run "$MT" region add --vm "$a" --mmio 0x3000 --len 4
	assert_failure
	assert_output "mmiotrap: no room for another region: 2 at most (mmiotrap load --max-regions raises it)"
	"$MT" region del 2 >/dev/null
	run "$MT" region add --vm "$b" --mmio 0x3000 --len 4
	assert_failure
	assert_output "mmiotrap: no room for another VM: 1 at most (mmiotrap load --max-vms raises it)"
	# 0x4000 len 0xf is four blocks (8, 4, 2, 1): one more than there is room for.
	run "$MT" region add --vm "$a" --mmio 0x4000 --len 0xf
	assert_failure
	assert_output "mmiotrap: the address index is full: 4 blocks (mmiotrap load --index-entries raises it)"
	run "$MT" -j region list
	assert_equal "$(jq -c 'map(.id)' <<<"$output")" '[1]'
	kill "$a" "$b"
}

@test "load's sizes are checked, each on one line" {
	run "$MT" load --max-regions 0
	assert_failure
	assert_output "mmiotrap: bad --max-regions '0': 1 to 16777215"
	run "$MT" load --max-vms 0x2000000
	assert_failure
	assert_output "mmiotrap: bad --max-vms '0x2000000': 1 to 16777216"
	[ ! -e "$MMIOTRAP_PIN_ROOT" ] || fail "a refused load made $MMIOTRAP_PIN_ROOT"
}
