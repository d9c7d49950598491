#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
# A region belongs to a process, not to a pid: once its VMM exits, a later
# process that gets the same pid is not captured, nor can it adopt it.
# bats file_tags=kvm

setup() {
	load helper
	load_trap
}

teardown() {
	unload_trap
}

# vmm_start_as PID NAME STEP...: a test VMM that gets pid PID, through
# ns_last_pid; fails when another process took the pid first.
vmm_start_as() {
	local pid=$1 name=$2 try
	shift 2
	mkfifo "$BATS_TEST_TMPDIR/$name.go"
	for try in 1 2 3 4 5; do
		# The shell forks once, after it sets ns_last_pid.
		sh -c 'echo $(($1 - 1)) >/proc/sys/kernel/ns_last_pid; shift; exec "$@" &' \
			sh "$pid" "$VMM" -j --go "$BATS_TEST_TMPDIR/$name.go" "$@" \
			>"$BATS_TEST_TMPDIR/$name.out" 2>"$BATS_TEST_TMPDIR/$name.err" 3>&-
		sleep 0.2
		if grep -q mmiotrap-testvmm "/proc/$pid/cmdline" 2>/dev/null; then
			printf -v "${name}_pid" %s "$pid"
			echo "$pid" >>"$BATS_TEST_TMPDIR/children"
			return 0
		fi
		pkill -f "$BATS_TEST_TMPDIR/$name.go" || true
	done
	fail "could not start a VMM as pid $pid"
}

@test "a process that reuses a region's pid is not captured" {
	vmm_start old mmio:0xd0000000:4:10
	"$MT" region add --vm "$old_pid" --mmio 0xd0000000 --len 4 --name db >/dev/null
	# A reader for the whole test: the old process's 10 writes, none of the new one's.
	events_start "$BATS_TEST_TMPDIR/ev" --duration 30
	vmm_go old
	run "$MT" region list
	assert_output --partial "  stale"

	vmm_start_as "$old_pid" new mmio:0xd0000000:4:25:100
	vmm_release new
	while kill -0 "$new_pid" 2>/dev/null; do sleep 0.1; done
	assert_equal "$(jq -c '[.exits_mmio, .mismatches]' "$BATS_TEST_TMPDIR/new.out")" "[25,0]"

	run "$MT" -j stats
	assert_equal "$(jq -c '[.regions[0].matched, .totals.stale]' <<<"$output")" "[10,25]"
	kill "$events_pid"
	wait "$events_pid" || true
	assert_equal "$(jq -s -c 'map(.seq)' "$BATS_TEST_TMPDIR/ev")" "[0,1,2,3,4,5,6,7,8,9]"
	run "$MT" status
	assert_line "regions: 1 (1 stale)"
}

@test "adding a region for the new process drops the stale ones of its pid" {
	vmm_start old mmio:0xd0000000:4:1
	"$MT" region add --vm "$old_pid" --mmio 0xd0000000 --len 4 --name db >/dev/null
	vmm_go old
	vmm_start_as "$old_pid" new mmio:0xd0000000:4:5:100
	run "$MT" region add --vm "$new_pid" --mmio 0xd0000000 --len 4 --name db
	assert_success
	assert_output "1: name db  vm $new_pid  mmio 0xd0000000 len 0x4  widths 1,2,4,8"
	events_start "$BATS_TEST_TMPDIR/ev" --count 5 --duration 60
	vmm_release new
	events_wait
	check_events "$BATS_TEST_TMPDIR/ev" --vm "$new_pid" --region 1 --bus mmio \
		--addr 0xd0000000 --width 4 --count 5 --start 100
}

@test "a fast region of an earlier process with the same pid is not adopted: refused, not stranded" {
	vmm_start old pio:0x510:1:1
	cat >"$BATS_TEST_TMPDIR/p.yaml" <<-YAML
	vms:
	  - vm: {pid: $old_pid}
	    regions:
	      - {name: db, addr: 0xd0000000, len: 4, widths: [4], mode: fast}
	YAML
	"$MT" policy apply "$BATS_TEST_TMPDIR/p.yaml" >/dev/null
	vmm_go old
	vmm_start_as "$old_pid" new --pin-root "$MMIOTRAP_PIN_ROOT" --adopt mmio:0xd0000000:4:10
	vmm_release new
	while kill -0 "$new_pid" 2>/dev/null; do sleep 0.1; done
	run cat "$BATS_TEST_TMPDIR/new.err"
	assert_output --partial "region 1 is of an earlier process with pid $old_pid; apply the policy again"
	# Nothing was made fast: the next process's writes would exit, as all do.
	run "$MT" -j region list
	assert_equal "$(jq -c '.[0] | [.name, .fast_widths, .want_fast, .stale]' <<<"$output")" \
		'["db",[],[4],true]'
}
