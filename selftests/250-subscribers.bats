#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
# One instance, many subscribers: each has a ring of its own and gets only
# what its filter wants; owners and observers; lifetimes past SIGKILL.
# The writers are injectors (the trap's programs run with
# BPF_PROG_TEST_RUN), so this suite needs BPF, not KVM.

BASE=0xd0000000

setup() {
	load helper
	load_bpf_trap --attach raw_tp
}

teardown() {
	unload_trap
}

# vmm NAME N: an injector with one region of its own, NAME-db, written N times
# with values from 0x1000 * (its index) on.
vmm() {
	local name=$1 n=$2 i=$3
	inject_start "$name" "mmio:$BASE:4:$n:$((i * 0x1000))"
	local pid_var=${name}_pid
	"$MT" region add --vm "${!pid_var}" --mmio $BASE --len 4 --name "$name-db" >/dev/null
}

@test "several VMMs, each with an owner subscriber, plus an observer: every value at every consumer" {
	for i in 1 2 3; do
		vmm vm$i 200 "$i"
	done
	for i in 1 2 3; do
		pid_var=vm${i}_pid
		events_start "$BATS_TEST_TMPDIR/own$i" --vm "${!pid_var}" --owner --count 200 --duration 30
		eval "own${i}_pid=$events_pid"
	done
	events_start "$BATS_TEST_TMPDIR/all" --count 600 --duration 30
	all_pid=$events_pid
	run "$MT" -j status
	assert_equal "$(jq -c '[.subscribers[] | [.owner, .wakeup]]' <<<"$output")" \
		'[[true,"record"],[true,"record"],[true,"record"],[false,"batch"]]'
	for i in 1 2 3; do
		inject_go vm$i
	done
	for p in $own1_pid $own2_pid $own3_pid $all_pid; do
		wait "$p" || fail "a subscriber exited $?"
	done
	for i in 1 2 3; do
		pid_var=vm${i}_pid
		id=$("$MT" -j region list | jq ".[] | select(.name == \"vm$i-db\") | .id")
		check_events "$BATS_TEST_TMPDIR/own$i" --vm "${!pid_var}" --region "$id" --bus mmio \
			--addr $BASE --width 4 --count 200 --start $((i * 0x1000))
		jq -c "select(.vm == ${!pid_var})" "$BATS_TEST_TMPDIR/all" >"$BATS_TEST_TMPDIR/all$i"
		check_events "$BATS_TEST_TMPDIR/all$i" --vm "${!pid_var}" --region "$id" --bus mmio \
			--addr $BASE --width 4 --count 200 --start $((i * 0x1000))
	done
}

@test "64 subscribers at once, each with a filter of its own; the 65th is refused and says why" {
	vmm vm 10 1
	for i in $(seq 63); do
		"$MT" -j events --vm "$vm_pid" --count 10 --duration 30 >"$BATS_TEST_TMPDIR/s$i" 3>&- &
		echo $! >>"$BATS_TEST_TMPDIR/children"
	done
	"$MT" -j events --region vm-db --owner --count 10 --duration 30 >"$BATS_TEST_TMPDIR/s64" 3>&- &
	echo $! >>"$BATS_TEST_TMPDIR/children"
	for i in $(seq 200); do
		[ "$(subscribers)" = 64 ] && break
		sleep 0.05
	done
	assert_equal "$(subscribers)" 64
	run "$MT" events --count 1
	assert_failure
	assert_output "mmiotrap: 64 subscribers at most, and there are as many"
	inject_go vm
	for i in $(seq 64); do
		for t in $(seq 100); do
			[ "$(wc -l <"$BATS_TEST_TMPDIR/s$i")" -ge 10 ] && break
			sleep 0.05
		done
		check_events "$BATS_TEST_TMPDIR/s$i" --vm "$vm_pid" --region 1 --bus mmio \
			--addr $BASE --width 4 --count 10 --start 0x1000
	done
}

@test "a filter is applied in the kernel: a subscriber gets nothing of another VM's regions" {
	vmm a 50 1
	vmm b 70 2
	events_start "$BATS_TEST_TMPDIR/a" --vm "$a_pid" --duration 2
	inject_go a
	inject_go b
	events_wait
	assert_equal "$(jq -s 'length' "$BATS_TEST_TMPDIR/a")" 50
	assert_equal "$(jq -s '[.[].vm] | unique' "$BATS_TEST_TMPDIR/a" | jq -c .)" "[$a_pid]"
	run "$MT" -j stats
	# Its records went to one ring: b's writes were counted, never recorded.
	assert_equal "$(jq -c '[.regions[] | [.matched, .emitted]]' <<<"$output")" '[[50,50],[70,0]]'
}

