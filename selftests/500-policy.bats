#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
# Policy files: validate without a kernel, apply as all or nothing and
# idempotent, show as a file that apply takes back unchanged.

setup() {
	load helper
	EXAMPLES=$BATS_TEST_DIRNAME/../docs/examples
	# A guest name no other VM on the machine has, say a QEMU of another suite.
	WEB=policy-test-$$
}

teardown() {
	unload_trap
}

# invalid FILE LINE...: validate refuses FILE with exactly these lines
# ("LINE: key 'KEY': PROBLEM", the file's name before each), and -j too.
invalid() {
	local file=$1 want line
	shift
	want=$(for line in "$@"; do echo "$file:$line"; done)
	run "$MT" policy validate "$file"
	assert_failure
	assert_output "$want"
	run "$MT" -j policy validate "$file"
	assert_failure
	assert_equal "$(jq -r --arg f "$file" '.errors[] |
		"\($f):\(.line): " + (if .key then "key '\''\(.key)'\'': " else "" end) + .error' <<<"$output")" \
		"$want"
	assert_equal "$(jq -c '[.file, .valid]' <<<"$output")" "[\"$file\",false]"
}

# background_vm NAME [-name VALUE]: a VMM the policy can find, the test VMM
# holding a real KVM VM and waiting for a go that never comes, its command
# line holding -name VALUE as QEMU's does; its pid in $NAME_pid.
background_vm() {
	local name=$1 pid i
	shift
	require_kvm
	mkfifo "$BATS_TEST_TMPDIR/$name.go"
	"$VMM" --go "$BATS_TEST_TMPDIR/$name.go" "$@" pio:0x510:1:1 >/dev/null 2>&1 3>&- &
	pid=$!
	echo "$pid" >>"$BATS_TEST_TMPDIR/children"
	printf -v "${name}_pid" %s "$pid"
	for i in $(seq 600); do
		find "/proc/$pid/fd" -lname anon_inode:kvm-vm 2>/dev/null | grep -q . && return 0
		sleep 0.05
	done
	fail "test VMM $name made no VM"
}

# impostor NAME ARGS...: a process that is no VMM, its command line
# holding ARGS (say -name web-1); its pid in $NAME_pid.
impostor() {
	local name=$1 pid i
	shift
	/usr/bin/python3 -c 'import time; time.sleep(1000)' "$@" 3>&- &
	pid=$!
	echo "$pid" >>"$BATS_TEST_TMPDIR/children"
	printf -v "${name}_pid" %s "$pid"
	# The shell's fork has the shell's command line until it has become python.
	for i in $(seq 100); do
		[[ "$(tr '\0' ' ' <"/proc/$pid/cmdline")" == */usr/bin/python3* ]] && return 0
		sleep 0.05
	done
	fail "process $pid did not start"
}

# The trap with a table of 64 regions: snapshot dumps all of it, and a
# full-size one is 25 MB of JSON, minutes of jq in kvm-vm.
load_small_trap() {
	load_bpf_trap --max-regions 64
}

# Everything the trap reads: the regions (flags too), the VM table, the index.
# A region put back is a new generation of itself: everything else is as before.
snapshot() {
	"$MT" -j region list
	bpftool -j map dump pinned "$MMIOTRAP_PIN_ROOT/maps/regions" |
		jq -c '[.[].formatted.value | select(.len != 0) | del(.gen)]'
	for m in vms addr_index; do
		bpftool -j map dump pinned "$MMIOTRAP_PIN_ROOT/maps/$m" | jq -c 'sort_by(.key)'
	done
}

# A policy of two VMs, one by -name and one by pid, and three decoders.
write_policy() {
	cat >"$BATS_TEST_TMPDIR/policy.yaml" <<-EOF
	vms:
	  - vm: {name: $WEB}
	    regions:
	      - name: web1-nvme
	        addr: 0xfebf1000
	        len: 0x1000
	        widths: [4]
	        decoder: nvme
	        bar0: 0xfebf0000
	        queues: 4
	  - vm: {pid: $db_pid}
	    regions:
	      - name: db-bits
	        bus: pio
	        addr: 0x600
	        len: 4
	        decoder: bitfield
	        fields: [{name: lo, mask: 0xff}, {name: "yes", mask: 0xf, shift: 28}]
	      - name: db-net
	        addr: 0xfe003000
	        len: 0x20
	        widths: [2, 4]
	        decoder: virtio-pci
	        notify_base: 0xfe003000
	        multiplier: 4
	        queues: 3
	        notification_data: true
	EOF
}

# The trap, a VM named $WEB, a VM known by pid, and write_policy's file.
two_vms() {
	load_small_trap
	background_vm web -name "$WEB,debug-threads=on"
	background_vm db
	write_policy
	policy=$BATS_TEST_TMPDIR/policy.yaml
}

