#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
# Policies that name a QEMU device instead of an address: apply asks the
# VM (QMP query-pci, the device's registers) where its doorbells are. An
# unmodified QEMU booting from NVMe, as in 600: the doorbells captured
# through a policy naming the device by its id must be QEMU's own.
# bats file_tags=kvm

setup() {
	load helper
	source "$BATS_TEST_DIRNAME/qemu/qemu.bash"
	load_trap
	qemu_available 2>"$BATS_TEST_TMPDIR/why" || require "$(cat "$BATS_TEST_TMPDIR/why")"
}

teardown() {
	qemu_stop_all
	unload_trap
}

# nvme_policy FILE NAME: a policy for QEMU's NVMe device nvme0, no address in it.
nvme_policy() {
	cat >"$1" <<-YAML
	vms:
	  - vm: {name: $2}
	    regions:
	      - name: web-nvme
	        device: nvme0
	        widths: [4]
	YAML
}

@test "a policy naming QEMU's NVMe device by id captures exactly the doorbells QEMU traces" {
	local name=dev-$$ pid
	pid=$(qemu_start "$name")
	qemu_cont "$name"
	qemu_wait_booted "$name"
	read -r bar0 _ < <(qemu_nvme_bar0 "$name")
	nvme_policy "$BATS_TEST_TMPDIR/nvme.yaml" "$name"
	run grep -c 0x "$BATS_TEST_TMPDIR/nvme.yaml"
	assert_output 0
	run "$MT" policy apply "$BATS_TEST_TMPDIR/nvme.yaml"
	assert_success
	assert_output "added web-nvme"
	# What 600 writes by hand: BAR0 + 0x1000, 65 queue pairs of 4-byte doorbells.
	assert_equal "$("$MT" -j region list | jq -c '.[0] | [.vm, .addr, .len]')" \
		"[$pid,$((bar0 + 0x1000)),520]"
	mark=$(qemu_trace_mark "$name")
	events_start "$BATS_TEST_TMPDIR/boot.ev" --duration 600
	qemu_reset "$name"
	qemu_wait_booted "$name"
	kill -INT "$events_pid"
	events_wait
	assert_equal "$(jq -c 'select(has("lost"))' "$BATS_TEST_TMPDIR/boot.ev")" ""
	qemu_doorbells "$name" --skip-lines "$mark" | jq -c . >"$BATS_TEST_TMPDIR/qemu.doorbells"
	jq -c '{kind, queue, value}' "$BATS_TEST_TMPDIR/boot.ev" >"$BATS_TEST_TMPDIR/mmiotrap"
	[ "$(wc -l <"$BATS_TEST_TMPDIR/qemu.doorbells")" -gt 100 ] ||
		fail "QEMU traced only $(wc -l <"$BATS_TEST_TMPDIR/qemu.doorbells") doorbells"
	diff -u "$BATS_TEST_TMPDIR/qemu.doorbells" "$BATS_TEST_TMPDIR/mmiotrap" ||
		fail "mmiotrap's doorbells differ from QEMU's own trace"
}

@test "a device the VM does not have is one error naming the VM and the device" {
	local name=nodev-$$ pid
	pid=$(qemu_start "$name")
	cat >"$BATS_TEST_TMPDIR/p.yaml" <<-YAML
	vms:
	  - vm: {name: $name}
	    regions:
	      - {name: gone, device: nvme9}
	YAML
	run "$MT" policy apply "$BATS_TEST_TMPDIR/p.yaml"
	assert_failure
	assert_output "mmiotrap: $BATS_TEST_TMPDIR/p.yaml:4: key 'device': vm '$name' (pid $pid): no device 'nvme9' (by id or PCI address) in query-pci"
	assert_equal "$("$MT" -j region list)" "[]"
	# A socket the file gives is the one asked, not the command line's.
	cat >"$BATS_TEST_TMPDIR/q.yaml" <<-YAML
	vms:
	  - vm: {name: $name, qmp: $BATS_TEST_TMPDIR/none.sock}
	    regions:
	      - {name: disk, device: nvme0}
	YAML
	run "$MT" -j policy apply "$BATS_TEST_TMPDIR/q.yaml"
	assert_failure
	assert_output "{\"error\":\"$BATS_TEST_TMPDIR/q.yaml:4: key 'device': vm '$name' (pid $pid): cannot talk QMP on $BATS_TEST_TMPDIR/none.sock: No such file or directory\"}"
	# A socket that answers without end is not QEMU: bounded, and one line.
	python3 -S -c '
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.bind(sys.argv[1])
s.listen(1)
c, _ = s.accept()
try:
	c.sendall(b"{\"QMP\": \"")
	while True:
		c.sendall(b"a" * 65536)
except OSError:
	pass
' "$BATS_TEST_TMPDIR/endless.sock" 3>&- &
	echo $! >>"$BATS_TEST_TMPDIR/children"
	for i in $(seq 100); do
		[ -S "$BATS_TEST_TMPDIR/endless.sock" ] && break
		sleep 0.05
	done
	sed "s|none.sock|endless.sock|" "$BATS_TEST_TMPDIR/q.yaml" >"$BATS_TEST_TMPDIR/e.yaml"
	run "$MT" policy apply "$BATS_TEST_TMPDIR/e.yaml"
	assert_failure
	assert_output "mmiotrap: $BATS_TEST_TMPDIR/e.yaml:4: key 'device': vm '$name' (pid $pid): cannot talk QMP on $BATS_TEST_TMPDIR/endless.sock: Protocol error"
}

