#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
# Per decoded queue counters and the doorbell-to-interrupt latency
# histograms (docs/latency.md), with the test VMM ringing NVMe doorbells
# on several queues and answering with interrupts a known time later.
# bats file_tags=kvm

# NVMe: BAR0, and each queue's SQ tail and CQ head doorbells.
BAR0=0xfebf0000
sq() { printf '0x%x' $((BAR0 + 0x1000 + 8 * $1)); }
cq() { printf '0x%x' $((BAR0 + 0x1000 + 8 * $1 + 4)); }

setup() {
	load helper
	load_bpf_trap
	require_kvm
	doctor_json | jq -e '.checks[] | select(.name == "tp kvm irq") |
		.detail | startswith("traced")' >/dev/null ||
		skip "the kernel has no kvm_msi_set_irq and kvm_set_irq tracepoints"
}

teardown() {
	unload_trap
}

# nvme_run VMM-ARGS... -- STEPS...: the test VMM with an NVMe region of 4
# queues over its doorbells; the stats in $stats, its region in $region.
nvme_run() {
	local args=()
	while [ "$1" != -- ]; do
		args+=("$1")
		shift
	done
	shift
	vmm_start vm "${args[@]}" "$@"
	"$MT" region add --vm "$vm_pid" --mmio $((BAR0 + 0x1000)) --len 0x40 --name nvme \
		--decoder nvme --bar0 $BAR0 --queues 4 >/dev/null
	vmm_go vm
	stats=$("$MT" -j stats)
	region=$(jq -c '.regions[] | select(.name == "nvme")' <<<"$stats")
}

# rows JQ: each queue row of the region as JQ makes it, one JSON array.
rows() {
	jq -c "[.queues[] | $1]" <<<"$region"
}

# buckets QUEUE KIND: that row's histogram, as [[le_ns, count]...].
buckets() {
	rows "select(.queue == $1 and .kind == \"$2\") | [.latency.buckets[] | [.le_ns, .count]]" | jq -c '.[0]'
}

@test "each decoded queue counts its own writes and its last value" {
	# SQ 1 three times, SQ 2 twice, CQ 1 once, SQ 3 four times, one write
	# off the doorbell grid, one to queue 5 of 4: exact counts per row.
	nvme_run -- mmio:"$(sq 1)":4:3:1 mmio:"$(sq 2)":4:2:7 mmio:"$(cq 1)":4:1:9 \
		mmio:"$(sq 3)":4:4:0x10:3 mmio:$((BAR0 + 0x1002)):2:1:5 mmio:"$(sq 5)":4:1:2
	assert_equal "$(rows '[.queue, .kind, .writes, .slow, .fast, .value]')" \
		'[[0,"off_grid",1,1,0,5],[0,"bad_queue",1,1,0,2],[1,"sq_tail",3,3,0,3],[1,"cq_head",1,1,0,9],[2,"sq_tail",2,2,0,8],[3,"sq_tail",4,4,0,25]]'
	# The rows add up to the region's own counters.
	assert_equal "$(jq '[.queues[].writes] | add' <<<"$region")" "$(jq .matched <<<"$region")"
	# No interrupt: every interval that opened is still open, none measured.
	assert_equal "$(rows '[.latency.pairs, .latency.open]')" \
		'[[0,false],[0,false],[0,true],[0,false],[0,true],[0,true]]'
	# The text form shows the same rows.
	run "$MT" stats
	assert_line --regexp '^  queue 3 +sq_tail +writes 4  fast 0  slow 4  value 0x19  pairs 0 '
	# A deleted region leaves no row behind.
	"$MT" region del nvme >/dev/null
	assert_equal "$(bpftool -j map dump pinned "$MMIOTRAP_PIN_ROOT/maps/queues" | jq length)" 0
	assert_equal "$(bpftool -j map dump pinned "$MMIOTRAP_PIN_ROOT/maps/irqs" | jq length)" 0
}

