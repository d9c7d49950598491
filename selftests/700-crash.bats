#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
# Crash consistency: each command is killed (SIGKILL) and failed (EIO) at
# its K-th system call of a kind, by strace's fault injection, and the
# instance must then be as before, as after, or in a state the next command
# names and repairs: never loaded with nothing attached, a region listed
# (live, or stale: a crashed VMM's) whose VM entry or address index is
# missing, or index entries of no region.
#
# Which K: the commands make hundreds of bpf() calls, nearly all lookups
# of the maps (region add: ~530, of which 7 write). A SIGKILL before a
# lookup leaves what a SIGKILL before the next write does, so the kills
# are at K = 1 and right after every call that changes something (a map
# write or delete, a pin, a link). A program or map made and not pinned yet
# dies with the process: a kill after it leaves what one before it does,
# so making one is not a point of its own. An EIO fails
# each of those calls (a failed lookup takes the same way out as the
# write after it would). load's EIOs are at its pins and links only: a
# program or map that fails to be made is before anything is pinned.
# The calls are counted by a traced run of the same command from the
# same state first.
#
# A load sweep loads some fifty times: more than selftests/run's
# timeout per test allows, wherever it is.
BATS_TEST_TIMEOUT=$((${BATS_TEST_TIMEOUT:-120} * 3))

setup() {
	load helper
	require_bpf
	command -v strace >/dev/null || require "strace is not installed"
	CALLS=$BATS_TEST_TMPDIR/calls
	# What a sweep runs CMD with: the CLI, or the test VMM; and how it
	# crashes. Where the tests run on the sanitizers' build (make check),
	# a CMD failed with EIO runs on it (its error paths), and everything
	# else on the plain build: a sweep runs each command hundreds of times,
	# and a killed process reports nothing.
	RUN_EIO=("$MT")
	MT=${MMIOTRAP_PLAIN_BUILD:-$BUILD}/mmiotrap
	RUN=("$MT")
	HOW="kill eio"
	sleep 1000 3>&- &
	vm=$!
	echo "$vm" >>"$BATS_TEST_TMPDIR/children"
}

teardown() {
	unload_trap
}

# The calls that change the instance, by strace's names.
WRITES='BPF_MAP_UPDATE_ELEM|BPF_MAP_DELETE_ELEM|BPF_OBJ_PIN|BPF_LINK_CREATE|BPF_RAW_TRACEPOINT_OPEN|^[0-9]+ +(unlink|unlinkat|rmdir|mkdir|rename|renameat2?)\('

PINS='BPF_OBJ_PIN|BPF_LINK_CREATE|BPF_RAW_TRACEPOINT_OPEN'

# points SYSCALLS kill|eio CMD...: the K values of SYSCALLS calls to try for
# CMD, run once traced from the current state; the caller puts the state back.
points() {
	local calls=$1 mode=$2 writes=$WRITES run=("${RUN[@]}")
	shift 2
	[ "$mode" = kill ] || run=("${RUN_EIO[@]}")
	[ "$mode" = kill ] || [ "$1" != load ] || writes=$PINS
	traced -f -qq -e trace="$calls" -o "$CALLS" "${run[@]}" "$@" >/dev/null 2>&1 || true
	grep -v '^[0-9]* *+++\|resumed>' "$CALLS" | grep -nE "$writes" | cut -d: -f1 |
	if [ "$mode" = kill ]; then
		{ echo 0; cat; } | awk '{ print $1 + 1 }'
	else
		cat
	fi
}

# crash SYSCALLS K kill|eio CMD...: CMD with its K-th call of SYSCALLS
# killed or failed; whatever it says.
crash() {
	local calls=$1 k=$2 how=$3 inject
	shift 3
	local run=("${RUN[@]}")
	if [ "$how" = kill ]; then
		inject="$calls:signal=SIGKILL:when=$k"
	else
		inject="$calls:error=EIO:when=$k"
		run=("${RUN_EIO[@]}")
	fi
	traced -f -qq -o /dev/null -e trace="$calls" -e inject="$inject" "${run[@]}" "$@" \
		>/dev/null 2>&1 3>&- || true
}

problem() {
	echo "$*"
	return 1
}

# consistent WHAT: the invariants, or each broken one named with WHAT (the
# command and K), and false. One jq over the region list and both maps: a
# sweep calls this hundreds of times.
consistent() {
	local what=$1 status_out regions vms index out
	status_out=$("$MT" status 2>&1) || {
		case $status_out in
		*"not loaded at"* | *"half an instance is pinned at"*"run 'mmiotrap unload' first"*)
			return 0 ;;
		esac
		problem "$what: status failed with: $status_out"
		return
	}
	! grep -q '^attach mode: none' <<<"$status_out" ||
		problem "$what: loaded with nothing attached: $status_out" || return
	regions=$("$MT" -j region list) || problem "$what: region list failed: $regions" || return
	vms=$(bpftool -j map dump pinned "$MMIOTRAP_PIN_ROOT/maps/vms")
	index=$(bpftool -j map dump pinned "$MMIOTRAP_PIN_ROOT/maps/addr_index")
	# Nothing listed, nothing indexed: consistent, without jq's start (most
	# of a second on an emulated CPU).
	[ "$regions$index" != "[][]" ] || return 0
	out=$(jq -rn --arg what "$what" --argjson r "$regions" --argjson v "$vms" --argjson x "$index" '
		[$v[].formatted.key] as $vms | [$x[].formatted.value] as $ids | [$r[].id] as $listed |
		($r[] | . as $g |
			if ($vms | any(. == $g.vm) | not) then
				"\($what): region \($g.id) is listed but vm \($g.vm) has no entry"
			elif ($ids | any(. == $g.id) | not) then
				"\($what): region \($g.id) is listed but has no address index entry"
			else empty end),
		($ids | unique[] | . as $id | select($listed | any(. == $id) | not) |
			"\($what): the address index points to region \($id), which is not listed")')
	[ -z "$out" ] || problem "$out"
}

