#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
# Discovery: 'mmiotrap vm list' and 'vm show' read every KVM VM's ioeventfds
# and irqfds from the kernel, with no instance loaded and nothing asked of
# the VMM. The test VMM registers its own and says which (its hold line),
# so what mmiotrap finds is checked against what was registered.
# bats file_tags=kvm

DOORBELLS=(--doorbell mmio:0xd0000000:4 --doorbell pio:0x600:2:0x3
	--doorbell mmio:0xd0001000:0 --doorbell mmio:0xd0002000:8:0xfffffffff)

setup() {
	load helper
}

teardown() {
	kill_children
	unload_all
}

# hold ARGS...: a test VMM that registered what ARGS say and waits; its hold
# line (pid, ioeventfds, irqfds) in $held, its pid in $vm_pid. The script
# ends with a port write: under an in-kernel irqchip its hlt never exits.
hold() {
	require_kvm
	fifo=$BATS_TEST_TMPDIR/hold
	mkfifo "$fifo"
	"$VMM" -j --hold "$fifo" "$@" pio:0x510:1:1 >"$BATS_TEST_TMPDIR/vm.out" 2>&1 3>&- &
	vm_pid=$!
	echo $! >>"$BATS_TEST_TMPDIR/children"
	watchdog $!
	held=$(timeout "$VMM_TIMEOUT" cat "$fifo") ||
		fail "the test VMM did not hold: $(cat "$BATS_TEST_TMPDIR/vm.out")"
}

# Let it run to its end: it must exit cleanly, its report saying the same.
release() {
	local status=0
	echo go >"$fifo"
	wait "$vm_pid" || status=$?
	[ "$status" = 0 ] || fail "test VMM exited $status: $(cat "$BATS_TEST_TMPDIR/vm.out")"
	assert_equal "$(jq -c '[.ioeventfds, .irqfds]' "$BATS_TEST_TMPDIR/vm.out")" \
		"$(jq -c '[.ioeventfds, .irqfds]' <<<"$held")"
}

# What the VMM registered and what vm show found, each sorted the same way.
registered_ioeventfds() {
	jq -c '[.ioeventfds[] | {bus, addr, len, datamatch, fd}] | sort' <<<"$held"
}

shown_ioeventfds() {
	jq -c '[.[0].ioeventfds[] | {bus, addr, len, datamatch, fd: .eventfd.fd}] | sort' <<<"$1"
}

@test "vm list shows the test VMM, its vCPU and its ioeventfds, with no instance loaded" {
	hold "${DOORBELLS[@]}"
	run "$MT" -j vm list
	assert_success
	assert_equal "$(jq -c --argjson pid "$vm_pid" '[.[] | select(.pid == $pid) |
		[.vcpus, .ioeventfds, .irqfds]]' <<<"$output")" '[[1,4,0]]'
	run "$MT" vm list
	assert_success
	assert_line --regexp "^$vm_pid: name -  vcpus 1  ioeventfds 4  irqfds 0\$"
	release
}

