#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
# The pairing rule per interrupt route (docs/latency.md): each queue row
# learns which route answers it from the interrupts that close its interval
# alone, and once MMIOTRAP_ROUTE_CONFIRM (4) did, waits for that route only,
# until MMIOTRAP_ROUTE_PATIENCE (64) others passed it. mmiotrap-inject plays
# the VMM: its doorbells and its interrupts (msi:ADDR:DATA, line:GSI:LEVEL)
# run the trap's own programs, so every count is known in advance.

# NVMe: BAR0, and each queue's SQ tail doorbell.
BAR0=0xfebf0000
# Two MSI routes: vector 0x21 on APIC 0 and vector 0x22 on APIC 1.
A=msi:0xfee00000:0x4021
B=msi:0xfee01000:0x4022

setup() {
	load helper
	load_bpf_trap --attach raw_tp
	[ -e "$MMIOTRAP_PIN_ROOT/links/raw_tp_msi" ] ||
		require "the kernel has no kvm:kvm_msi_set_irq and kvm:kvm_set_irq tracepoints"
}

teardown() {
	unload_trap
}

# sq N [VALUE]: one write of SQ N's tail doorbell.
sq() {
	printf 'mmio:0x%x:4:1:%d' $((BAR0 + 0x1000 + 8 * $1)) "${2:-1}"
}

# times N STEP...: the steps N times over.
times() {
	local n=$1 i
	shift
	for ((i = 0; i < n; i++)); do
		printf '%s\n' "$@"
	done
}

# run_vm NAME STEP...: an injector NAME with an NVMe region of 4 queues
# named NAME, released at once; the region's stats in $region.
run_vm() {
	local name=$1
	shift
	inject_start "$name" "$@"
	nvme_region "$name"
	inject_go "$name"
	region_of "$name"
}

# nvme_region NAME: injector NAME's NVMe region of 4 queues, named NAME.
nvme_region() {
	local pid_var=${1}_pid
	"$MT" region add --vm "${!pid_var}" --mmio $((BAR0 + 0x1000)) --len 0x40 \
		--name "$1" --decoder nvme --bar0 $BAR0 --queues 4 >/dev/null
}

region_of() {
	region=$("$MT" -j stats | jq -c --arg n "$1" '.regions[] | select(.name == $n)')
}

# rows JQ WANT: each queue row of $region as JQ makes it.
rows() {
	local got
	got=$(jq -c "[.queues[] | $1]" <<<"$region")
	[ "$got" = "$2" ] || fail "rows $1: wanted $2, got $got"
}

ROW='[.queue, .latency.pairs, .latency.open, .route.irq, .route.confirmed, .route.seen, .route.foreign, .route.relearns]'

@test "two queues learn their own MSI routes; then the other queue's interrupt no longer closes them" {
	# Four rounds of SQ1 answered by A and SQ2 by B: each MSI closes one
	# interval alone, and the fourth confirms. Then SQ1 and SQ2 open and B
	# comes twice, SQ2 ringing again between: SQ2 closes twice, SQ1 waits
	# (foreign 2) until A. Per VM, the first B would have closed SQ1 too.
	# shellcheck disable=SC2046
	run_vm vm $(times 4 "$(sq 1)" $A "$(sq 2)" $B) "$(sq 1)" "$(sq 2)" $B "$(sq 2)" $B
	rows "$ROW" \
		"[[1,4,true,\"$A\",true,4,2,0],[2,6,false,\"$B\",true,6,0,0]]"
	# A closes SQ1 alone at last, and the foreign count starts again.
	# shellcheck disable=SC2046
	run_vm vm2 $(times 4 "$(sq 1)" $A "$(sq 2)" $B) "$(sq 1)" "$(sq 2)" $B "$(sq 2)" $B $A
	rows "$ROW" \
		"[[1,5,false,\"$A\",true,5,0,0],[2,6,false,\"$B\",true,6,0,0]]"
	assert_equal "$("$MT" -j stats | jq .totals.irqs)" $((10 + 11))
}

@test "a confirmed route's interrupt closes its rows and every learning row, and teaches neither" {
	# SQ1 learns A (4 lone closes). Then SQ1 and SQ3 open and A comes: it
	# closes both, SQ1 by its route, SQ3 still learning; the close was not
	# alone, so SQ3 learns nothing from it and SQ1's count stays.
	# shellcheck disable=SC2046
	run_vm vm $(times 4 "$(sq 1)" $A) "$(sq 1)" "$(sq 3)" $A
	rows "$ROW" "[[1,5,false,\"$A\",true,4,0,0],[3,1,false,null,false,0,0,0]]"
}