# sweep SYSCALLS BEFORE AFTER CMD...: for each K, both ways: BEFORE puts the
# state before CMD, CMD crashes, the state must be consistent, and AFTER
# (the next command a user would run) must work.
sweep() {
	local calls=$1 before=$2 after=$3 how k what out problems=
	shift 3
	for how in $HOW; do
		$before
		for k in $(points "$calls" "$how" "$@"); do
			$before
			crash "$calls" "$k" "$how" "$@"
			what="$how at $calls call $k"
			out=$(consistent "$what") || problems+=$out$'\n'
			out=$($after 2>&1) || problems+="$what: the next command failed: $out"$'\n'
		done
	done
	problems=$(grep . <<<"$problems") || return 0
	fail "$* left states neither before, after nor repaired:"$'\n'"$problems"
}

fresh() {
	"$MT" unload >/dev/null 2>&1 || true
	"$MT" load --attach raw_tp >/dev/null || fail "cannot load"
}

# The next command after a crashed load: unload if half an instance, then load.
reload() {
	"$MT" status >/dev/null 2>&1 || "$MT" unload >/dev/null 2>&1 || true
	"$MT" load --attach raw_tp >/dev/null 2>&1 || return 1
	[ "$("$MT" -j status | jq -r .attach_mode)" = raw_tp ]
}

unloaded() {
	"$MT" unload >/dev/null 2>&1 || true
}

loaded_empty() {
	local regions
	"$MT" status >/dev/null 2>&1 || fresh
	regions=$("$MT" -j region list)
	[ "$regions" != "[]" ] || return 0
	for r in $(jq -r '.[].id' <<<"$regions"); do
		"$MT" region del "$r" >/dev/null || return 1
	done
}

with_region() {
	loaded_empty
	"$MT" region add --vm "$vm" --mmio 0xe0000000 --len 0x1000 --name db >/dev/null
}

add_again() {
	local out
	out=$("$MT" region add --vm "$vm" --mmio 0xe0000000 --len 0x1000 --name db 2>&1) ||
		[[ $out == *"exists already"* ]] || { echo "$out"; return 1; }
	consistent "the add after"
	[ "$("$MT" -j region list | jq 'length')" = 1 ]
}

del_again() {
	local out
	out=$("$MT" region del db 2>&1) || [[ $out == *"no region 'db'"* ]] ||
		{ echo "$out"; return 1; }
	consistent "the del after"
	[ "$("$MT" -j region list | jq 'length')" = 0 ]
}

write_policy() {
	cat >"$BATS_TEST_TMPDIR/p.yaml" <<-EOF
	vms:
	  - vm: {pid: $vm}
	    regions:
	      - {name: a, addr: 0xe0000000, len: 0x1000}
	      - {name: c, addr: 0xe0002000, len: 8, decoder: virtio-pci, notify_base: 0xe0002000, queues: 2}
	EOF
}

apply_again() {
	"$MT" policy apply "$BATS_TEST_TMPDIR/p.yaml" >/dev/null || return 1
	consistent "the apply after"
	[ "$("$MT" -j region list | jq 'length')" = 2 ]
}

@test "a load killed or failed at any bpf() call leaves nothing, or what unload repairs" {
	sweep bpf unloaded reload load --attach raw_tp
}

@test "an unload killed or failed at any unlink leaves what the next unload finishes" {
	sweep unlink,unlinkat,rmdir fresh unloaded unload
}

@test "a region add killed or failed at any bpf() call is all or nothing, or repaired" {
	sweep bpf loaded_empty add_again region add --vm "$vm" --mmio 0xe0000000 --len 0x1000 --name db
}

@test "a region del killed or failed at any bpf() call is all or nothing, or repaired" {
	sweep bpf with_region del_again region del db
}

@test "a policy apply killed or failed at any bpf() call is all or nothing, or repaired" {
	write_policy
	sweep bpf loaded_empty apply_again policy apply "$BATS_TEST_TMPDIR/p.yaml"
}

# The next VMM after a crashed one: its fast region takes every write, none exits.
fast_again() {
	local out
	out=$("$VMM" -j --pin-root "$MMIOTRAP_PIN_ROOT" $FAST 3>&-) || { echo "$out"; return 1; }
	consistent "the VMM after" || return 1
	[ "$(jq -c '[.exits_mmio, .events, .fast, .lost]' <<<"$out")" = "[0,10,10,0]" ] ||
		{ echo "the VMM after: $out"; return 1; }
}

# bats test_tags=kvm
@test "a VMM's fast_add killed or failed at any bpf() call is all or nothing" {
	require_kvm
	FAST="--fast mmio:0xd0000000:4 mmio:0xd0000000:4:10:0:1"
	RUN=("$VMM" -j --pin-root "$MMIOTRAP_PIN_ROOT")
	RUN_EIO=("${RUN[@]}")
	# shellcheck disable=SC2086 # FAST is words
	sweep bpf loaded_empty fast_again $FAST
}
