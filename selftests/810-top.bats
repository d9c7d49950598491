#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
# mmiotrap top as a person uses it, in a tmux pane, and as a script uses
# it (--once -j), with writes injected into the trap (no VM).

BASE=0xd0000000

setup() {
	load helper
	load_bpf_trap --attach raw_tp
	# A tmux server of this test's own: no other session is touched.
	TMUX_SOCK=mmiotrap-test-top-$$
}

teardown() {
	tmux -L "$TMUX_SOCK" kill-server 2>/dev/null || true
	unload_trap
}

screen() {
	tmux -L "$TMUX_SOCK" capture-pane -p -t top
}

# wait_screen REGEX: until a line of the pane matches, at most 10 s.
wait_screen() {
	local i
	for i in $(seq 100); do
		screen | grep -Eq -- "$1" && return 0
		sleep 0.1
	done
	fail "the screen never showed /$1/: $(screen)"
}

@test "top on a terminal shows each region's rate and last value as injected; s sorts, q quits" {
	inject_start inj mmio:$BASE:4:60:0x10:2
	"$MT" region add --vm "$inj_pid" --mmio $BASE --len 8 --name db >/dev/null
	tmux -L "$TMUX_SOCK" new-session -d -s top -x 120 -y 30 \
		"MMIOTRAP_PIN_ROOT=$MMIOTRAP_PIN_ROOT $MT top --interval 3000; echo \$? >$BATS_TEST_TMPDIR/top.status"
	# The first frame: counters, no rates yet.
	wait_screen '^  db +- +- +0 +0 +0 +0  -$'
	inject_go inj
	# The frame whose interval held the 60 writes: 0x10 + 59 * 2 is 0x86.
	wait_screen '^  db +[0-9.]+ +0x86 +60 +0 +60 +0  -$'
	scr=$(screen)
	secs=$(sed -n 's/.* rates over \([0-9.]*\) s .*/\1/p' <<<"$scr")
	rate=$(awk '$1 == "db" { print $2 }' <<<"$scr")
	vm_rate=$(awk -v pid="$inj_pid" '$1 == pid { print $2 }' <<<"$scr")
	[ -n "$secs" ] || fail "no 'rates over' in the header: $scr"
	awk -v r="$rate" -v s="$secs" 'BEGIN { d = r * s - 60; exit !(d < 0.5 && d > -0.5) }' ||
		fail "wanted 60 writes over $secs s, got $rate/s: $scr"
	assert_equal "$vm_rate" "$rate"
	grep -q "sort: writes (s: sort, q: quit)" <<<"$scr" || fail "wanted sort: writes, got $scr"
	tmux -L "$TMUX_SOCK" send-keys -t top s
	wait_screen 'sort: exits '
	tmux -L "$TMUX_SOCK" send-keys -t top s
	wait_screen 'sort: lost '
	tmux -L "$TMUX_SOCK" send-keys -t top q
	for i in $(seq 50); do
		[ -s "$BATS_TEST_TMPDIR/top.status" ] && break
		sleep 0.1
	done
	assert_equal "$(cat "$BATS_TEST_TMPDIR/top.status" 2>/dev/null)" 0
}

