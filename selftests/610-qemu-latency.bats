#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
# The doorbell-to-interrupt histograms against an unmodified QEMU's own
# trace: SeaBIOS booting from QEMU's NVMe leaves INTx unmasked for the admin
# queue, so QEMU pulses the pin (KVM_IRQ_LINE, kvm_set_irq) once per admin
# command. The pairs docs/latency.md's rule makes of QEMU's trace
# (pci_nvme_mmio_doorbell_sq, pci_nvme_irq_pin) must be the kernel's.
# bats file_tags=kvm

setup() {
	load helper
	source "$BATS_TEST_DIRNAME/qemu/qemu.bash"
	load_trap
	qemu_available 2>"$BATS_TEST_TMPDIR/why" || require "$(cat "$BATS_TEST_TMPDIR/why")"
	doctor_json | jq -e '.checks[] | select(.name == "tp kvm irq") |
		.detail | startswith("traced")' >/dev/null ||
		skip "the kernel has no kvm_msi_set_irq and kvm_set_irq tracepoints"
}

teardown() {
	qemu_stop_all
	unload_trap
}

# cdf JSON-BUCKETS LE: how many intervals of {"LE_NS": COUNT} are below LE.
cdf() {
	jq --argjson le "$2" '[to_entries[] | select((.key | tonumber) <= $le) | .value] | add // 0' <<<"$1"
}

@test "the kernel pairs each admin doorbell with QEMU's pin interrupt as QEMU's own trace does" {
	name=lat-$$
	pid=$(qemu_start "$name")
	qemu_qmp "$name" trace-event-set-state '{"name": "pci_nvme_irq*", "enable": true}' >/dev/null
	qemu_cont "$name"
	qemu_wait_booted "$name"
	read -r bar0 _ < <(qemu_nvme_bar0 "$name")
	dstrd=$(qemu_nvme_dstrd "$name")
	# The doorbells of the admin queue and the 64 I/O queue pairs; the
	# second boot, after a reset, is the one compared.
	"$MT" region add --vm "$pid" --mmio $((bar0 + 0x1000)) --len $((2 * 65 * (4 << dstrd))) \
		--width 4 --name nvme --decoder nvme --bar0 "$bar0" --dstrd "$dstrd" --queues 65 >/dev/null
	mark=$(qemu_trace_mark "$name")
	qemu_reset "$name"
	qemu_wait_booted "$name"
	stats=$("$MT" -j stats)
	qemu=$(python3 "$BATS_TEST_DIRNAME/qemu/nvme_pairs.py" "$(qemu_dir "$name")/nvme.trace" \
		--skip-lines "$mark")
	kernel=$(jq -c '.regions[0].queues[] | select(.kind == "sq_tail" and .queue == 0) | .latency' <<<"$stats")
	echo "# QEMU's trace: $qemu" >&3
	echo "# the kernel:   $kernel" >&3
	# SeaBIOS' 259 admin commands, each answered by a pin pulse.
	assert_equal "$(jq .irqs <<<"$qemu")" 259
	assert_equal "$(jq '.["0"].pairs' <<<"$qemu")" 259
	assert_equal "$(jq .pairs <<<"$kernel")" 259
	# Its I/O completion queue has interrupts off: SQ 1's interval stays open.
	assert_equal "$(jq -c '.regions[0].queues[] | select(.kind == "sq_tail" and .queue == 1) |
		[.writes, .latency.pairs, .latency.open]' <<<"$stats")" '[1,0,true]'
	assert_equal "$(jq '.["1"]' <<<"$qemu")" null
	# The kernel's interval starts before QEMU sees the doorbell (the exit,
	# and the vCPU thread's wait for QEMU's big lock) and ends after QEMU
	# traces the pulse (the ioctl): never shorter; on a quiet host some
	# 90 us longer a pair (sums of 61.5 and 84.6 ms). The exit and the wait
	# for the lock grow with the host's load as QEMU's own work does (sums of
	# 362 and 502 ms on a loaded one): at most twice QEMU's, and 250 us a pair.
	kbuckets=$(jq -c '[.buckets[] | {key: "\(.le_ns)", value: .count}] | from_entries' <<<"$kernel")
	qbuckets=$(jq -c '.["0"].buckets' <<<"$qemu")
	ksum=$(jq .sum_ns <<<"$kernel")
	qsum=$(jq '.["0"].sum_ns' <<<"$qemu")
	[ "$ksum" -ge "$qsum" ] && [ "$ksum" -le $((2 * qsum + 259 * 250000)) ] ||
		fail "wanted the kernel's sum between QEMU's $qsum ns and twice that and 250 us a pair, got $ksum ns"
	# Bucket by bucket: no kernel interval in a lower bucket than QEMU's,
	# none more than two buckets (4x) higher.
	for i in $(seq 10 31); do
		le=$((2 << i))
		k=$(cdf "$kbuckets" $le) q=$(cdf "$qbuckets" $le) q4=$(cdf "$qbuckets" $((le / 4)))
		[ "$k" -le "$q" ] && [ "$k" -ge "$q4" ] ||
			fail "below $le ns: the kernel has $k intervals, QEMU $q (and $q4 below $((le / 4)) ns)"
	done
}