@test "vm show lists exactly the ioeventfds the VMM registered" {
	hold "${DOORBELLS[@]}"
	run "$MT" -j vm show "$vm_pid"
	assert_success
	assert_equal "$(jq length <<<"$output")" 1
	assert_equal "$(shown_ioeventfds "$output")" "$(registered_ioeventfds)"
	# KVM puts a length-0 MMIO ioeventfd on its fast MMIO bus too: one entry, flagged.
	assert_equal "$(jq -c '[.[0].ioeventfds[] | select(.len == 0) | .fast_mmio_bus]' <<<"$output")" \
		'[true]'
	assert_equal "$(jq -c '[.[0].ioeventfds[] | select(.len > 0) | .trap_sees] | unique' <<<"$output")" \
		'["value"]'
	# What the trap sees of the length-0 one is this host's to say.
	fast=$(doctor_json | jq -r '.checks[] | select(.name == "fast mmio bus") | .detail')
	want=$([[ $fast == used:* ]] && echo address || echo value)
	assert_equal "$(jq -r '.[0].ioeventfds[] | select(.len == 0) | .trap_sees' <<<"$output")" "$want"
	assert_equal "$(jq -c '[.[0].ioeventfds[].eventfd.holders[]]' <<<"$output")" '[]'
	run "$MT" vm show "$vm_pid"
	assert_success
	assert_line --index 0 --regexp "^$vm_pid: name -  vcpus 1  ioeventfds 4  irqfds 0  vm fd [0-9]+\$"
	assert_line --regexp "ioeventfd pio 0x600 len 2  datamatch 0x3  eventfd [0-9]+ \\(id [0-9]+\\)  trap sees value\$"
	assert_line --regexp "ioeventfd mmio 0xd0001000 len 0  any value  eventfd [0-9]+ \\(id [0-9]+\\)  fast mmio bus  trap sees "
	release
}

@test "vm show lists the VMM's irqfds, with their resamplefds" {
	hold --doorbell mmio:0xd0000000:4 --irqfd 5 --irqfd 9:resample
	run "$MT" -j vm show "$vm_pid"
	assert_success
	assert_equal "$(jq -c '[.[0].irqfds[] | {gsi, fd: .eventfd.fd, resamplefd: .resamplefd.fd}] | sort' <<<"$output")" \
		"$(jq -c '[.irqfds[] | {gsi, fd, resamplefd}] | sort' <<<"$held")"
	assert_equal "$(shown_ioeventfds "$output")" "$(registered_ioeventfds)"
	run "$MT" vm show "$vm_pid"
	assert_line --regexp "irqfd gsi 9  eventfd [0-9]+ \\(id [0-9]+\\)  resamplefd [0-9]+ \\(id [0-9]+\\)\$"
	release
}

# holder NAME FD: a process that takes the VMM's eventfd FD with
# pidfd_getfd(2), as a device backend is handed one, and keeps it; its pid
# in $NAME_pid, its fd for it in $NAME_fd.
holder() {
	local out=$BATS_TEST_TMPDIR/$1.fd i
	python3 -c '
import ctypes, os, sys, signal
libc = ctypes.CDLL(None, use_errno=True)
pidfd = os.pidfd_open(int(sys.argv[1]))
fd = libc.syscall(438, pidfd, int(sys.argv[2]), 0)  # pidfd_getfd
if fd < 0:
    sys.exit("pidfd_getfd: " + os.strerror(ctypes.get_errno()))
with open(sys.argv[3] + ".tmp", "w") as f:
    print(fd, file=f)
os.rename(sys.argv[3] + ".tmp", sys.argv[3])
signal.pause()' "$vm_pid" "$2" "$out" 3>&- &
	printf -v "${1}_pid" %s $!
	echo $! >>"$BATS_TEST_TMPDIR/children"
	for i in $(seq 200); do
		[ ! -e "$out" ] || break
		sleep 0.05
	done
	[ -e "$out" ] || fail "no process took fd $2 of the test VMM"
	printf -v "${1}_fd" %s "$(cat "$out")"
}

@test "a second process that holds the same eventfd shows as its holder" {
	hold "${DOORBELLS[@]}" --irqfd 5
	fd=$(jq '.ioeventfds[1].fd' <<<"$held")
	holder io "$fd"
	holder irq "$(jq '.irqfds[0].fd' <<<"$held")"
	run "$MT" -j vm show "$vm_pid"
	assert_success
	assert_equal "$(jq -c --argjson fd "$fd" '[.[0].ioeventfds[] | select(.eventfd.fd == $fd) |
		.eventfd.holders]' <<<"$output")" "[[{\"pid\":$io_pid,\"fd\":$io_fd}]]"
	assert_equal "$(jq -c '.[0].irqfds[0].eventfd.holders' <<<"$output")" \
		"[{\"pid\":$irq_pid,\"fd\":$irq_fd}]"
	# The others have none.
	assert_equal "$(jq -c '[.[0].ioeventfds[].eventfd.holders | length] | add' <<<"$output")" 1
	run "$MT" vm show "$vm_pid"
	assert_line --regexp "  holders $io_pid:$io_fd  trap sees value\$"
	# Holding a VMM's eventfd makes no process a VMM.
	run "$MT" -j vm list
	assert_equal "$(jq --argjson h "$io_pid" '[.[] | select(.pid == $h)] | length' <<<"$output")" 0
	kill "$io_pid" "$irq_pid"
	release
}