@test "every example in docs/examples is valid" {
	for f in "$EXAMPLES"/*.yaml; do
		run "$MT" policy validate "$f"
		assert_success
		assert_output --regexp "^$f: valid, [0-9]+ VMs?, [0-9]+ regions?\$"
		run "$MT" -j policy validate "$f"
		assert_success
		assert_equal "$(jq -c '[.file, .valid, .vms > 0, .regions > 0]' <<<"$output")" \
			"[\"$f\",true,true,true]"
	done
	run "$MT" policy validate "$EXAMPLES/nvme.yaml"
	assert_output "$EXAMPLES/nvme.yaml: valid, 2 VMs, 2 regions"
	run "$MT" -j policy validate "$EXAMPLES/bitfield.yaml"
	assert_output "{\"file\":\"$EXAMPLES/bitfield.yaml\",\"valid\":true,\"vms\":1,\"regions\":2}"
}

@test "JSON is YAML too, and - reads standard input" {
	f=$BATS_TEST_TMPDIR/p.json
	echo '{"vms": [{"vm": {"pid": 1}, "regions": [{"name": "a", "bus": "pio", "addr": 1280, "len": 4}]}]}' >"$f"
	run "$MT" policy validate "$f"
	assert_success
	assert_output "$f: valid, 1 VM, 1 region"
	run "$MT" policy validate - <"$f"
	assert_success
	assert_output "<stdin>: valid, 1 VM, 1 region"
}

@test "unknown keys, wrong types and another decoder's keys are refused" {
	f=$BATS_TEST_TMPDIR/bad.yaml
	cat >"$f" <<-'EOF'
	vms:
	  - vm: {name: web-1}
	    colour: red
	    regions:
	      - name: a
	        addr: {at: 0xfebf1000}
	        len: [4]
	        mode: turbo
	        bus: isa
	        decoder: nvme
	        bar0: 0xfebf0000
	        queues: 2
	        notify_base: 0x1000
	      - name: b
	        addr: 0x2000
	        len: 4
	        decoder: virtio-pci
	        notify_base: 0x2000
	        queues: 1
	        packed: yes
	        decoder: raw
	      - name: c
	        addr: 0x3000
	        len: 4
	        decoder: virtio-scsi
	top: 1
	EOF
	invalid "$f" \
		"3: key 'colour': unknown key in a vms entry" \
		"6: key 'addr': want a number, got a mapping" \
		"7: key 'len': want a number, got a list" \
		"8: key 'mode': want slow or fast, got 'turbo'" \
		"9: key 'bus': want mmio or pio, got 'isa'" \
		"13: key 'notify_base': not a parameter of decoder nvme" \
		"20: key 'packed': want a bool, got a string" \
		"21: key 'decoder': given twice" \
		"25: key 'decoder': want raw, nvme, virtio-pci, virtio-legacy or bitfield, got 'virtio-scsi'" \
		"26: key 'top': unknown key in the file"
}

@test "missing keys, bad numbers, widths and lengths are refused" {
	f=$BATS_TEST_TMPDIR/bad.yaml
	cat >"$f" <<-'EOF'
	vms:
	  - vm: {pid: 0}
	    regions:
	      - addr: -1
	        len: 0
	        widths: [3, 4, 4]
	      - name: n
	        len: 0x10000000000000000
	        decoder: nvme
	        dstrd: 16
	      - name: v
	        addr: 0x1000
	        len: 1.5
	        decoder: virtio-pci
	        notify_base: 0x1000
	        queues: 0x10000
	        multiplier: 0x100000000
	      - name: 7up
	        addr: 010
	        len: 1
	        widths: []
	        decoder: virtio-legacy
	  - vm: {name: web-1, pid: 12}
	  - regions: []
	    vm: {}
	EOF
	invalid "$f" \
		"2: key 'pid': must be at least 1" \
		"4: key 'addr': bad number '-1': want decimal or 0x hex, 0 or more" \
		"4: key 'name': missing from a region" \
		"5: key 'len': must be at least 1" \
		"6: key 'widths': 3 is not a width: want 1, 2, 4 or 8" \
		"6: key 'widths': width 4 given twice" \
		"7: key 'addr': missing from region 'n'" \
		"7: key 'bar0': missing from region 'n' (decoder nvme needs it)" \
		"7: key 'queues': missing from region 'n' (decoder nvme needs it)" \
		"8: key 'len': 0x10000000000000000 does not fit in 64 bits" \
		"10: key 'dstrd': must be at most 15" \
		"13: key 'len': bad number '1.5': want decimal or 0x hex, 0 or more" \
		"16: key 'queues': must be at most 65535" \
		"17: key 'multiplier': must be at most 0xffffffff" \
		"18: key 'name': bad name '7up': use letters, digits, '_', '.', '-', starting with a letter" \
		"18: key 'queues': missing from a region (decoder virtio-legacy needs it)" \
		"19: key 'addr': bad number '010': want decimal or 0x hex, 0 or more" \
		"21: key 'widths': want at least one of 1, 2, 4, 8" \
		"23: key 'vm': give exactly one of name or pid" \
		"23: key 'regions': missing from a vms entry" \
		"25: key 'vm': give exactly one of name or pid"
}

@test "duplicate names, ranges past the bus and overlaps in one VM are refused" {
	f=$BATS_TEST_TMPDIR/bad.yaml
	cat >"$f" <<-'EOF'
	vms:
	  - vm: {name: web-1}
	    regions:
	      - {name: a, addr: 0xd0000000, len: 0x1000}
	      - {name: b, addr: 0xd0000ffc, len: 8}
	      - {name: c, bus: pio, addr: 0xd0000000, len: 1}
	      - {name: d, bus: pio, addr: 0xfffe, len: 4}
	      - {name: e, addr: 0xfffffffffffffff0, len: 0x11}
	      - {name: f, addr: 0xfffffffffffffff0, len: 0x10}
	  - vm: {name: db-1}
	    regions:
	      - {name: a, addr: 0xd0000000, len: 0x1000}
	      - {name: g, bus: pio, addr: 0xfffc, len: 4}
	      - {name: h, bus: pio, addr: 0xfffd, len: 1}
	EOF
	invalid "$f" \
		"5: key 'addr': mmio 0xd0000ffc len 0x8 overlaps region 'a' (line 4) of the same vm" \
		"6: key 'addr': port 0xd0000000 is beyond 0xffff" \
		"7: key 'len': pio 0xfffe len 0x4 runs past the end of the 64 KiB port space" \
		"8: key 'len': mmio 0xfffffffffffffff0 len 0x11 runs past the end of the address space" \
		"12: key 'name': region 'a' is defined twice (first at line 4)" \
		"14: key 'addr': pio 0xfffd len 0x1 overlaps region 'g' (line 13) of the same vm"
}

@test "bitfield fields are checked one by one" {
	f=$BATS_TEST_TMPDIR/bad.yaml
	cat >"$f" <<-'EOF'
	vms:
	  - vm: {pid: 1}
	    regions:
	      - name: a
	        addr: 0x1000
	        len: 4
	        decoder: bitfield
	        fields:
	          - {name: x, mask: 0}
	          - {name: x, mask: 1, shift: 64}
	          - {nom: y}
	          - name: a-very-long-name
	            mask: 0xff
	      - name: b
	        addr: 0x2000
	        len: 4
	        decoder: bitfield
	        fields: [{name: a, mask: 1}, {name: b, mask: 1}, {name: c, mask: 1}, {name: d, mask: 1}, {name: e, mask: 1}]
	      - name: c
	        addr: 0x3000
	        len: 4
	        decoder: bitfield
	EOF
	invalid "$f" \
		"9: key 'mask': must be at least 1" \
		"10: key 'name': field 'x' given twice" \
		"10: key 'shift': must be at most 63" \
		"11: key 'nom': unknown key in a field" \
		"11: key 'name': missing from a field" \
		"11: key 'mask': missing from a field" \
		"12: key 'name': 'a-very-long-name' is longer than 11 characters" \
		"18: key 'fields': want 1 to 4 fields, got 5" \
		"19: key 'fields': missing from region 'c' (decoder bitfield needs it)"
}

@test "YAML that does not parse gets its line, without a key" {
	f=$BATS_TEST_TMPDIR/bad.yaml
	printf 'vms:\n  - vm: {name: web-1\n    regions: []\n' >"$f"
	invalid "$f" "3: syntax error: did not find expected ',' or '}' while parsing a flow mapping"
	run "$MT" -j policy validate "$f"
	assert_equal "$(jq -c '.errors' <<<"$output")" \
		"[{\"line\":3,\"key\":null,\"error\":\"syntax error: did not find expected ',' or '}' while parsing a flow mapping\"}]"
	printf 'vms:\n  - vm: {name: \xc3\x28}\n' >"$f"
	invalid "$f" "2: syntax error: invalid trailing UTF-8 octet"
	printf 'vms: []\n---\nvms: []\n' >"$f"
	invalid "$f" "3: syntax error: a second document; a policy is one"
	: >"$f"
	invalid "$f" "1: key 'vms': missing: the file is empty"
	printf -- '- vm: {pid: 1}\n' >"$f"
	invalid "$f" "1: key 'vms': the file must be a mapping with key 'vms', not a list"
	run "$MT" policy validate "$BATS_TEST_TMPDIR/nonexistent.yaml"
	assert_failure
	assert_output "mmiotrap: cannot read $BATS_TEST_TMPDIR/nonexistent.yaml: No such file or directory"
	run "$MT" -j policy validate
	assert_failure
	assert_output "{\"error\":\"policy validate needs a FILE ('-': standard input)\"}"
}

@test "validate needs neither root nor a loaded trap" {
	# Wherever the tree is, nobody must be able to run the binary and read the files.
	dir=$(mktemp -d)
	chmod 755 "$dir"
	install -m 755 "$MT" "$dir/mmiotrap"
	install -m 644 "$EXAMPLES/virtio.yaml" "$dir/virtio.yaml"
	printf 'vms:\n  - vm: {pid: 1}\n    regions: [{name: a, addr: 0, len: 0}]\n' >"$dir/bad.yaml"
	chmod 644 "$dir/bad.yaml"
	run setpriv --reuid=65534 --regid=65534 --clear-groups "$dir/mmiotrap" policy validate "$dir/virtio.yaml"
	assert_success
	assert_output "$dir/virtio.yaml: valid, 1 VM, 2 regions"
	run setpriv --reuid=65534 --regid=65534 --clear-groups "$dir/mmiotrap" policy validate "$dir/bad.yaml"
	assert_failure
	assert_output "$dir/bad.yaml:3: key 'len': must be at least 1"
	for cmd in "apply $dir/virtio.yaml" show; do
		run setpriv --reuid=65534 --regid=65534 --clear-groups "$dir/mmiotrap" policy $cmd
		assert_failure
		assert_output "mmiotrap: '${cmd%% *}' needs root"
	done
	rm -r "$dir"
	[ ! -e "$MMIOTRAP_PIN_ROOT" ]
}

@test "apply and show say so when nothing is loaded" {
	[ "$(id -u)" = 0 ] || require "these tests need root"
	run "$MT" policy apply "$EXAMPLES/bitfield.yaml"
	assert_failure
	assert_output "mmiotrap: not loaded at $MMIOTRAP_PIN_ROOT (run 'mmiotrap load')"
	run "$MT" -j policy show
	assert_failure
	assert_output "{\"error\":\"not loaded at $MMIOTRAP_PIN_ROOT (run 'mmiotrap load')\"}"
}

# bats test_tags=kvm
@test "apply adds the file's regions, flagged as the policy's" {
	two_vms
	run "$MT" policy apply "$policy"
	assert_success
	assert_output "$(printf 'added %s\n' web1-nvme db-bits db-net)"
	run "$MT" -j region list
	assert_equal "$(jq -c 'map([.id, .name, .vm, .bus, .addr, .len, .widths, .decoder, .params])' <<<"$output")" \
		"[[1,\"web1-nvme\",$web_pid,\"mmio\",4273934336,4096,[4],\"nvme\",{\"bar0\":4273930240,\"dstrd\":0,\"queues\":4}],[2,\"db-bits\",$db_pid,\"pio\",1536,4,[1,2,4,8],\"bitfield\",{\"fields\":[{\"name\":\"lo\",\"mask\":255,\"shift\":0},{\"name\":\"yes\",\"mask\":15,\"shift\":28}]}],[3,\"db-net\",$db_pid,\"mmio\",4261425152,32,[2,4],\"virtio-pci\",{\"notify_base\":4261425152,\"multiplier\":4,\"queues\":3,\"notification_data\":true,\"packed\":false}]]"
	run bpftool -j map dump pinned "$MMIOTRAP_PIN_ROOT/maps/regions"
	assert_equal "$(jq -c '[.[].formatted.value | select(.len != 0) | .flags]' <<<"$output")" "[1,1,1]"
}

# bats test_tags=kvm
@test "applying the same file again changes nothing" {
	two_vms
	"$MT" policy apply "$policy" >/dev/null
	before=$(snapshot)
	run "$MT" policy apply "$policy"
	assert_success
	assert_output "nothing to change"
	run "$MT" -j policy apply "$policy"
	assert_success
	assert_output '{"added":[],"removed":[],"changed":[]}'
	assert_equal "$(snapshot)" "$before"
}

# bats test_tags=kvm
@test "a changed file applies only the difference" {
	two_vms
	"$MT" policy apply "$policy" >/dev/null
	# web1-nvme the same, db-bits gone, db-net with another length, db-legacy new.
	sed -i -e '/name: db-bits/,/fields:/d' -e 's/len: 0x20/len: 0x40/' "$policy"
	cat >>"$policy" <<-'EOF'
	      - name: db-legacy
	        bus: pio
	        addr: 0xc050
	        len: 2
	        decoder: virtio-legacy
	        queues: 2
	EOF
	run "$MT" policy apply "$policy"
	assert_success
	assert_output "$(printf '%s\n' 'removed db-bits' 'changed db-net' 'added db-legacy')"
	run "$MT" -j region list
	assert_equal "$(jq -c 'map([.id, .name, .len])' <<<"$output")" \
		'[[1,"web1-nvme",4096],[2,"db-net",64],[3,"db-legacy",2]]'
	# A VM that is another process now: its regions change, and JSON says so.
	background_vm web2 -name "$WEB"
	kill "$web_pid"
	wait "$web_pid" 2>/dev/null || true
	run "$MT" -j policy apply "$policy"
	assert_success
	assert_output '{"added":[],"removed":[],"changed":["web1-nvme"]}'
	assert_equal "$("$MT" -j region list | jq '.[] | select(.name == "web1-nvme") | .vm')" "$web2_pid"
}

# bats test_tags=kvm
@test "an empty policy removes the policy's regions, and only those" {
	two_vms
	"$MT" region add --vm "$db_pid" --mmio 0xd0000000 --len 4 --name by-hand >/dev/null
	"$MT" policy apply "$policy" >/dev/null
	echo 'vms: []' >"$BATS_TEST_TMPDIR/empty.yaml"
	run "$MT" -j policy apply "$BATS_TEST_TMPDIR/empty.yaml"
	assert_success
	assert_output '{"added":[],"removed":["web1-nvme","db-bits","db-net"],"changed":[]}'
	assert_equal "$("$MT" -j region list | jq -c 'map(.name)')" '["by-hand"]'
}

# refused MESSAGE: apply of $policy fails with MESSAGE, in text and JSON, and
# the trap is as it was.
refused() {
	local before
	before=$(snapshot)
	run "$MT" policy apply "$policy"
	assert_failure
	assert_output "mmiotrap: $1"
	run "$MT" -j policy apply "$policy"
	assert_failure
	assert_equal "$(jq -r .error <<<"$output")" "$1"
	assert_equal "$(snapshot)" "$before"
}

# bats test_tags=kvm
@test "an apply that fails a check changes nothing" {
	two_vms
	"$MT" policy apply "$policy" >/dev/null
	sed -i -e 's/queues: 4/queues: 8/' -e 's/len: 0x20/len: 0x80/' "$policy"
	# A region added by hand where the file wants one.
	"$MT" region add --vm "$db_pid" --mmio 0xfe003040 --len 4 --name by-hand >/dev/null
	refused "$policy:20: key 'addr': mmio 0xfe003000 len 0x80 overlaps region 4 (by-hand) of vm $db_pid, which is not the policy's"
	"$MT" region del by-hand >/dev/null
	# A name taken by a region the policy does not own.
	sed -i 's/name: db-bits/name: by-hand/' "$policy"
	"$MT" region add --vm "$db_pid" --mmio 0xd0000000 --len 4 --name by-hand >/dev/null
	refused "$policy:13: key 'name': region 4 is named 'by-hand' already, and is not the policy's"
	"$MT" region del by-hand >/dev/null
	# A name that no process has, and a pid that is no process.
	sed -i "s/name: $WEB/name: $WEB-2/" "$policy"
	refused "$policy:2: key 'name': no KVM VMM has -name '$WEB-2'"
	gone=$(sh -c 'echo $$')
	sed -i -e "s/name: $WEB-2/name: $WEB/" -e "s/pid: $db_pid/pid: $gone/" "$policy"
	refused "$policy:11: key 'pid': no process $gone"
	# Two entries that are one process: their regions overlap.
	sed -i "s/pid: [0-9]*/pid: $web_pid/" "$policy"
	sed -i 's/0xfe003000/0xfebf1000/' "$policy"
	refused "$policy:20: key 'addr': mmio 0xfebf1000 len 0x80 overlaps region 'web1-nvme' (line 4): both are of process $web_pid"
}

