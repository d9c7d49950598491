#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
# 'vm show' against an unmodified QEMU (Debian's 7.2, q35, SeaBIOS) booting
# from a virtio-blk-pci disk: what mmiotrap reads from the kernel must be
# exactly the ioeventfds QEMU's own kvm_set_ioeventfd_* trace says it holds.
# bats file_tags=kvm

setup() {
	load helper
	source "$BATS_TEST_DIRNAME/qemu/qemu.bash"
	qemu_available 2>"$BATS_TEST_TMPDIR/why" || require "$(cat "$BATS_TEST_TMPDIR/why")"
}

teardown() {
	qemu_stop_all
	unload_trap
}

@test "vm show lists exactly the ioeventfds QEMU registered for its virtio-blk disk" {
	local name=vblk-$$ pid args
	mapfile -t args < <(qemu_virtio_blk_args "$name")
	pid=$(qemu_start "$name" "${args[@]}")
	qemu_cont "$name"
	qemu_wait_booted "$name"
	want=$(qemu_ioeventfds "$name")
	# Both notify paths of at least the one queue: else nothing was compared.
	assert_equal "$(jq -c 'map([.bus, .len]) | unique' <<<"$want")" '[["mmio",0],["pio",2]]'

	run "$MT" -j vm show "$name"
	assert_success
	assert_equal "$(jq -c '[.[].pid]' <<<"$output")" "[$pid]"
	got=$(jq -c '[.[0].ioeventfds[] | {bus, addr, len, datamatch, fd: .eventfd.fd}] | sort' <<<"$output")
	assert_equal "$got" "$want"
	# No vhost, no backend: QEMU's own fd is the only holder of each eventfd.
	assert_equal "$(jq -c '[.[0].ioeventfds[].eventfd.holders[]]' <<<"$output")" '[]'
	# SeaBIOS uses no MSI-X, so QEMU routes no interrupt through an irqfd
	# (its trace has no kvm_irqchip_add_msi_route): none may be shown.
	assert_equal "$(grep -c kvm_irqchip_add_msi_route "$(qemu_dir "$name")/nvme.trace")" 0
	assert_equal "$(jq -c '.[0].irqfds' <<<"$output")" '[]'
}

@test "a policy naming the virtio-blk disk by id lands on the notify addresses QEMU registered" {
	local name=vbpol-$$ pid args
	load_trap
	mapfile -t args < <(qemu_virtio_blk_args "$name")
	pid=$(qemu_start "$name" "${args[@]}")
	qemu_cont "$name"
	qemu_wait_booted "$name"
	want=$(qemu_ioeventfds "$name")
	cat >"$BATS_TEST_TMPDIR/p.yaml" <<-YAML
	vms:
	  - vm: {name: $name}
	    regions:
	      - {name: vblk-modern, device: vblk0}
	      - {name: vblk-legacy, device: vblk0, decoder: virtio-legacy}
	YAML
	run "$MT" policy apply "$BATS_TEST_TMPDIR/p.yaml"
	assert_success
	run "$MT" -j region list
	assert_success
	# The modern notify capability read from config space: QEMU's one queue at
	# its base; the legacy one at the I/O BAR's QUEUE_NOTIFY.
	assert_equal "$(jq -c 'sort_by(.name) | map([.name, .bus, .addr, .decoder])' <<<"$output")" \
		"$(jq -c '[(.[] | select(.bus == "pio") | ["vblk-legacy", "pio", .addr, "virtio-legacy"]),
			   (.[] | select(.bus == "mmio") | ["vblk-modern", "mmio", .addr, "virtio-pci"])]' <<<"$want")"
}