@test "a region has one owner: a second is refused and told who; observers may be many" {
	vmm vm 1 1
	events_start "$BATS_TEST_TMPDIR/o" --vm "$vm_pid" --owner --duration 30
	owner=$events_pid
	run "$MT" events --vm "$vm_pid" --owner --count 1
	assert_failure
	assert_output "mmiotrap: region 1 (vm-db) has an owner: the subscriber of pid $owner"
	events_start "$BATS_TEST_TMPDIR/x" --vm "$vm_pid" --duration 30
	events_start "$BATS_TEST_TMPDIR/y" --region vm-db --duration 30
	assert_equal "$(subscribers)" 3
}

@test "an owner killed with SIGKILL blocks no one: the next subscriber owns its regions at once" {
	vmm vm 30 1
	events_start "$BATS_TEST_TMPDIR/o" --vm "$vm_pid" --owner --duration 30
	kill -KILL "$events_pid"
	wait "$events_pid" || true
	events_start "$BATS_TEST_TMPDIR/o2" --vm "$vm_pid" --owner --count 30 --duration 30
	assert_equal "$("$MT" -j status | jq -c '[.subscribers[] | .pid]')" "[$events_pid]"
	inject_go vm
	events_wait
	check_events "$BATS_TEST_TMPDIR/o2" --vm "$vm_pid" --region 1 --bus mmio \
		--addr $BASE --width 4 --count 30 --start 0x1000
}

@test "an observer that falls behind loses only its own copies, each counted once" {
	vmm vm 2000 1
	events_start "$BATS_TEST_TMPDIR/own" --vm "$vm_pid" --owner --count 2000 --duration 30
	own=$events_pid
	# A ring of a page holds about 36 records, and a batch wakes it late.
	events_start "$BATS_TEST_TMPDIR/obs" --vm "$vm_pid" --ring-size 4096 --duration 3
	obs=$events_pid
	inject_go vm
	wait "$own" || fail "the owner exited $?"
	wait "$obs" || fail "the observer exited $?"
	check_events "$BATS_TEST_TMPDIR/own" --vm "$vm_pid" --region 1 --bus mmio \
		--addr $BASE --width 4 --count 2000 --start 0x1000
	got=$(jq -s '[.[] | select(has("lost") | not)] | length' "$BATS_TEST_TMPDIR/obs")
	lost=$(jq -s '[.[] | .lost // 0] | add' "$BATS_TEST_TMPDIR/obs")
	[ "$lost" -gt 0 ] || fail "wanted the observer to lose records, it got $got of 2000"
	assert_equal "$((got + lost))" 2000
	run "$MT" -j stats
	assert_equal "$(jq '.regions[0].dropped' <<<"$output")" "$lost"
}

@test "unload reaches every subscriber as its last event, never as silence" {
	vmm vm 5 1
	events_start "$BATS_TEST_TMPDIR/o" --vm "$vm_pid" --owner --duration 30
	inject_go vm
	run "$MT" unload
	assert_success
	status=0
	wait "$events_pid" || status=$?
	assert_equal "$status" 1
	assert_equal "$(jq -s -c '[.[0:5][] | .value], .[5]' "$BATS_TEST_TMPDIR/o" | jq -s -c .)" \
		"[[4096,4097,4098,4099,4100],{\"error\":\"$MMIOTRAP_PIN_ROOT was unloaded\"}]"
}

@test "a deleted region's records stay its own: its id's next region starts afresh" {
	vmm old 50 1
	events_start "$BATS_TEST_TMPDIR/ev" --duration 30
	kill -STOP "$events_pid"
	inject_go old
	"$MT" region del old-db >/dev/null
	vmm new 5 2
	inject_go new
	kill -CONT "$events_pid"
	for t in $(seq 100); do
		[ "$(wc -l <"$BATS_TEST_TMPDIR/ev")" -ge 55 ] && break
		sleep 0.05
	done
	# The same id, two regions: the old one's records are marked as of a region gone.
	assert_equal "$(jq -s -c '[.[].region] | unique' "$BATS_TEST_TMPDIR/ev")" '[1]'
	assert_equal "$(jq -s -c '[.[0:50][] | .region_gone] | unique' "$BATS_TEST_TMPDIR/ev")" '[true]'
	assert_equal "$(jq -s -c '[.[50:][] | [.seq, .value, .region_gone]]' "$BATS_TEST_TMPDIR/ev")" \
		'[[0,8192,null],[1,8193,null],[2,8194,null],[3,8195,null],[4,8196,null]]'
}

@test "a VMM killed with SIGKILL leaves its regions' names free for the next one" {
	vmm old 1 1
	kill -KILL "$old_pid"
	wait "$old_pid" 2>/dev/null || true
	inject_start new mmio:$BASE:4:3:7
	run "$MT" region add --vm "$new_pid" --mmio $BASE --len 4 --name old-db
	assert_success
	run "$MT" -j region list
	assert_equal "$(jq -c 'map([.name, .vm])' <<<"$output")" "[[\"old-db\",$new_pid]]"
	events_start "$BATS_TEST_TMPDIR/ev" --count 3 --duration 10
	inject_go new
	events_wait
	assert_equal "$(jq -s -c 'map([.value, .seq])' "$BATS_TEST_TMPDIR/ev")" '[[7,0],[8,1],[9,2]]'
}