# bats test_tags=kvm
@test "apply of a file that is not valid lists its errors and changes nothing" {
	two_vms
	sed -i 's/len: 0x1000/len: 0/' "$policy"
	before=$(snapshot)
	run "$MT" policy apply "$policy"
	assert_failure
	assert_output "$policy:6: key 'len': must be at least 1"
	run "$MT" -j policy apply "$policy"
	assert_failure
	assert_equal "$(jq -c '[.error, .errors]' <<<"$output")" \
		'["not a valid policy: nothing applied",[{"line":6,"key":"len","error":"must be at least 1"}]]'
	assert_equal "$(snapshot)" "$before"
}

# bats test_tags=kvm
@test "a fast region is adopted by its VMM: its writes stop exiting, and only the VMM lets it go" {
	load_trap
	mkfifo "$BATS_TEST_TMPDIR/fast.go"
	"$VMM" -j --pin-root "$MMIOTRAP_PIN_ROOT" --adopt --go "$BATS_TEST_TMPDIR/fast.go" \
		mmio:0xd0000000:4:500:5 pause:3000000 mmio:0xd0000000:2:100 pio:0x510:2:50 \
		>"$BATS_TEST_TMPDIR/fast.out" 3>&- &
	vmm=$!
	echo "$vmm" >>"$BATS_TEST_TMPDIR/children"
	cat >"$BATS_TEST_TMPDIR/fast.yaml" <<-YAML
	vms:
	  - vm: {pid: $vmm}
	    regions:
	      - name: db
	        addr: 0xd0000000
	        len: 4
	        widths: [2, 4]
	        mode: fast
	      - name: io
	        bus: pio
	        addr: 0x510
	        len: 2
	YAML
	run "$MT" policy apply "$BATS_TEST_TMPDIR/fast.yaml"
	assert_output "$(printf 'added db\nadded io')"
	echo go >"$BATS_TEST_TMPDIR/fast.go"
	# The VMM adopts db after the go; the guest then pauses three seconds,
	# time for the commands below while it still runs.
	for i in $(seq 100); do
		[ "$("$MT" -j region list | jq -c '.[0].fast_widths')" = '[]' ] || break
		sleep 0.05
	done
	run "$MT" -j region list
	assert_equal "$(jq -c '.[0] | [.fast_widths, .want_fast]' <<<"$output")" '[[2,4],[2,4]]'
	run "$MT" policy apply "$BATS_TEST_TMPDIR/fast.yaml"
	assert_output "nothing to change"
	run "$MT" region del db
	assert_failure
	assert_output "mmiotrap: region 'db' is fast: its VMM (pid $vmm) owns the ioeventfds and must let it go (mmiotrap_fast_del)"
	sed -i '/name: db/,/mode: fast/d' "$BATS_TEST_TMPDIR/fast.yaml"
	run "$MT" policy apply "$BATS_TEST_TMPDIR/fast.yaml"
	assert_failure
	assert_output "mmiotrap: region 'db' is fast, adopted by its VMM (pid $vmm): the VMM must let it go first (mmiotrap_fast_del)"
	wait "$vmm"
	# No MMIO exit: 600 fast writes; the port writes and the pause exit.
	assert_equal "$(jq -c '[.exits_mmio, .exits_pio, .events, .fast, .emu_mismatches]' \
		"$BATS_TEST_TMPDIR/fast.out")" "[0,51,650,600,0]"
	# Let go when the VMM stopped: the region captures again, wanting fast.
	run "$MT" -j region list
	assert_equal "$(jq -c '.[0] | [.name, .fast_widths, .want_fast, .stale]' <<<"$output")" \
		'["db",[],[2,4],true]'
}