@test "apply --watch follows the VM across a QEMU restart: the region comes back for the new pid and captures" {
	local name=watch-$$ pid1 pid2 log=$BATS_TEST_TMPDIR/watch.log
	nvme_policy "$BATS_TEST_TMPDIR/nvme.yaml" "$name"
	"$MT" policy apply --watch "$BATS_TEST_TMPDIR/nvme.yaml" >"$log" 2>&1 3>&- &
	watch_pid=$!
	echo "$watch_pid" >>"$BATS_TEST_TMPDIR/children"
	wait_log "$log" "left_out web-nvme: no KVM VMM has -name '$name'"
	# Paused before the firmware: the device is there, its BAR0 not yet.
	pid1=$(qemu_start "$name")
	wait_log "$log" "left_out web-nvme: vm '$name' (pid $pid1): device 'nvme0': BAR0 is not mapped (yet)"
	qemu_cont "$name"
	wait_log "$log" "added web-nvme"
	assert_equal "$("$MT" -j region list | jq -c '[.[] | [.name, .vm]]')" "[[\"web-nvme\",$pid1]]"
	# A change is said once: the VM running on, nothing more.
	sleep 2
	assert_equal "$(grep -vc '^left_out' "$log")" 1
	assert_equal "$(grep -c 'no KVM VMM has' "$log")" 1

	qemu_stop "$name"
	wait_log "$log" "removed web-nvme"
	assert_equal "$("$MT" -j region list)" "[]"
	pid2=$(qemu_start "$name")
	qemu_cont "$name"
	qemu_wait_booted "$name"
	wait_log "$log" "added web-nvme" 2
	assert_equal "$("$MT" -j region list | jq -c '[.[] | [.name, .vm]]')" "[[\"web-nvme\",$pid2]]"

	# SIGTERM: a clean exit, the regions left as the policy says. Before
	# the reset: a reset unmaps BAR0 for a moment, and a watcher that looks
	# then removes the region until the firmware maps it again.
	kill -TERM "$watch_pid"
	wait "$watch_pid"
	assert_equal "$("$MT" -j region list | jq length)" 1

	# The new VM's doorbells, a whole boot of them, are QEMU's own.
	mark=$(qemu_trace_mark "$name")
	events_start "$BATS_TEST_TMPDIR/boot.ev" --duration 600
	qemu_reset "$name"
	qemu_wait_booted "$name"
	kill -INT "$events_pid"
	events_wait
	qemu_doorbells "$name" --skip-lines "$mark" | jq -c . >"$BATS_TEST_TMPDIR/qemu.doorbells"
	jq -c '{kind, queue, value}' "$BATS_TEST_TMPDIR/boot.ev" >"$BATS_TEST_TMPDIR/mmiotrap"
	[ "$(wc -l <"$BATS_TEST_TMPDIR/qemu.doorbells")" -gt 100 ] ||
		fail "QEMU traced only $(wc -l <"$BATS_TEST_TMPDIR/qemu.doorbells") doorbells"
	diff -u "$BATS_TEST_TMPDIR/qemu.doorbells" "$BATS_TEST_TMPDIR/mmiotrap" ||
		fail "mmiotrap's doorbells differ from QEMU's own trace"
}