@test "a queue's first doorbell since its answer opens an interval; the VM's next MSI closes them all" {
	# An MSI 300 us after every third MMIO write:
	#  1: SQ1 opens, 3 ms pause, SQ1 again (already open), SQ2 opens -> MSI:
	#     SQ1 waited ~3.3 ms (2^21..2^22 ns), SQ2 ~0.3 ms (2^18..2^19 ns)
	#  2: CQ1 twice (an answer's acknowledgement opens nothing), SQ3 opens -> MSI
	#  3: SQ1 opens, SQ2 opens, SQ2 again -> MSI
	# Pairing each doorbell with the next interrupt would give SQ1 3 pairs
	# and SQ2 3; pairing the last doorbell would put SQ1's first near 0.3 ms.
	nvme_run --irq msi:3:300 -- mmio:"$(sq 1)":4:1:1 pause:3000 mmio:"$(sq 1)":4:1:2 \
		mmio:"$(sq 2)":4:1:1 mmio:"$(cq 1)":4:2:1 mmio:"$(sq 3)":4:1:1 \
		mmio:"$(sq 1)":4:1:3 mmio:"$(sq 2)":4:2:2 pio:0x90:1:1
	assert_equal "$(jq .irqs "$BATS_TEST_TMPDIR/vm.out")" 3
	assert_equal "$(rows '[.queue, .kind, .writes, .latency.pairs, .latency.open]')" \
		'[[1,"sq_tail",3,2,false],[1,"cq_head",2,0,false],[2,"sq_tail",3,2,false],[3,"sq_tail",1,1,false]]'
	buckets_at_least '[[524288,1],[4194304,1]]' "$(buckets 1 sq_tail)"
	buckets_at_least '[]' "$(buckets 1 cq_head)"
	buckets_at_least '[[524288,2]]' "$(buckets 2 sq_tail)"
	buckets_at_least '[[524288,1]]' "$(buckets 3 sq_tail)"
	# The sums are of the intervals themselves: SQ1's 3 ms and 0.3 ms.
	sum=$(jq '.queues[] | select(.queue == 1 and .kind == "sq_tail") | .latency.sum_ns' <<<"$region")
	[ "$sum" -ge 3300000 ] || fail "wanted SQ1's sum at least 3.3 ms, got $sum ns"
	assert_equal "$(jq .totals.irqs <<<"$stats")" 3
	# p50 and p99 are the bounds of the buckets of SQ1's shorter and longer
	# pair (a loaded host may put both in one).
	rows 'select(.queue == 1 and .kind == "sq_tail") | .latency' |
		jq -e '.[0] | [.buckets[] | . as $b | range($b.count) | $b.le_ns] as $le |
			.p50_ns == $le[0] and .p99_ns == $le[1] and .p50_ns >= 524288 and .p99_ns >= 4194304' >/dev/null ||
		fail "wanted SQ1's p50 and p99 at its pairs' buckets: $(rows 'select(.queue == 1) | .latency')"
}

@test "a raised interrupt line answers too, and lowering it is no interrupt" {
	# KVM_IRQ_LINE raises GSI 5 and lowers it 300 us after every write.
	nvme_run --irq line:5:1:300 -- mmio:"$(sq 1)":4:2:1 mmio:"$(cq 1)":4:1:1 \
		mmio:"$(sq 2)":4:1:1 pio:0x90:1:1
	assert_equal "$(jq .irqs "$BATS_TEST_TMPDIR/vm.out")" 4
	assert_equal "$(rows '[.queue, .kind, .latency.pairs]')" '[[1,"sq_tail",2],[1,"cq_head",0],[2,"sq_tail",1]]'
	buckets_at_least '[[524288,2]]' "$(buckets 1 sq_tail)"
	buckets_at_least '[[524288,1]]' "$(buckets 2 sq_tail)"
	# Four raised lines, four lowered: only the raised ones count.
	assert_equal "$(jq .totals.irqs <<<"$stats")" 4
}