# bats test_tags=kvm
@test "a step that fails after the checks is undone: the trap is as before" {
	# make deps installs strace: a missing one is a failure in CI.
	command -v strace >/dev/null || require "strace is not installed"
	two_vms
	# A fast region the VMM has not adopted: undone, it must want fast again.
	cat >>"$policy" <<-EOF
	      - name: db-fast
	        addr: 0xd0000000
	        len: 4
	        widths: [2, 4]
	        mode: fast
	EOF
	"$MT" policy apply "$policy" >/dev/null
	sed -i -e '/name: db-bits/,/fields:/d' -e 's/queues: 4/queues: 5/' -e 's/queues: 3/queues: 4/' \
		-e '/name: db-fast/,/mode:/s/widths: .*/widths: [4]/' "$policy"
	before=$(snapshot)
	assert_equal "$("$MT" -j region list | jq -c '.[] | select(.name == "db-fast") | .want_fast')" '[2,4]'
	# Opening takes turns with loads (1 flock call); removals and adds each
	# lock the maps: remove web1-nvme, db-bits, db-net, db-fast (2 flock
	# calls each), add web1-nvme (2): the 12th call, adding db-net, fails.
	run traced -f -o /dev/null -e trace=flock -e inject=flock:error=EIO:when=12 "$MT" policy apply "$policy"
	assert_failure
	assert_output "mmiotrap: cannot add region 'db-net': Input/output error; nothing changed"
	assert_equal "$(snapshot)" "$before"
	run traced -f -o /dev/null -e trace=flock -e inject=flock:error=EIO:when=4 "$MT" -j policy apply "$policy"
	assert_failure
	assert_output '{"error":"cannot remove region '\''db-bits'\'': Input/output error; nothing changed"}'
	assert_equal "$(snapshot)" "$before"
	run "$MT" policy apply "$policy"
	assert_output "$(printf '%s\n' 'removed db-bits' 'changed web1-nvme' 'changed db-net' 'changed db-fast')"
	assert_equal "$("$MT" -j region list | jq -c '.[] | select(.name == "db-fast") | .want_fast')" '[4]'
}

