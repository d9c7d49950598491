# SPDX-License-Identifier: GPL-2.0
# Loaded by every suite's setup: the binaries, a pin root of the suite's
# own, a test VMM that waits for a go, and the kernel checks.

# load_lib NAME: bats_load_library NAME, but its files sourced from here:
# their load.bash runs dirname once a file, a tenth of a second each on an
# emulated CPU (tools/kvm-vm), where a test's setup is then a second longer.
load_lib() {
	local dir f
	for dir in ${BATS_LIB_PATH//:/ } /usr/lib/bats; do
		[ -e "$dir/$1/load.bash" ] || continue
		for f in "$dir/$1"/src/*.bash; do
			source "$f"
		done
		return
	done
	bats_load_library "$1"
}

load_lib bats-support
load_lib bats-assert

BUILD=${MMIOTRAP_BUILD:-$BATS_TEST_DIRNAME/../build}
MT=$BUILD/mmiotrap
VMM=$BUILD/mmiotrap-testvmm
INJ=$BUILD/mmiotrap-inject
SUITE=${BATS_TEST_FILENAME##*/}
SUITE=${SUITE%.bats}
# Every suite pins under its own root, and the environment makes it the default.
# MMIOTRAP_TEST_PIN_ROOT moves them all, for a second run beside this one.
export MMIOTRAP_PIN_ROOT=${MMIOTRAP_TEST_PIN_ROOT:-/sys/fs/bpf/mmiotrap-test}-$SUITE

# A missing kernel feature skips, but not in CI, where it fails.
require() {
	if [ "${MMIOTRAP_REQUIRE_KERNEL:-0}" = 1 ]; then
		fail "MMIOTRAP_REQUIRE_KERNEL=1 and $*"
	fi
	skip "$*"
}

# doctor_json: what 'mmiotrap -j doctor' says of this machine, asked once a
# run (selftests/run's kvm-vm: once a VM): doctor loads the trap in each
# attach mode, seconds on an emulated CPU.
doctor_json() {
	local cache=${MMIOTRAP_TEST_CACHE:-${BATS_RUN_TMPDIR:-}}
	if [ -n "$cache" ] && [ -s "$cache/doctor.json" ]; then
		cat "$cache/doctor.json"
	elif [ -n "$cache" ]; then
		"$MT" -j doctor 2>&1 | tee "$cache/doctor.json.$$"
		mv "$cache/doctor.json.$$" "$cache/doctor.json"
	else
		"$MT" -j doctor 2>&1
	fi
}

# missing bpf|kvm: why this machine cannot run tests that need BPF (root,
# BTF, the tracepoints, a program that loads), or that also start a VM;
# nothing if it can. 'selftests/run' counts skips by these reasons. Once a
# run too: jq takes most of a second to start on an emulated CPU.
missing() {
	local why cache=${MMIOTRAP_TEST_CACHE:-${BATS_RUN_TMPDIR:-}}
	[ "$EUID" = 0 ] || { echo "these tests need root"; return; }
	if [ -n "$cache" ] && [ -e "$cache/missing-$1" ]; then
		why=$(<"$cache/missing-$1")
		[ -z "$why" ] || echo "$why"
		return
	fi
	why=$(doctor_json | jq -r --arg need "$1" '[.checks[] | select(.ok | not)] as $bad |
		if $need == "kvm" and any($bad[]; .name == "kvm") then "no usable /dev/kvm"
		else [$bad[] | select(.name != "kvm") | "\(.name): \(.detail)"] | join("; ") |
			if . == "" then empty else "the kernel lacks what mmiotrap needs: " + . end
		end' 2>/dev/null) || why="mmiotrap -j doctor failed: $(doctor_json)"
	[ -z "$cache" ] || printf '%s' "$why" >"$cache/missing-$1"
	[ -z "$why" ] || echo "$why"
}

require_bpf() {
	local why
	why=$(missing bpf)
	[ -z "$why" ] || require "$why"
}

# A test that starts a VM carries the bats tag kvm (file_tags or
# test_tags): where the host has no /dev/kvm, selftests/run runs it in
# tools/kvm-vm, and here it would fail in CI.
require_kvm() {
	local why
	why=$(missing kvm)
	[ -z "$why" ] || require "$why"
}

# bats 1.8 fails a setup_file that skips: setup_file notes what is
# missing (file_missing bpf|kvm, false if anything is) and each test's
# setup skips for it with file_required.
file_missing() {
	MMIOTRAP_FILE_MISSING=$(missing "$1")
	export MMIOTRAP_FILE_MISSING
	[ -z "$MMIOTRAP_FILE_MISSING" ]
}

file_required() {
	[ -z "${MMIOTRAP_FILE_MISSING-}" ] || require "$MMIOTRAP_FILE_MISSING"
}

# Pins and attached programs of this suite's root must not outlive it.
unload_all() {
	"$MT" unload >/dev/null 2>&1 || true
	[ ! -e "$MMIOTRAP_PIN_ROOT" ] || fail "pins left at $MMIOTRAP_PIN_ROOT: $(ls -R "$MMIOTRAP_PIN_ROOT")"
}

# Seconds any one test VMM may run: a hung one fails its test, not the suite.
VMM_TIMEOUT=${MMIOTRAP_VMM_TIMEOUT:-60}

# watchdog PID: kill PID if it still runs after VMM_TIMEOUT seconds. Not
# timeout(1) around the VMM: its pid is the VM's, which regions name.
watchdog() {
	{ timeout "$VMM_TIMEOUT" tail --pid="$1" -f /dev/null || kill -KILL "$1"; } \
		>/dev/null 2>&1 3>&- &
}

# vmm_start NAME STEP...: a test VMM that has made its VM and waits for
# vmm_go NAME; its pid is in $NAME_pid and its output in $BATS_TEST_TMPDIR/NAME.out.
vmm_start() {
	local name=$1
	shift
	rm -f "$BATS_TEST_TMPDIR/$name.go"
	mkfifo "$BATS_TEST_TMPDIR/$name.go"
	"$VMM" -j --go "$BATS_TEST_TMPDIR/$name.go" "$@" >"$BATS_TEST_TMPDIR/$name.out" \
		2>"$BATS_TEST_TMPDIR/$name.err" 3>&- &
	printf -v "${name}_pid" %s $!
	echo $! >>"$BATS_TEST_TMPDIR/children"
	watchdog $!
}

# vmm_go NAME: let it run, wait for it, and check it saw every write exit.
vmm_go() {
	vmm_release "$1"
	vmm_wait "$1"
}

# A VMM that died before it opened its FIFO must not leave us blocked on it.
vmm_release() {
	timeout "$VMM_TIMEOUT" sh -c 'echo go >"$1"' sh "$BATS_TEST_TMPDIR/$1.go" ||
		fail "test VMM $1 never took its go: $(cat "$BATS_TEST_TMPDIR/$1.out" "$BATS_TEST_TMPDIR/$1.err")"
}

vmm_wait() {
	local name=$1 pid_var=${1}_pid status=0
	wait "${!pid_var}" || status=$?
	[ "$status" = 0 ] ||
		fail "test VMM $name exited $status: $(cat "$BATS_TEST_TMPDIR/$name.out" "$BATS_TEST_TMPDIR/$name.err")"
}

vmm_out() {
	cat "$BATS_TEST_TMPDIR/$1.out"
}

# inject_start NAME STEP...: an injector waiting for inject_go NAME; its
# pid in $NAME_pid.
inject_start() {
	local name=$1
	shift
	mkfifo "$BATS_TEST_TMPDIR/$name.go"
	"$INJ" -j --go "$BATS_TEST_TMPDIR/$name.go" "$@" >"$BATS_TEST_TMPDIR/$name.out" \
		2>"$BATS_TEST_TMPDIR/$name.err" 3>&- &
	printf -v "${name}_pid" %s $!
	echo $! >>"$BATS_TEST_TMPDIR/children"
}

# inject_go NAME: release it and wait; its tid is in $NAME_tid.
inject_go() {
	local name=$1 pid_var=${1}_pid status=0
	echo go >"$BATS_TEST_TMPDIR/$name.go"
	wait "${!pid_var}" || status=$?
	[ "$status" = 0 ] || fail "mmiotrap-inject $name exited $status: $(cat "$BATS_TEST_TMPDIR/$name.err")"
	printf -v "${name}_tid" %s "$(jq .vcpu_tid "$BATS_TEST_TMPDIR/$name.out")"
}

# The live subscribers of the suite's instance.
subscribers() {
	"$MT" -j status | jq '.subscribers | length'
}

# events_start [--text] FILE ARGS...: an events reader (JSON unless --text)
# in the background, back once it has subscribed: a subscriber gets the
# records made while it is there.
events_start() {
	local json=-j file before i
	[ "$1" != --text ] || { json=; shift; }
	file=$1
	shift
	before=$(subscribers)
	"$MT" $json events "$@" >"$file" 3>&- &
	events_pid=$!
	echo $! >>"$BATS_TEST_TMPDIR/children"
	for i in $(seq 200); do
		[ "$(subscribers)" -gt "$before" ] && return 0
		kill -0 "$events_pid" 2>/dev/null || break
		sleep 0.05
	done
	fail "mmiotrap events $* did not subscribe"
}

# A test that failed half-way leaves no VMM waiting for its go.
kill_children() {
	[ -f "$BATS_TEST_TMPDIR/children" ] || return 0
	xargs kill 2>/dev/null <"$BATS_TEST_TMPDIR/children" || true
}

events_wait() {
	local status=0
	wait "$events_pid" || status=$?
	[ "$status" = 0 ] || fail "mmiotrap events exited $status"
}

monotonic_ns() {
	python3 -S -c 'import time; print(time.monotonic_ns())'
}

# no_foreign_vm PID...: exact counts of writes in no region need that no
# other KVM VM runs: the trap counts every process's stray writes.
no_foreign_vm() {
	local fd pid foreign=
	while read -r fd; do
		pid=${fd#/proc/}
		pid=${pid%%/*}
		printf '%s\n' "$@" | grep -qx "$pid" || foreign=$fd
	done < <(find /proc/[0-9]*/fd -maxdepth 1 -lname anon_inode:kvm-vm 2>/dev/null)
	[ -z "$foreign" ] || require "a KVM VM runs ($foreign): its writes move the unmatched count"
}

# check_events FILE ARGS...: every event in FILE is one the script made, in order.
check_events() {
	python3 -S "$BATS_TEST_DIRNAME/check_events.py" "$@"
}

# A fresh trap for each test: no region, counter or record of another test.
# load_trap for a test that starts a VM, load_bpf_trap for one that does not;
# both pass their arguments to 'mmiotrap load'.
load_trap() {
	require_kvm
	"$MT" load "$@" >/dev/null
}

load_bpf_trap() {
	require_bpf
	"$MT" load "$@" >/dev/null
}

unload_trap() {
	kill_children
	unload_all
}

# capture BUS ADDR WIDTH COUNT START STEP: a VMM makes COUNT writes to a
# fresh region; every one must be an event, in order, seq 0..COUNT-1, from
# the VMM's vCPU thread (its main thread), stamped inside the run.
capture() {
	local bus=$1 addr=$2 width=$3 count=$4 start=$5 step=$6 exits t0 t1
	vmm_start vm "$bus:$addr:$width:$count:$start:$step"
	"$MT" region add --vm "$vm_pid" --"$bus" "$addr" --len "$width" --name db >/dev/null
	events_start "$BATS_TEST_TMPDIR/ev" --count "$count" --duration 60
	t0=$(monotonic_ns)
	vmm_go vm
	t1=$(monotonic_ns)
	events_wait
	# The trap only watches: the VMM still took every exit itself.
	exits=$(jq -c "[.exits_$bus, .writes, .mismatches]" "$BATS_TEST_TMPDIR/vm.out")
	assert_equal "$exits" "[$count,$count,0]"
	check_events "$BATS_TEST_TMPDIR/ev" --vm "$vm_pid" --region "$("$MT" -j region list | jq '.[0].id')" \
		--bus "$bus" --addr "$addr" --width "$width" --count "$count" --start "$start" --step "$step" \
		--tid "$vm_pid" --after "$t0" --before "$t1"
	run "$MT" -j stats
	assert_equal "$(jq -c '.regions[0] | [.matched, .emitted, .dropped, .skipped]' <<<"$output")" \
		"[$count,$count,0,0]"
}

# emulate ARGS...: the test VMM with its example emulator on this suite's
# trap; its JSON report lands in $report.
emulate() {
	run timeout -s KILL "$VMM_TIMEOUT" "$VMM" -j --pin-root "$MMIOTRAP_PIN_ROOT" "$@" 3>&-
	report=$output
	[ "$status" != 137 ] || fail "test VMM killed after ${VMM_TIMEOUT}s: $output"
	[ "$status" = 0 ] || fail "test VMM exited $status: $output"
}

# report_is JQ WANT: one field (or a jq array of fields) of the report.
report_is() {
	assert_equal "$(jq -c "$1" <<<"$report")" "$2"
}

# traced -f STRACE-ARGS...: strace, with LeakSanitizer off for what
# it runs (it cannot work under ptrace); AddressSanitizer and UBSan stay
# on. A seccomp filter stops the tracee at the traced calls only, not at
# every system call: a VMM makes thousands.
traced() {
	ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 strace --seccomp-bpf "$@"
}

# wait_log FILE LINE [COUNT]: until the watcher $watch_pid has said LINE
# COUNT times (default 1), 60 s at most.
wait_log() {
	local i
	for ((i = 0; i < 600; i++)); do
		[ "$(grep -cxF "$2" "$1")" -ge "${3:-1}" ] && return 0
		kill -0 "$watch_pid" 2>/dev/null || fail "the watcher exited: $(cat "$1")"
		sleep 0.1
	done
	fail "the watcher did not say '$2': $(cat "$1")"
}

# buckets_at_least WANT GOT: two latency histograms as [[le_ns, count]...]
# hold as many intervals, and GOT's i-th shortest is in WANT's i-th
# shortest's bucket or a later one. An interval is the VMM's delay plus
# the exits around it: a loaded host makes it longer, never shorter.
buckets_at_least() {
	jq -e -n --argjson w "$1" --argjson g "$2" '
		def flat: [.[] | . as [$le, $n] | range($n) | $le] | sort;
		($w | flat) as $a | ($g | flat) as $b |
		($a | length) == ($b | length) and all(range($a | length); $b[.] >= $a[.])' >/dev/null ||
		fail "wanted intervals in these buckets or later ones: $1, got $2"
}