@test "a VM has 16 slots for open intervals: a 17th queue's is counted, not measured" {
	# virtio-pci with multiplier 0: one notify address, the queue is the
	# value. Queues 0 to 16 open an interval each; the MSI after the 17th
	# write closes the 16 that found a slot.
	vmm_start vm --irq msi:17:300 mmio:0xfe003000:2:17:0:1 pio:0x90:1:1
	"$MT" region add --vm "$vm_pid" --mmio 0xfe003000 --len 4 --name notify \
		--decoder virtio-pci --notify-base 0xfe003000 --queues 32 >/dev/null
	vmm_go vm
	region=$("$MT" -j stats | jq -c '.regions[] | select(.name == "notify")')
	assert_equal "$(rows '.queue' | jq -c length)" 17
	assert_equal "$(jq '[.queues[].latency.pairs] | add' <<<"$region")" 16
	assert_equal "$(rows 'select(.latency.no_slot > 0) | [.queue, .latency.no_slot, .latency.pairs]')" \
		'[[16,1,0]]'
}

@test "a queue whose doorbell an ioeventfd completes counts its writes as fast" {
	# SQ 1's doorbell as a fast region the VMM adopts: five writes complete
	# in the kernel, the emulator gets each; SQ 2, in no region, exits.
	vmm_start vm --pin-root "$MMIOTRAP_PIN_ROOT" --adopt mmio:"$(sq 1)":4:5:1 \
		mmio:"$(sq 2)":4:1:1
	cat >"$BATS_TEST_TMPDIR/fast.yaml" <<-YAML
	vms:
	  - vm: {pid: $vm_pid}
	    regions:
	      - {name: sq1, addr: $(sq 1), len: 4, widths: [4], mode: fast, decoder: nvme, bar0: $BAR0, queues: 4}
	YAML
	"$MT" policy apply "$BATS_TEST_TMPDIR/fast.yaml" >/dev/null
	vmm_go vm
	assert_equal "$(jq -c '[.events, .fast, .emu_mismatches]' "$BATS_TEST_TMPDIR/vm.out")" '[5,5,0]'
	region=$("$MT" -j stats | jq -c '.regions[] | select(.name == "sq1")')
	assert_equal "$(rows '[.queue, .kind, .writes, .fast, .slow, .value]')" '[[1,"sq_tail",5,5,0,5]]'
}

@test "top shows each decoded queue under its region, with p50/p99 of its latency" {
	# SQ1 and SQ2 open, MSI 300 us after the second; SQ1 opens, 3 ms
	# pause, CQ1, MSI: SQ1's two pairs in two buckets, SQ2's one.
	nvme_run --irq msi:2:300 -- mmio:"$(sq 1)":4:1:1 mmio:"$(sq 2)":4:1:1 \
		mmio:"$(sq 1)":4:1:2 pause:3000 mmio:"$(cq 1)":4:1:1 pio:0x90:1:1
	run "$MT" top --once --interval 100 --vm "$vm_pid"
	assert_success
	# p50/p99 are bucket bounds; a loaded host may put them higher.
	lat='[0-9.]+(us|ms|s)/[0-9.]+(us|ms|s)'
	assert_line --regexp "^  nvme +[0-9.]+ +0x1 +4 +0 +4 +0  $lat\$"
	assert_line --regexp "^    q1 sq_tail +[0-9.]+ +0x2 +2 +0 +2 +  $lat\$"
	assert_line --regexp '^    q1 cq_head +[0-9.]+ +0x1 +1 +0 +1 +  -$'
	assert_line --regexp "^    q2 sq_tail +[0-9.]+ +0x1 +1 +0 +1 +  $lat\$"
	run "$MT" -j top --once --interval 100 --vm "$vm_pid"
	assert_success
	assert_equal "$(jq -c '.vms[0].regions[0] | [.latency.pairs, [.queues[] | [.queue, .kind, .writes, .latency.pairs]]]' <<<"$output")" \
		'[3,[[1,"sq_tail",2,2],[1,"cq_head",1,0],[2,"sq_tail",1,1]]]'
	jq -e '.vms[0].regions[0] | .latency.p50_ns >= 524288 and .latency.p99_ns >= 4194304 and
		.queues[0].latency.p99_ns >= 4194304 and .queues[2].latency.p99_ns >= 524288' <<<"$output" >/dev/null ||
		fail "wanted p50/p99 at least 524288/4194304: $output"
}