@test "top --once -j: every VM, region and counter, exactly; --vm keeps one VM; --sort orders them" {
	inject_start a mmio:$BASE:4:30:7 pio:0x510:2:5:0x100:0x100
	inject_start b mmio:$BASE:4:12:0:3
	"$MT" region add --vm "$a_pid" --mmio $BASE --len 8 --name zeta >/dev/null
	"$MT" region add --vm "$a_pid" --pio 0x510 --len 2 >/dev/null
	"$MT" region add --vm "$b_pid" --mmio $BASE --len 4 --name alpha --width 4 >/dev/null
	inject_go a
	inject_go b
	run "$MT" -j top --once --interval 200
	assert_success
	frame=$output
	assert_equal "$(jq '.secs >= 0.2 and .secs < 5' <<<"$frame")" true
	# A raw region's one queue row is the region's; no interrupt, no latency.
	want=$(jq -n -c --argjson a "$a_pid" --argjson b "$b_pid" '
	def nolat: {pairs: 0, p50_ns: 0, p99_ns: 0};
	def raw($v; $n): [{queue: 0, kind: "raw", writes_per_sec: 0, value: $v, writes: $n,
			   kernel: 0, exit: $n, latency: nolat}];
	{
		sort: "writes",
		totals: {writes_per_sec: 0, exits_per_sec: 0, lost: 0, stale: 0, exits: 0},
		vms: ([
		  {vm: $a, name: "", writes_per_sec: 0, writes: 35, kernel: 0, exit: 35, lost: 0,
		   regions: [
		    {id: 1, name: "zeta", bus: "mmio", addr: 3489660928, len: 8, decoder: "raw",
		     writes_per_sec: 0, value: 36, writes: 30, kernel: 0, exit: 30, lost: 0,
		     latency: nolat, queues: raw(36; 30)},
		    {id: 2, name: "", bus: "pio", addr: 1296, len: 2, decoder: "raw",
		     writes_per_sec: 0, value: 1280, writes: 5, kernel: 0, exit: 5, lost: 0,
		     latency: nolat, queues: raw(1280; 5)}]},
		  {vm: $b, name: "", writes_per_sec: 0, writes: 12, kernel: 0, exit: 12, lost: 0,
		   regions: [
		    {id: 3, name: "alpha", bus: "mmio", addr: 3489660928, len: 4, decoder: "raw",
		     writes_per_sec: 0, value: 33, writes: 12, kernel: 0, exit: 12, lost: 0,
		     latency: nolat, queues: raw(33; 12)}]}
		] | sort_by(.vm))}')
	# Unmatched writes are any process's: what this test knows is the rest.
	got=$(jq -c 'del(.ts_ns, .secs, .totals.unmatched, .totals.unmatched_per_sec)' <<<"$frame")
	assert_equal "$got" "$want"

	run "$MT" -j top --once --interval 100 --vm "$b_pid"
	assert_success
	assert_equal "$(jq -c '[.vms[] | .vm, [.regions[].name]]' <<<"$output")" "[$b_pid,[\"alpha\"]]"

	run "$MT" -j top --once --interval 100 --sort name
	assert_success
	# A VM sorts by its -name (none here), then its pid; its regions by name.
	assert_equal "$(jq -c '[.vms[].regions[].name]' <<<"$output")" \
		"$(if [ "$a_pid" -lt "$b_pid" ]; then echo '["","zeta","alpha"]'; else echo '["alpha","","zeta"]'; fi)"
	run "$MT" -j top --once --interval 100 --sort exits
	assert_success
	assert_equal "$(jq -c '[.vms[].vm]' <<<"$output")" "[$a_pid,$b_pid]"
}

@test "top reads counters, not events: it runs beside a subscriber, which still gets every write" {
	inject_start inj mmio:$BASE:4:20
	"$MT" region add --vm "$inj_pid" --mmio $BASE --len 4 --name db >/dev/null
	events_start "$BATS_TEST_TMPDIR/ev" --count 20 --duration 20
	inject_go inj
	run "$MT" top --once --interval 100
	assert_success
	assert_line --regexp '^  db +0\.0 +0x13 +20 +0 +20 +0  -$'
	events_wait
	assert_equal "$(wc -l <"$BATS_TEST_TMPDIR/ev")" 20
}

@test "top says what is wrong with its arguments" {
	run "$MT" top --sort speed
	assert_failure
	assert_output "mmiotrap: bad --sort 'speed': writes, exits, lost, name or id"
	run "$MT" top --interval 5
	assert_failure
	assert_output "mmiotrap: bad --interval '5': milliseconds, 100 to 3600000"
	run "$MT" top --vm 0
	assert_failure
	assert_output "mmiotrap: bad --vm '0': not a pid"
	run "$MT" -j top --bogus
	assert_failure
	assert_output '{"error":"unknown argument '\''--bogus'\'' to top"}'
}
