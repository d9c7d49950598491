#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
# An unmodified QEMU (Debian's qemu-system-x86_64 -enable-kvm, q35, SeaBIOS)
# booting from NVMe: mmiotrap must see exactly the doorbell writes that QEMU
# traces itself, in the same order, with the same queues and values.
# bats file_tags=kvm

setup() {
	load helper
	# First: teardown stops the VMs with it, whatever setup got to.
	source "$BATS_TEST_DIRNAME/qemu/qemu.bash"
	load_trap
	qemu_available 2>"$BATS_TEST_TMPDIR/why" || require "$(cat "$BATS_TEST_TMPDIR/why")"
}

teardown() {
	qemu_stop_all
	unload_trap
}

# boot_and_register doorbells|bar0: boot once to learn where SeaBIOS puts
# BAR0 (QEMU cannot pin it), register an nvme region over its doorbells or
# over all of it, then reset: the second boot is the one compared.
boot_and_register() {
	local pid addr len
	# Unique on this machine: the policy finds the VM by it.
	name=web-$$
	pid=$(qemu_start "$name")
	qemu_cont "$name"
	qemu_wait_booted "$name"
	read -r bar0 bar0_size < <(qemu_nvme_bar0 "$name")
	dstrd=$(qemu_nvme_dstrd "$name")
	mark=$(qemu_trace_mark "$name")
	# The doorbells of the admin queue and QEMU's 64 I/O queue pairs.
	addr=$((bar0 + 0x1000)) len=$((2 * 65 * (4 << dstrd)))
	[ "$1" = doorbells ] || addr=$((bar0)) len=$((bar0_size))
	# The operator's way: a policy naming the VM as QEMU's -name does.
	cat >"$BATS_TEST_TMPDIR/nvme.yaml" <<-YAML
	vms:
	  - vm: {name: $name}
	    regions:
	      - name: web-nvme
	        addr: $addr
	        len: $len
	        widths: [4]
	        decoder: nvme
	        bar0: $bar0
	        dstrd: $dstrd
	        queues: 65
	YAML
	run "$MT" policy apply "$BATS_TEST_TMPDIR/nvme.yaml"
	assert_success
	assert_output "added web-nvme"
	assert_equal "$("$MT" -j region list | jq '.[0].vm')" "$pid"
	# A subscriber through the whole boot; an interrupt makes it read what is left.
	events_start "$BATS_TEST_TMPDIR/boot.ev" --duration 600
	qemu_reset "$name"
	qemu_wait_booted "$name"
	kill -INT "$events_pid"
	events_wait
	output=$(cat "$BATS_TEST_TMPDIR/boot.ev")
	# A lost record would make any comparison below a partial one.
	assert_equal "$(jq -c 'select(has("lost"))' <<<"$output")" ""
	qemu_doorbells "$name" --skip-lines "$mark" | jq -c . >"$BATS_TEST_TMPDIR/qemu.doorbells"
	qemu_reg_writes "$name" --skip-lines "$mark" | jq -c . >"$BATS_TEST_TMPDIR/qemu.writes"
	[ "$(wc -l <"$BATS_TEST_TMPDIR/qemu.doorbells")" -gt 100 ] ||
		fail "QEMU traced only $(wc -l <"$BATS_TEST_TMPDIR/qemu.doorbells") doorbells"
}

same_as_qemu() {
	diff -u "$BATS_TEST_TMPDIR/qemu.doorbells" "$BATS_TEST_TMPDIR/mmiotrap" ||
		fail "mmiotrap's doorbells differ from QEMU's own trace"
}

@test "mmiotrap sees exactly the NVMe doorbells QEMU traces itself" {
	boot_and_register doorbells
	jq -c '{kind, queue, value}' <<<"$output" >"$BATS_TEST_TMPDIR/mmiotrap"
	same_as_qemu
}

@test "over all of BAR0, the register writes are off the doorbell grid, the doorbells the same" {
	boot_and_register bar0
	jq -c 'select(.kind == "sq_tail" or .kind == "cq_head") | {kind, queue, value}' \
		<<<"$output" >"$BATS_TEST_TMPDIR/mmiotrap"
	same_as_qemu
	# The controller's registers, write by write as QEMU traced them.
	jq -c --argjson bar0 $((bar0)) 'select(.kind == "off_grid" and .addr - $bar0 < 4096)
		| {offset: (.addr - $bar0), value, width}' <<<"$output" >"$BATS_TEST_TMPDIR/mmiotrap.writes"
	diff -u "$BATS_TEST_TMPDIR/qemu.writes" "$BATS_TEST_TMPDIR/mmiotrap.writes" ||
		fail "mmiotrap's register writes differ from QEMU's pci_nvme_mmio_write trace"
	# Among them CC (0x14), AQA, ASQ and ACQ: the comparison covered something.
	assert_equal "$(jq -s -c 'map(.offset) | unique' "$BATS_TEST_TMPDIR/qemu.writes")" \
		"[20,36,40,44,48,52]"
}