@test "vm show finds a VMM by its -name" {
	hold -name disc-test --doorbell mmio:0xd0000000:4
	run "$MT" -j vm show disc-test
	assert_success
	assert_equal "$(jq -c '[.[0].pid, .[0].name]' <<<"$output")" "[$vm_pid,\"disc-test\"]"
	run "$MT" vm list
	assert_line --regexp "^$vm_pid: name disc-test  vcpus 1  ioeventfds 1  irqfds 0\$"
	release
}

# bad ARGS... WANT: one line, in either output mode, and a failure.
bad() {
	local want=${*: -1}
	run "$MT" "${@:1:$#-1}"
	assert_failure
	assert_equal "${#lines[@]}" 1
	assert_output "mmiotrap: $want"
	run "$MT" -j "${@:1:$#-1}"
	assert_failure
	assert_equal "${#lines[@]}" 1
	assert_equal "$(jq -r .error <<<"$output")" "$want"
}

@test "bad arguments give one line and fail" {
	require_bpf
	gone=$(sh -c 'echo $$')
	while kill -0 "$gone" 2>/dev/null; do gone=$((gone + 1)); done
	bad vm show "$gone" "no process '$gone'"
	bad vm show $$ "process '$$' runs no KVM VM"
	bad vm show 12x "no VM named '12x'"
	bad vm show 0 "bad pid '0'"
	bad vm show 99999999999 "bad pid '99999999999'"
	bad vm show "which VM? give its pid or name"
	bad vm show 1 2 "unexpected argument '2'"
	bad vm list x "unexpected argument 'x'"
	bad vm frob "unknown vm command 'frob' (try 'mmiotrap vm help')"
}

@test "vm list and vm show are valid JSON, compact and pretty" {
	hold "${DOORBELLS[@]}" --irqfd 4:resample
	for opt in -j -p; do
		run "$MT" $opt vm list
		assert_success
		jq -e 'type == "array" and all(.[]; (.pid | type) == "number")' <<<"$output" >/dev/null
		run "$MT" $opt vm show "$vm_pid"
		assert_success
		jq -e '.[0] | (.ioeventfds | length) == 4 and (.irqfds | length) == 1' <<<"$output" >/dev/null
	done
	# A datamatch above 2^32 stays a number, exact.
	run "$MT" -j vm show "$vm_pid"
	assert_equal "$(jq -c '[.[0].ioeventfds[] | select(.len == 8) | .datamatch]' <<<"$output")" '[68719476735]'
	release
}

@test "vm list counts each VM's regions where an instance is loaded, and only there" {
	hold "${DOORBELLS[@]}"
	run "$MT" -j vm list
	assert_equal "$(jq --argjson pid "$vm_pid" '.[] | select(.pid == $pid) | .regions' <<<"$output")" null
	load_trap
	"$MT" region add --vm "$vm_pid" --mmio 0xd0000000 --len 4 --name a >/dev/null
	"$MT" region add --vm "$vm_pid" --pio 0x600 --len 2 --name b >/dev/null
	# Another process's region is not this VM's.
	"$MT" region add --vm 1 --mmio 0xd0000000 --len 4 --name other >/dev/null
	run "$MT" -j vm list
	assert_success
	assert_equal "$(jq --argjson pid "$vm_pid" '.[] | select(.pid == $pid) | .regions' <<<"$output")" 2
	run "$MT" vm list
	assert_line --regexp "^$vm_pid: name -  vcpus 1  ioeventfds 4  irqfds 0  regions 2\$"
	release
}