# bats test_tags=kvm
@test "a VM is found by QEMU's -name, and must be found once" {
	load_small_trap
	background_vm other -name "guest=${WEB}0,process=${WEB}0"
	background_vm web -name "guest=$WEB,debug-threads=on"
	f=$BATS_TEST_TMPDIR/p.yaml
	printf 'vms:\n  - vm: {name: %s}\n    regions: [{name: a, addr: 0x1000, len: 4}]\n' "$WEB" >"$f"
	run "$MT" policy apply "$f"
	assert_success
	assert_equal "$("$MT" -j region list | jq '.[0].vm')" "$web_pid"
	background_vm web2 -name "$WEB"
	run "$MT" policy apply "$f"
	assert_failure
	pids=$(printf '%s\n' "$web_pid" "$web2_pid" | sort -n | paste -sd, | sed 's/,/, /')
	assert_output "mmiotrap: $f:2: key 'name': -name '$WEB' matches 2 VMMs: $pids"
	# QEMU's option syntax: ",," is a comma of the name.
	background_vm odd -name "$WEB,,b,debug-threads=on"
	printf 'vms:\n  - vm: {name: "%s,b"}\n    regions: [{name: b, addr: 0x1000, len: 4}]\n' "$WEB" >"$f"
	run "$MT" policy apply "$f"
	assert_success
	assert_equal "$("$MT" -j region list | jq -c 'map([.name, .vm])')" "[[\"b\",$odd_pid]]"
}

@test "a process that only calls itself -name is no VM: the policy never finds it" {
	load_small_trap
	impostor fake -name "$WEB"
	f=$BATS_TEST_TMPDIR/p.yaml
	printf 'vms:\n  - vm: {name: %s}\n    regions: [{name: a, addr: 0x1000, len: 4}]\n' "$WEB" >"$f"
	run "$MT" policy apply "$f"
	assert_failure
	assert_output "mmiotrap: $f:2: key 'name': no KVM VMM has -name '$WEB'"
	run "$MT" -j region list
	assert_output "[]"
}