@test "a device named by its QOM path resolves as by its id or its PCI address" {
	local name=qom-$$ pid rng b s f
	# An anonymous device too: its QOM path is QEMU's own, /machine/peripheral-anon/device[N].
	pid=$(qemu_start "$name" -device virtio-rng-pci)
	qemu_cont "$name"
	qemu_wait_booted "$name"
	rng=$(qemu_qmp "$name" qom-list '{"path": "/machine/peripheral-anon"}' |
		jq -r '.[] | select(.type == "child<virtio-rng-pci>") | "/machine/peripheral-anon/\(.name)"')
	[ -n "$rng" ] || fail "no virtio-rng-pci in /machine/peripheral-anon"
	read -r b s f < <(qemu_qmp "$name" query-pci |
		jq -r '[.[].devices[] | select(.id.vendor == 6900)][0] | "\(.bus) \(.slot) \(.function)"')
	cat >"$BATS_TEST_TMPDIR/p.yaml" <<-YAML
	vms:
	  - vm: {name: $name}
	    regions:
	      - {name: disk, device: nvme0, widths: [4]}
	      - {name: rng, device: "$(printf '%x:%x.%x' "$b" "$s" "$f")"}
	YAML
	run "$MT" policy apply "$BATS_TEST_TMPDIR/p.yaml"
	assert_success
	assert_output "$(printf 'added %s\n' disk rng)"
	before=$("$MT" -j region list)
	assert_equal "$(jq -c '[.[] | [.name, .vm, .decoder]]' <<<"$before")" \
		"[[\"disk\",$pid,\"nvme\"],[\"rng\",$pid,\"virtio-pci\"]]"
	# The same devices by QOM path: the same regions, nothing to change.
	sed -i -e 's|device: nvme0|device: /machine/peripheral/nvme0|' \
		-e "s|device: \"[0-9a-f:.]*\"|device: \"$rng\"|" "$BATS_TEST_TMPDIR/p.yaml"
	grep -qF "device: \"$rng\"" "$BATS_TEST_TMPDIR/p.yaml" || fail "$(cat "$BATS_TEST_TMPDIR/p.yaml")"
	run "$MT" policy apply "$BATS_TEST_TMPDIR/p.yaml"
	assert_success
	assert_output "nothing to change"
	assert_equal "$("$MT" -j region list)" "$before"
	# A path that is no device, or no PCI device, is one error naming it.
	cat >"$BATS_TEST_TMPDIR/bad.yaml" <<-YAML
	vms:
	  - vm: {name: $name}
	    regions:
	      - {name: gone, device: /machine/peripheral/nvme9}
	YAML
	run "$MT" policy apply "$BATS_TEST_TMPDIR/bad.yaml"
	assert_failure
	assert_output "mmiotrap: $BATS_TEST_TMPDIR/bad.yaml:4: key 'device': vm '$name' (pid $pid): no device '/machine/peripheral/nvme9' (by id nvme9) in query-pci"
	sed -i 's|/machine/peripheral/nvme9|/machine/q35|' "$BATS_TEST_TMPDIR/bad.yaml"
	run "$MT" policy apply "$BATS_TEST_TMPDIR/bad.yaml"
	assert_failure
	assert_output "mmiotrap: $BATS_TEST_TMPDIR/bad.yaml:4: key 'device': vm '$name' (pid $pid): device '/machine/q35': no PCI device at that QOM path (it has no addr)"
}

@test "a QMP socket given as -chardev socket and -mon mode=control is found on the command line" {
	local name=mon-$$ pid bar0
	pid=$(QEMU_QMP_FORM=mon qemu_start "$name")
	run grep -c -- '-qmp' "$(qemu_dir "$name")/cmdline"
	assert_output 0
	grep -qE -- '-mon chardev=qmp\\?,mode=control' "$(qemu_dir "$name")/cmdline" ||
		fail "not started with -mon: $(cat "$(qemu_dir "$name")/cmdline")"
	qemu_cont "$name"
	qemu_wait_booted "$name"
	read -r bar0 _ < <(qemu_nvme_bar0 "$name")
	nvme_policy "$BATS_TEST_TMPDIR/nvme.yaml" "$name"
	run "$MT" policy apply "$BATS_TEST_TMPDIR/nvme.yaml"
	assert_success
	assert_output "added web-nvme"
	assert_equal "$("$MT" -j region list | jq -c '.[0] | [.vm, .addr, .len]')" \
		"[$pid,$((bar0 + 0x1000)),520]"
}