# The test VMM's doorbells for the policy tests: two 4-byte ones side by
# side, a length-0 one, one further on, and a port. Each but the length-0
# one has a datamatch, so that the script's writes, of other values, exit
# to the VMM, which checks them, while the trap sees them.
BELLS=(--doorbell mmio:0xd0000000:4:0x1 --doorbell mmio:0xd0000004:4:0x2
	--doorbell mmio:0xd0001000:0 --doorbell mmio:0xd0003000:8:0x5
	--doorbell pio:0x600:2:0x3)
BELL_WRITES=(mmio:0xd0000000:4:2:0x10 mmio:0xd0000004:4:1:0x20 mmio:0xd0003000:4:1:0x40
	pio:0x600:2:1:0x30)

# bells_policy FILE NAME: the VM named NAME's ioeventfds on the MMIO bus in
# 0xd0000000 + 8 KiB, and on the PIO bus; no address of a doorbell in it.
bells_policy() {
	cat >"$1" <<-YAML
	vms:
	  - vm: {name: $2}
	    regions:
	      - name: bells
	        doorbells: ioeventfds
	        bus: mmio
	        addr: 0xd0000000
	        len: 0x2000
	        widths: [4]
	      - name: ports
	        doorbells: ioeventfds
	        bus: pio
	YAML
}

# The policy's regions: [name, bus, addr, len, widths].
policy_regions() {
	"$MT" -j region list | jq -c '[.[] | [.name, .bus, .addr, .len, .widths]]'
}

@test "a policy region of doorbells: ioeventfds is one region a run of the VM's ioeventfds" {
	local name=bells-$$ f=$BATS_TEST_TMPDIR/bells.yaml
	load_trap
	hold -name "$name" "${BELLS[@]}" "${BELL_WRITES[@]}"
	bells_policy "$f" "$name"
	# Side by side, merged; length 0 taken as 4 bytes; 0xd0003000 out of the range.
	run "$MT" policy apply --dry-run "$f"
	assert_success
	assert_output "$(printf '%s\n' "add bells.0  vm $vm_pid  mmio 0xd0000000 len 0x8  raw" \
		"add bells.1  vm $vm_pid  mmio 0xd0001000 len 0x4  raw" \
		"add ports.0  vm $vm_pid  pio 0x600 len 0x2  raw")"
	assert_equal "$("$MT" -j region list)" "[]"
	run "$MT" policy apply "$f"
	assert_success
	assert_output "$(printf 'added %s\n' bells.0 bells.1 ports.0)"
	assert_equal "$(policy_regions)" \
		"[[\"bells.0\",\"mmio\",$((0xd0000000)),8,[4]],[\"bells.1\",\"mmio\",$((0xd0001000)),4,[4]],[\"ports.0\",\"pio\",$((0x600)),2,[1,2,4,8]]]"
	run "$MT" policy apply "$f"
	assert_output "nothing to change"
	# Every ioeventfd, either bus: the expansion follows the file.
	cat >"$f" <<-YAML
	vms:
	  - vm: {name: $name}
	    regions:
	      - {name: all, doorbells: ioeventfds}
	YAML
	run "$MT" -j policy apply "$f"
	assert_success
	assert_output '{"added":["all.0","all.1","all.2","all.3"],"removed":["bells.0","bells.1","ports.0"],"changed":[]}'
	assert_equal "$(policy_regions)" \
		"[[\"all.0\",\"mmio\",$((0xd0000000)),8,[1,2,4,8]],[\"all.1\",\"mmio\",$((0xd0001000)),4,[1,2,4,8]],[\"all.2\",\"mmio\",$((0xd0003000)),8,[1,2,4,8]],[\"all.3\",\"pio\",$((0x600)),2,[1,2,4,8]]]"
	# The writes that miss the datamatch exit, and the trap sees each in its region.
	ids=$("$MT" -j region list | jq -c 'map({(.name): .id}) | add')
	events_start "$BATS_TEST_TMPDIR/ev" --count 5 --duration 120
	release
	events_wait
	assert_equal "$(jq -s -c --argjson id "$ids" \
		'map([.bus, .addr, .width, .value, (.region as $r | $id | to_entries[] | select(.value == $r) | .key)])' \
		"$BATS_TEST_TMPDIR/ev")" \
		"[[\"mmio\",$((0xd0000000)),4,16,\"all.0\"],[\"mmio\",$((0xd0000000)),4,17,\"all.0\"],[\"mmio\",$((0xd0000004)),4,32,\"all.0\"],[\"mmio\",$((0xd0003000)),4,64,\"all.2\"],[\"pio\",$((0x600)),2,48,\"all.3\"]]"
}