@test "a policy's pid is a process, not one of its threads" {
	load_small_trap
	"$MT" region add --vm 1 --mmio 0xd0000000 --len 4 --name by-hand >/dev/null
	# A process with a second thread: its tid is in /proc, though no process.
	/usr/bin/python3 -c 'import threading, time, sys
threading.Thread(target=time.sleep, args=(1000,), daemon=True).start()
print(threading.enumerate()[-1].native_id, flush=True)
time.sleep(1000)' >"$BATS_TEST_TMPDIR/tid" 3>&- &
	echo $! >>"$BATS_TEST_TMPDIR/children"
	for i in $(seq 100); do
		[ -s "$BATS_TEST_TMPDIR/tid" ] && break
		sleep 0.05
	done
	tid=$(<"$BATS_TEST_TMPDIR/tid")
	assert_equal "$(awk '/^Tgid:/ {print $2}' "/proc/$tid/status")" "$!"
	f=$BATS_TEST_TMPDIR/p.yaml
	printf 'vms:\n  - vm: {pid: %s}\n    regions: [{name: a, addr: 0x1000, len: 4}]\n' "$tid" >"$f"
	before=$(snapshot)
	run "$MT" policy apply "$f"
	assert_failure
	assert_output "mmiotrap: $f:2: key 'pid': vm pid $tid is a thread of process $!, not a process"
	run "$MT" -j policy apply "$f"
	assert_failure
	assert_equal "$(jq -r .error <<<"$output")" \
		"$f:2: key 'pid': vm pid $tid is a thread of process $!, not a process"
	assert_equal "$(snapshot)" "$before"
	# The process itself is taken.
	sed -i "s/pid: $tid/pid: $!/" "$f"
	run "$MT" policy apply "$f"
	assert_success
	assert_output "added a"
}

@test "show -j writes an address above 2^63 as the number it is, and apply takes it back" {
	load_small_trap
	f=$BATS_TEST_TMPDIR/p.yaml
	printf 'vms:\n  - vm: {pid: 1}\n    regions: [{name: hi, addr: 0xfffffffffffff000, len: 0x1000}]\n' >"$f"
	"$MT" policy apply "$f" >/dev/null
	run "$MT" -j policy show
	assert_output '{"vms":[{"vm":{"pid":1},"regions":[{"name":"hi","bus":"mmio","addr":18446744073709547520,"len":4096,"widths":[1,2,4,8],"mode":"slow","decoder":"raw"}]}]}'
	echo "$output" >"$f.json"
	run "$MT" policy apply "$f.json"
	assert_output "nothing to change"
}