@test "a line interrupt's route is its GSI; lowering the line is no interrupt" {
	# SQ1 answered four times by GSI 10 raised and lowered: confirmed. Then
	# SQ1 waits through A three times and GSI 11 raised once (foreign 4)
	# until GSI 10 is raised again.
	# shellcheck disable=SC2046
	run_vm vm $(times 4 "$(sq 1)" line:10:1 line:10:0) "$(sq 1)" $A:3 line:11:1 line:11:0 \
		line:10:0 "$(sq 1)" line:10:1
	rows "$ROW" '[[1,5,false,"line:10",true,5,0,0]]'
	assert_equal "$("$MT" -j stats | jq .totals.irqs)" $((4 + 3 + 1 + 1))
	run "$MT" stats
	assert_line --regexp '^  queue 1 +sq_tail +writes 6 .* pairs 5 .*  route line:10  relearns 0$'
}

@test "64 interrupts of other routes past a confirmed route drop it: the queue learns the new one" {
	# vm63: SQ1 confirmed on A, then the guest moves it to B: 63 Bs pass
	# its open interval and it still waits. vm64: the 64th B drops A
	# (relearns 1), closes the interval as any learning row's, and teaches
	# B (seen 1); three more lone Bs confirm it.
	# shellcheck disable=SC2046
	inject_start vm63 $(times 4 "$(sq 1)" $A) "$(sq 1)" $B:63
	# shellcheck disable=SC2046
	inject_start vm64 $(times 4 "$(sq 1)" $A) "$(sq 1)" $B:64 $(times 3 "$(sq 1)" $B)
	nvme_region vm63
	nvme_region vm64
	inject_go vm63
	inject_go vm64
	region_of vm63
	rows "$ROW" "[[1,4,true,\"$A\",true,4,63,0]]"
	region_of vm64
	rows "$ROW" "[[1,8,false,\"$B\",true,4,0,1]]"
	run "$MT" stats --format prometheus
	assert_line --regexp '^mmiotrap_queue_route_relearns_total\{vm="[0-9]+",vm_name="[^"]*",region="vm64",queue="1",kind="sq_tail"\} 1$'
	assert_line --regexp "^mmiotrap_queue_route_confirmed\\{vm=\"[0-9]+\",vm_name=\"[^\"]*\",region=\"vm63\",queue=\"1\",kind=\"sq_tail\",route=\"$A\"\\} 1$"
}

@test "a learning row closes on any interrupt, and learns only from a close it had alone" {
	# SQ1: three lone As (learning 3/4), then B closes it alone: B is the
	# route now, seen once. SQ2 and SQ3 open together twice, each time
	# closed by one A: shared closes, no route.
	# shellcheck disable=SC2046
	run_vm vm $(times 3 "$(sq 1)" $A) "$(sq 1)" $B $(times 2 "$(sq 2)" "$(sq 3)" $A)
	rows "$ROW" \
		"[[1,4,false,\"$B\",false,1,0,0],[2,2,false,null,false,0,0,0],[3,2,false,null,false,0,0,0]]"
	run "$MT" stats
	assert_line --regexp "^  queue 1 +sq_tail .* pairs 4 .*  route $B \\(learning 1/4\\)  relearns 0$"
	assert_line --regexp '^  queue 2 +sq_tail .* pairs 2 .*  route any  relearns 0$'
	run "$MT" stats --format prometheus
	assert_line --regexp '^mmiotrap_queue_route_confirmed\{vm="[0-9]+",vm_name="[^"]*",region="vm",queue="1",kind="sq_tail",route=""\} 0$'
	if command -v promtool >/dev/null; then
		"$MT" stats --format prometheus | promtool check metrics ||
			fail "promtool check metrics refused the output"
	fi
}

@test "the injector refuses malformed interrupt steps" {
	for step in msi:0xfee00000 msi:0xfee00000:0x21:0 msi:0xfee00000:0x21:1:2 \
		line:10 line:0x100000000:1 line:10:-1 msi::1; do
		run "$INJ" "$step"
		assert_failure 2
		assert_output --partial "bad step '$step'"
	done
}