@test "a policy's doorbells not found is one error naming the VM, and nothing changes" {
	local name=nobells-$$ f=$BATS_TEST_TMPDIR/bells.yaml
	load_trap
	hold -name "$name" --doorbell mmio:0xd0003000:8:0x5
	bells_policy "$f" "$name"
	run "$MT" policy apply "$f"
	assert_failure
	assert_output "mmiotrap: $f:4: key 'doorbells': vm '$name' (pid $vm_pid): no ioeventfd in mmio 0xd0000000 len 0x2000 (yet)"
	assert_equal "$("$MT" -j region list)" "[]"
	# A region found may not take the name of another of the file.
	cat >"$f" <<-YAML
	vms:
	  - vm: {name: $name}
	    regions:
	      - {name: x, doorbells: ioeventfds}
	      - {name: x.0, bus: pio, addr: 0x600, len: 2}
	YAML
	run "$MT" policy apply "$f"
	assert_failure
	assert_output "mmiotrap: $f:5: key 'name': 'x.0' names two regions: one of 'x' (line 4) and one of 'x.0' (line 5)"
	assert_equal "$("$MT" -j region list)" "[]"
	release
}

@test "apply --watch finds a VM's doorbells again when it restarts with others" {
	local name=watchbells-$$ f=$BATS_TEST_TMPDIR/bells.yaml log=$BATS_TEST_TMPDIR/watch.log
	load_trap
	bells_policy "$f" "$name"
	"$MT" policy apply --watch "$f" >"$log" 2>&1 3>&- &
	watch_pid=$!
	echo "$watch_pid" >>"$BATS_TEST_TMPDIR/children"
	wait_log "$log" "left_out bells: no KVM VMM has -name '$name'"
	hold -name "$name" "${BELLS[@]}"
	wait_log "$log" "added ports.0"
	assert_equal "$(policy_regions)" \
		"[[\"bells.0\",\"mmio\",$((0xd0000000)),8,[4]],[\"bells.1\",\"mmio\",$((0xd0001000)),4,[4]],[\"ports.0\",\"pio\",$((0x600)),2,[1,2,4,8]]]"
	release
	wait_log "$log" "removed ports.0"
	assert_equal "$("$MT" -j region list)" "[]"
	# The same -name, other doorbells: the regions follow them.
	rm -f "$fifo"
	hold -name "$name" --doorbell mmio:0xd0001800:4:0x7 --doorbell pio:0x700:1:0x1
	wait_log "$log" "added ports.0" 2
	assert_equal "$(policy_regions)" \
		"[[\"bells.0\",\"mmio\",$((0xd0001800)),4,[4]],[\"ports.0\",\"pio\",$((0x700)),1,[1,2,4,8]]]"
	kill -TERM "$watch_pid"
	wait "$watch_pid"
	release
}