# bats test_tags=kvm
@test "show prints a policy that apply takes back unchanged" {
	two_vms
	run "$MT" policy show
	assert_output "$(printf '# The policy regions of %s\nvms: []' "$MMIOTRAP_PIN_ROOT")"
	"$MT" region add --vm "$db_pid" --mmio 0xd0000000 --len 4 --name by-hand >/dev/null
	"$MT" policy apply "$policy" >/dev/null
	before=$(snapshot)
	run "$MT" policy show
	assert_success
	assert_output "# The policy regions of $MMIOTRAP_PIN_ROOT
vms:
  - vm: {pid: $web_pid}  # -name $WEB
    regions:
      - name: web1-nvme
        bus: mmio
        addr: 0xfebf1000
        len: 0x1000
        widths: [4]
        mode: slow
        decoder: nvme
        bar0: 0xfebf0000
        dstrd: 0
        queues: 4
  - vm: {pid: $db_pid}
    regions:
      - name: db-bits
        bus: pio
        addr: 0x600
        len: 0x4
        widths: [1, 2, 4, 8]
        mode: slow
        decoder: bitfield
        fields: [{name: lo, mask: 0xff, shift: 0}, {name: \"yes\", mask: 0xf, shift: 28}]
      - name: db-net
        bus: mmio
        addr: 0xfe003000
        len: 0x20
        widths: [2, 4]
        mode: slow
        decoder: virtio-pci
        notify_base: 0xfe003000
        multiplier: 4
        queues: 3
        notification_data: true
        packed: false"
	echo "$output" >"$BATS_TEST_TMPDIR/show.yaml"
	run "$MT" policy apply "$BATS_TEST_TMPDIR/show.yaml"
	assert_output "nothing to change"
	"$MT" -j policy show >"$BATS_TEST_TMPDIR/show.json"
	assert_equal "$(jq -c '.vms | map([.vm, (.regions | map(.name))])' "$BATS_TEST_TMPDIR/show.json")" \
		"[[{\"pid\":$web_pid},[\"web1-nvme\"]],[{\"pid\":$db_pid},[\"db-bits\",\"db-net\"]]]"
	run "$MT" policy apply "$BATS_TEST_TMPDIR/show.json"
	assert_output "nothing to change"
	run sh -c "'$MT' policy show | '$MT' policy apply -"
	assert_output "nothing to change"
	assert_equal "$(snapshot)" "$before"
}

# bats test_tags=kvm
@test "writes through an applied nvme policy are decoded: kind and queue" {
	load_trap
	vmm_start vm mmio:0xfebf1000:4:2:5 mmio:0xfebf1004:4:1:3 mmio:0xfebf1008:4:1:9 \
		mmio:0xfebf1010:4:1:2
	f=$BATS_TEST_TMPDIR/p.yaml
	cat >"$f" <<-EOF
	vms:
	  - vm: {pid: $vm_pid}
	    regions:
	      - name: nvme-db
	        addr: 0xfebf1000
	        len: 0x1000
	        widths: [4]
	        decoder: nvme
	        bar0: 0xfebf0000
	        queues: 2
	EOF
	run "$MT" policy apply "$f"
	assert_output "added nvme-db"
	events_start "$BATS_TEST_TMPDIR/ev" --count 5 --duration 30
	vmm_go vm
	events_wait
	assert_equal "$(jq -s -c 'map([.kind, .queue, .value])' "$BATS_TEST_TMPDIR/ev")" \
		'[["sq_tail",0,5],["sq_tail",0,6],["cq_head",0,3],["sq_tail",1,9],["bad_queue",2,2]]'
}

@test "a value's type is what its key wants, whatever its quoting or tag" {
	f=$BATS_TEST_TMPDIR/typed.yaml
	cat >"$f" <<-'EOF'
	vms:
	  - vm: {pid: "1"}
	    regions:
	      - {name: null, addr: "0x10", len: !!str 4}
	      - {name: "on", addr: '0x20', len: 1, widths: ["4"]}
	      - {name: b, addr: "+1", len: " 1"}
	EOF
	invalid "$f" \
		"6: key 'addr': bad number '+1': want decimal or 0x hex, 0 or more" \
		"6: key 'len': bad number ' 1': want decimal or 0x hex, 0 or more"
}

@test "the work a file can cause is bounded: size, nesting, aliases, regions" {
	f=$BATS_TEST_TMPDIR/hostile.yaml
	run timeout 10 "$MT" policy validate /dev/zero
	assert_failure 1
	assert_output "/dev/zero:1: larger than 8192 KiB: no policy is"
	# An 18 KB file of aliases once expanded to a million regions.
	{
		echo 'a0: &a0 {name: x, addr: 0, len: 1}'
		for i in $(seq 1 19); do
			printf 'a%d: &a%d [*a%d' "$i" "$i" $((i - 1))
			printf ', *a%d' $(yes $((i - 1)) | head -9)
			echo ']'
		done
		echo 'vms: [{vm: {pid: 1}, regions: *a19}]'
	} >"$f"
	run timeout 10 "$MT" policy validate "$f"
	assert_failure 1
	assert_output "$f:1: aliases expand it past 1048576 nodes, or into themselves"
	echo 'vms: &x [*x]' >"$f"
	run timeout 10 "$MT" policy validate "$f"
	assert_output "$f:1: aliases expand it past 1048576 nodes, or into themselves"
	printf 'vms: %s%s\n' "$(printf '[%.0s' $(seq 50000))" "$(printf ']%.0s' $(seq 50000))" >"$f"
	run timeout 10 "$MT" policy validate "$f"
	assert_failure 1
	assert_output "$f:1: nested deeper than 32 levels"
	# Each bound is exact: 32 levels, 256 aliases, 8 MiB.
	printf 'vms: %s%s\n' "$(printf '[%.0s' $(seq 31))" "$(printf ']%.0s' $(seq 31))" >"$f"
	run "$MT" policy validate "$f"
	assert_output "$f:1: key 'vms': want a mapping, got a list"
	printf 'vms: %s%s\n' "$(printf '[%.0s' $(seq 32))" "$(printf ']%.0s' $(seq 32))" >"$f"
	run "$MT" policy validate "$f"
	assert_output "$f:1: nested deeper than 32 levels"
	for n in 257 258; do
		python3 -c 'import sys; print("vms:\n  - vm: {pid: 1}\n    regions:\n" +
			"      - {name: r0, addr: 0, len: &n 1}\n" +
			"".join("      - {name: r%d, addr: %d, len: *n}\n" % (i, i * 16)
				for i in range(1, int(sys.argv[1]))))' "$n" >"$f.$n"
	done
	run "$MT" policy validate "$f.257"
	assert_output "$f.257: valid, 1 VM, 257 regions"
	run "$MT" policy validate "$f.258"
	assert_output "$f.258:261: more than 256 aliases"
	python3 -c 'import sys; s = "vms: []\n"; sys.stdout.write(s + "#" * (8 << 20) + "\n")' |
		head -c $((8 << 20)) >"$f"
	run "$MT" policy validate "$f"
	assert_output "$f: valid, 0 VMs, 0 regions"
	echo >>"$f"
	run "$MT" policy validate "$f"
	assert_output "$f:1: larger than 8192 KiB: no policy is"
	python3 -c 'print("vms:\n  - vm: {pid: 1}\n    regions:\n" +
		"".join("      - {name: r%d, addr: %d, len: 1}\n" % (i, i * 16) for i in range(131080)))' >"$f"
	# Five megabytes of YAML: a few seconds, more under the sanitizers; never unbounded.
	run timeout 60 "$MT" policy validate "$f"
	assert_failure 1
	assert_output "$f:131076: key 'regions': more than 131072 regions: a policy holds no more"
}

@test "a region naming a device takes no address, length or decoder parameter" {
	f=$BATS_TEST_TMPDIR/dev.yaml
	cat >"$f" <<-'EOF'
	vms:
	  - vm: {name: web-1, qmp: /run/web-1.qmp}
	    regions:
	      - name: ok
	        device: nvme0
	        widths: [4]
	      - name: bad
	        device: "00:03.0"
	        addr: 0x1000
	        len: 4
	        decoder: nvme
	        queues: 2
	      - device: vblk0
	        decoder: bitfield
	      - name: empty
	        device: ""
	EOF
	invalid "$f" \
		"7: key 'addr': not with device: the device gives it" \
		"7: key 'len': not with device: the device gives it" \
		"7: key 'queues': not with device: the device gives it" \
		"13: key 'name': missing from a region" \
		"13: key 'decoder': a device gives no bitfield: want nvme, virtio-pci, virtio-legacy or raw" \
		"16: key 'device': empty"
}

@test "a region of the VM's doorbells takes a bus and a range to find them in, both addr and len" {
	f=$BATS_TEST_TMPDIR/bells.yaml
	cat >"$f" <<-'EOF'
	vms:
	  - vm: {name: web-1}
	    regions:
	      - name: all
	        doorbells: ioeventfds
	      - name: notify
	        doorbells: ioeventfds
	        bus: mmio
	        addr: 0xfe000000
	        len: 0x4000
	        widths: [2, 4]
	      - name: half
	        doorbells: ioeventfds
	        addr: 0x1000
	      - name: what
	        doorbells: eventfds
	      - name: legacy
	        doorbells: ioeventfds
	        bus: pio
	        decoder: virtio-legacy
	      - name: dev
	        device: vblk0
	        doorbells: ioeventfds
	        len: 4
	      - name: far
	        doorbells: ioeventfds
	        bus: pio
	        addr: 0xff00
	        len: 0x200
	EOF
	invalid "$f" \
		"12: key 'len': missing from region 'half' (doorbells in a range need addr and len)" \
		"16: key 'doorbells': want ioeventfds, got 'eventfds'" \
		"17: key 'queues': missing from region 'legacy' (decoder virtio-legacy needs it)" \
		"21: key 'len': not with device: the device gives it" \
		"29: key 'len': pio 0xff00 len 0x200 runs past the end of the 64 KiB port space"
	# Two ranges that overlap are no overlap yet: the regions found are checked at apply.
	sed -i -e '/name: half/,$d' "$f"
	cat >>"$f" <<-'EOF'
	      - name: also
	        doorbells: ioeventfds
	        addr: 0xfe000000
	        len: 0x4000
	      - name: legacy
	        doorbells: ioeventfds
	        bus: pio
	        decoder: virtio-legacy
	        queues: 2
	      - {name: dev, device: vblk0, doorbells: ioeventfds}
	EOF
	run "$MT" policy validate "$f"
	assert_success
	assert_output "$f: valid, 1 VM, 5 regions"
}

