#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
# -j output parses, says what the text output says, and the counters agree
# with the events a subscriber saw.
# bats file_tags=kvm

setup() {
	load helper
	load_trap
}

teardown() {
	unload_trap
}

# Text event lines as JSON objects, to compare with -j.
text_to_json() {
	python3 -c '
import json, sys
for line in sys.stdin:
    f = line.split()
    print(json.dumps({"ts_ns": int(f[0]), "vm": int(f[2]), "vcpu_tid": int(f[4]),
                      "bus": f[5], "addr": int(f[6], 16), "width": int(f[8]),
                      "value": int(f[10], 16), "region": int(f[12]), "seq": int(f[14]),
                      "fast": f[15:] == ["fast"]},
                     separators=(",", ":")))
'
}

@test "events in text and in JSON Lines carry the same fields and values" {
	vmm_start vm mmio:0xd0000000:4:200:7:3
	"$MT" region add --vm "$vm_pid" --mmio 0xd0000000 --len 4 >/dev/null
	# Two subscribers, one in text and one in JSON, each with every record.
	events_start --text "$BATS_TEST_TMPDIR/text.out" --count 100 --duration 30
	text_pid=$events_pid
	events_start "$BATS_TEST_TMPDIR/json.out" --count 200 --duration 30
	vmm_go vm
	events_wait
	wait "$text_pid" || fail "the text subscriber exited $?"
	text=$(cat "$BATS_TEST_TMPDIR/text.out")
	json=$(tail -n 100 "$BATS_TEST_TMPDIR/json.out")
	[ "$(grep -c . <<<"$text")" = 100 ]
	text_to_json <<<"$text" >"$BATS_TEST_TMPDIR/text"
	check_events "$BATS_TEST_TMPDIR/text" --vm "$vm_pid" --region 1 --bus mmio \
		--addr 0xd0000000 --width 4 --count 100 --start 7 --step 3
	echo "$json" >"$BATS_TEST_TMPDIR/json"
	check_events "$BATS_TEST_TMPDIR/json" --vm "$vm_pid" --region 1 --bus mmio \
		--addr 0xd0000000 --width 4 --count 100 --start 307 --step 3 --seq0 100
	assert_equal "$(jq -c 'keys_unsorted' <<<"${json%%$'\n'*}")" \
		'["ts_ns","vm","vcpu_tid","bus","addr","width","value","region","seq","fast"]'
}

@test "region list in JSON says what the text says" {
	"$MT" region add --vm $$ --mmio 0xfebf1000 --len 0x1000 --width 4 --name nvme-db >/dev/null
	"$MT" region add --vm $$ --pio 0xc050 --len 2 --width 2 >/dev/null
	run "$MT" -j region list
	assert_success
	rendered=$(jq -r '.[] | "\(.id): name \(if .name == "" then "-" else .name end)  vm \(.vm)  \(.bus) \(.addr) len \(.len)  widths \(.widths | map(tostring) | join(","))"' <<<"$output")
	run "$MT" region list
	assert_equal "$(python3 -c '
import re, sys
for l in sys.stdin:
    print(re.sub(r"0x[0-9a-f]+", lambda m: str(int(m.group(0), 16)), l), end="")' <<<"$output")" "$rendered"
	run "$MT" -p region list
	assert_success
	assert_equal "$(jq -c 'length' <<<"$output")" 2
}

@test "stats equal the events seen, per region and in total" {
	vmm_start vm mmio:0xd0000000:4:120 pio:0x510:1:80 mmio:0xd0000004:2:30 pio:0x600:1:9
	"$MT" region add --vm "$vm_pid" --mmio 0xd0000000 --len 4 --name a >/dev/null
	"$MT" region add --vm "$vm_pid" --pio 0x510 --len 1 --name b >/dev/null
	"$MT" region add --vm "$vm_pid" --mmio 0xd0000004 --len 4 --width 4 --name c >/dev/null
	no_foreign_vm "$vm_pid"
	before=$("$MT" -j stats | jq .totals.unmatched)
	events_start "$BATS_TEST_TMPDIR/ev" --count 200 --duration 60
	vmm_go vm
	events_wait
	run "$MT" -j stats
	assert_success
	stats=$output
	# A LOST line is no event: with one, the counts below would compare nothing.
	assert_equal "$(jq -c 'select(has("lost"))' "$BATS_TEST_TMPDIR/ev")" ""
	for id in 1 2 3; do
		seen=$(jq -s "map(select(.region == $id and (has(\"lost\") | not))) | length" "$BATS_TEST_TMPDIR/ev")
		assert_equal "$(jq ".regions[] | select(.id == $id) | .emitted" <<<"$stats")" "$seen"
		assert_equal "$(jq ".regions[] | select(.id == $id) | .matched" <<<"$stats")" "$seen"
	done
	assert_equal "$(jq -c '[.regions[] | .emitted]' <<<"$stats")" "[120,80,0]"
	assert_equal "$(jq -c '.totals | [.matched, .emitted, .dropped, .skipped]' <<<"$stats")" "[200,200,0,30]"
	# The 9 writes to port 0x600 are in no region.
	assert_equal "$(jq ".totals.unmatched - $before" <<<"$stats")" 9
	run "$MT" stats
	assert_line --regexp '^region 1 a +matched 120  emitted 120  dropped 0  skipped 0  fast 0  slow 120$'
	assert_line --regexp '^region 3 c +matched 0  emitted 0  dropped 0  skipped 30  fast 0  slow 0$'
	assert_line --regexp '^total +matched 200  emitted 200  dropped 0  skipped 30  fast 0  slow 200$'
	# Every write exited, and so did the final hlt.
	assert_equal "$(jq .totals.exits <<<"$stats")" 240
	assert_line --regexp "^ +unmatched $(jq .totals.unmatched <<<"$stats")  stale 0  exits 240$"
}