@test "apply --dry-run checks and lists every region of the outcome, and changes nothing" {
	load_small_trap
	impostor proc
	f=$BATS_TEST_TMPDIR/p.yaml
	cat >"$f" <<-EOF
	vms:
	  - vm: {pid: $proc_pid}
	    regions:
	      - {name: a, addr: 0xe0000000, len: 0x1000}
	      - {name: b, bus: pio, addr: 0x600, len: 2, decoder: virtio-legacy, queues: 1}
	EOF
	run "$MT" policy apply --dry-run "$f"
	assert_success
	assert_output "$(printf '%s\n' "add a  vm $proc_pid  mmio 0xe0000000 len 0x1000  raw" \
		"add b  vm $proc_pid  pio 0x600 len 0x2  virtio-legacy")"
	assert_equal "$("$MT" -j region list)" "[]"
	"$MT" policy apply "$f" >/dev/null
	before=$("$MT" -j region list)
	# a kept, b gone, c new.
	sed -i -e '/name: b,/d' "$f"
	echo "      - {name: c, addr: 0xe0002000, len: 8, widths: [4]}" >>"$f"
	run "$MT" -j policy apply --dry-run "$f"
	assert_success
	assert_equal "$(jq -c '.dry_run, [.plan[] | [.change, .name, .vm, .bus, .addr, .len, .widths]]' <<<"$output")" \
		"$(printf '%s\n' true "[[\"remove\",\"b\",$proc_pid,\"pio\",1536,2,[1,2,4,8]],[\"keep\",\"a\",$proc_pid,\"mmio\",3758096384,4096,[1,2,4,8]],[\"add\",\"c\",$proc_pid,\"mmio\",3758104576,8,[4]]]")"
	assert_equal "$("$MT" -j region list)" "$before"
	# A check that fails fails the dry run as it would the apply.
	"$MT" region add --vm "$proc_pid" --mmio 0xf0000000 --len 4 --name c >/dev/null
	before=$("$MT" -j region list)
	run "$MT" policy apply --dry-run "$f"
	assert_failure
	assert_output "mmiotrap: $f:5: key 'name': region 3 is named 'c' already, and is not the policy's"
	run "$MT" policy apply --dry-run --watch "$f"
	assert_failure
	assert_output "mmiotrap: policy apply: --watch or --dry-run, not both"
	assert_equal "$("$MT" -j region list)" "$before"
}

# fake_qmp EVENTS PAD: a QMP server at $BATS_TEST_TMPDIR/qmp that answers
# query-pci with EVENTS events and then an empty list PAD bytes long; its
# pid, the VM a policy names, in $qmp_pid.
fake_qmp() {
	rm -f "$BATS_TEST_TMPDIR/qmp"
	/usr/bin/python3 - "$BATS_TEST_TMPDIR/qmp" "$1" "$2" 3>&- <<-'EOF' &
	import socket, sys
	path, events, pad = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
	s = socket.socket(socket.AF_UNIX)
	s.bind(path)
	s.listen(1)
	while True:
	    c, _ = s.accept()
	    f = c.makefile("rwb")
	    try:
	        f.write(b'{"QMP": {"version": {}, "capabilities": []}}\n')
	        f.flush()
	        f.readline()
	        f.write(b'{"return": {}}\n')
	        f.flush()
	        f.readline()
	        f.write(b'{"event": "RTC_CHANGE", "data": {"offset": 0}}\n' * events)
	        f.write(b'{"return": [' + b' ' * (pad - 14) + b']}\n')
	        f.flush()
	    except OSError:
	        pass
	    c.close()
	EOF
	qmp_pid=$!
	echo "$qmp_pid" >>"$BATS_TEST_TMPDIR/children"
	for i in $(seq 100); do
		[ -S "$BATS_TEST_TMPDIR/qmp" ] && return 0
		sleep 0.05
	done
	fail "the fake QMP server did not start"
}

@test "a VM's QMP answer is bounded: its length and the events before it" {
	load_small_trap
	f=$BATS_TEST_TMPDIR/dev.yaml
	# qmp_device PROBLEM: apply of a region of device nvme0 fails with PROBLEM.
	qmp_device() {
		printf 'vms:\n  - vm: {pid: %s, qmp: %s}\n    regions: [{name: a, device: nvme0}]\n' \
			"$qmp_pid" "$BATS_TEST_TMPDIR/qmp" >"$f"
		run timeout 30 "$MT" policy apply "$f"
		assert_failure 1
		assert_output "mmiotrap: $f:3: key 'device': vm pid $qmp_pid: $1"
		kill "$qmp_pid"
	}
	# At the bounds (4 MiB, the events' bytes counted in): the list is read,
	# and has no such device.
	fake_qmp 256 16
	qmp_device "no device 'nvme0' (by id or PCI address) in query-pci"
	fake_qmp 0 $((4 * 1024 * 1024 - 64))
	qmp_device "no device 'nvme0' (by id or PCI address) in query-pci"
	fake_qmp 257 16
	qmp_device "bad reply: more than 256 events before it"
	fake_qmp 0 $((4 * 1024 * 1024 + 64))
	qmp_device "bad reply: too long or too slow"
	run "$MT" -j region list
	assert_output "[]"
}
