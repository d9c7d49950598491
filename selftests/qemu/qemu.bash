# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# Helpers to run Debian's stock QEMU (qemu-system-x86, SeaBIOS) with an NVMe
# disk, so that a test can watch the firmware ring real NVMe doorbells.
# Sourced by the QEMU bats suites; usable from a plain bash too.
#
#   qemu_start NAME [QEMU-ARG...]  start paused (-S); prints the pid and sets
#                                  QEMU_PID, QEMU_DIR
#   qemu_cont NAME                 let the guest run (QMP cont)
#   qemu_wait_booted NAME [SECS]   wait for the boot sector's marker: by then
#                                  SeaBIOS has rung every NVMe doorbell it will
#   qemu_nvme_bar0 NAME [SECS]     "ADDR SIZE" of the NVMe BAR0, from query-pci
#   qemu_nvme_dstrd NAME           CAP.DSTRD read from the live controller
#   qemu_doorbells NAME [--skip-lines N]  QEMU's own doorbell trace as JSON Lines
#   qemu_reg_writes NAME [--skip-lines N]  its register writes (pci_nvme_mmio_write)
#   qemu_trace_mark NAME           the trace's line count (for --skip-lines)
#   qemu_reset NAME                QMP system_reset: the firmware runs again
#   qemu_qmp NAME COMMAND [ARGS-JSON]
#   qemu_stop NAME                 QMP quit, then SIGTERM/SIGKILL; no leftovers
#   qemu_stop_all                  every VM started under $QEMU_ROOT
#
# What SeaBIOS 1.16.2 does with QEMU 7.2's nvme (measured on Debian 12):
# - BAR0 is a 64-bit memory BAR of 16 KiB (registers, doorbells at +0x1000,
#   MSI-X table and PBA); SeaBIOS puts it at 0xfebf8000 with this command
#   line, the same on every run and after every system_reset.  query-pci
#   reports it unmapped (-1) until SeaBIOS' PCI init, ~0.15 s after cont;
#   the first doorbell comes ~0.35-0.45 s later.  QEMU has no property to
#   pin a BAR's address.
# - CAP = 0x004018200f0107ff: DSTRD 0, so doorbells are 4 bytes apart.
# - 520 doorbell writes, 4 bytes each, all from the vCPU thread, the same
#   sequence on every boot: QEMU 7.2 reports NN=256 namespaces, so SeaBIOS
#   sends 259 admin commands (identify controller, create I/O CQ 1, create
#   I/O SQ 1, identify namespace 1..256), each an SQ 0 tail write (1..63, 0,
#   1.. as the 64-entry queue wraps) then a CQ 0 head write (1..255, 0, 1..3),
#   then reads the boot sector: SQ 1 tail 1, CQ 1 head 1.  The last one
#   comes 3-4.5 s after cont, some 10 ms before the boot marker.
# - ioeventfd=on changes nothing: QEMU 7.2 registers doorbell ioeventfds only
#   once the guest sends Doorbell Buffer Config (Linux does, SeaBIOS not),
#   and even then kvm:kvm_mmio logs the value before the in-kernel bus.
#
# QEMU_QMP_FORM says how the QMP socket is given on the command line:
# "qmp" (the default), -qmp unix:PATH; "mon", -chardev socket,id=qmp,path=PATH
# plus -mon chardev=qmp,mode=control. Either way the socket is
# $QEMU_ROOT/NAME/qmp.sock, and policies find it on the command line.
#
# Every VM keeps its files in $QEMU_ROOT/NAME: qmp.sock, nvme.trace (QEMU's
# "log" trace backend), debugcon.log (SeaBIOS' debug port 0x402 and the boot
# marker), qemu.log (QEMU's stdout and stderr), qemu.pid, disk.img.

QEMU_HELPERS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
QEMU_BIN=${QEMU_BIN:-qemu-system-x86_64}
QEMU_PY=${QEMU_PY:-python3}
NVME_TRACE=${NVME_TRACE:-$QEMU_HELPERS_DIR/nvme_trace.py}
QEMU_BOOT_MARKER=MMIOTRAP-BOOTED
# The NVMe disk: a raw image, a few MiB, whose sector 0 boots.
QEMU_DISK_SIZE=${QEMU_DISK_SIZE:-4M}

_qemu_die() {
	echo "qemu.bash: $*" >&2
	return 1
}

# QEMU_ROOT: the directory the VMs' own directories live in; chosen when
# this file is sourced (not lazily: callers use $(...), a subshell).
if [ -z "${QEMU_ROOT:-}" ]; then
	if [ -n "${BATS_TEST_TMPDIR:-}" ]; then
		QEMU_ROOT=$BATS_TEST_TMPDIR/qemu
	elif [ -n "${BATS_FILE_TMPDIR:-}" ]; then
		QEMU_ROOT=$BATS_FILE_TMPDIR/qemu
	else
		QEMU_ROOT=$(mktemp -d /tmp/mmiotrap-qemu.XXXXXX)
	fi
fi

qemu_root() {
	mkdir -p "$QEMU_ROOT" && echo "$QEMU_ROOT"
}

qemu_dir() {
	echo "$(qemu_root)/$1"
}

# qemu_available: why QEMU cannot run here, on stderr, and 1; else 0.
qemu_available() {
	command -v "$QEMU_BIN" >/dev/null || _qemu_die "no $QEMU_BIN (apt-get install qemu-system-x86)" || return 1
	command -v "$QEMU_PY" >/dev/null || _qemu_die "no $QEMU_PY" || return 1
	[ -w /dev/kvm ] || _qemu_die "no usable /dev/kvm" || return 1
	"$QEMU_BIN" -device nvme,help >/dev/null 2>&1 || _qemu_die "$QEMU_BIN has no nvme device" || return 1
}

# qemu_make_disk FILE: a raw image whose boot sector (16-bit real mode, at
# 0000:7c00) writes the marker to the debug port 0x402 and halts for good:
#   cli; xor ax,ax; mov ds,ax; cld; mov si,msg; mov dx,0x402
#   1: lodsb; test al,al; jz 2f; out dx,al; jmp 1b
#   2: hlt; jmp 2b
#   msg: "MMIOTRAP-BOOTED\n\0"
qemu_make_disk() {
	local file=$1
	rm -f "$file"
	truncate -s "$QEMU_DISK_SIZE" "$file" || return 1
	printf '\xfa\x31\xc0\x8e\xd8\xfc\xbe\x17\x7c\xba\x02\x04\xac\x84\xc0\x74\x03\xee\xeb\xf8\xf4\xeb\xfd%s\n\x00' \
		"$QEMU_BOOT_MARKER" | dd of="$file" conv=notrunc status=none || return 1
	printf '\x55\xaa' | dd of="$file" bs=1 seek=510 conv=notrunc status=none
}

# qemu_qmp_args DIR: the QMP socket's arguments, in the form QEMU_QMP_FORM says.
qemu_qmp_args() {
	case ${QEMU_QMP_FORM:-qmp} in
	qmp) printf '%s\n' -qmp "unix:$1/qmp.sock,server=on,wait=off" ;;
	mon) printf '%s\n' -chardev "socket,id=qmp,path=$1/qmp.sock,server=on,wait=off" \
		-mon chardev=qmp,mode=control ;;
	*) _qemu_die "QEMU_QMP_FORM is qmp or mon, not '$QEMU_QMP_FORM'" ;;
	esac
}

# qemu_cmdline NAME DIR: the QEMU command line, one word a line.
# Without arch-capabilities: some hosts' KVM (kvm_pvm) refuses QEMU's write
# of that MSR, and QEMU 7.2 aborts; the guests here never read it.
qemu_cmdline() {
	local name=$1 dir=$2
	printf '%s\n' "$QEMU_BIN" \
		-enable-kvm -machine q35 -cpu host,-arch-capabilities -m 64 -smp 1 \
		-nodefaults -no-user-config -display none -S \
		-name "$name,debug-threads=on" \
		-msg timestamp=on
	qemu_qmp_args "$dir" || return 1
	printf '%s\n' -chardev "file,id=debugcon,path=$dir/debugcon.log" \
		-device isa-debugcon,iobase=0x402,chardev=debugcon \
		-drive "file=$dir/disk.img,if=none,id=nvm0,format=raw" \
		-device "nvme,id=nvme0,drive=nvm0,serial=mmiotrap0,bootindex=1${QEMU_NVME_OPTS:+,$QEMU_NVME_OPTS}" \
		-trace "events=$dir/trace-events,file=$dir/nvme.trace"
}

# qemu_start NAME [QEMU-ARG...]: a VM that has not run a single instruction
# yet, so that BPF regions can be registered for its pid before qemu_cont.
# Prints its pid; sets QEMU_PID and QEMU_DIR.
qemu_start() {
	local name=$1 dir pid i
	shift
	case $name in
	'' | *[!A-Za-z0-9_.-]*) _qemu_die "bad VM name '$name'" || return 1 ;;
	esac
	qemu_available || return 1
	dir=$(qemu_dir "$name")
	[ ! -e "$dir/qemu.pid" ] || _qemu_die "VM $name already started in $dir" || return 1
	# sun_path holds 107 bytes and a NUL.
	[ "${#dir}" -le 96 ] || _qemu_die "$dir is too long for a unix socket" || return 1
	mkdir -p "$dir" || return 1
	rm -f "$dir/qmp.sock" "$dir/nvme.trace" "$dir/debugcon.log"
	qemu_make_disk "$dir/disk.img" || return 1
	printf '%s\n' pci_nvme_mmio_doorbell_sq pci_nvme_mmio_doorbell_cq pci_nvme_mmio_write \
		>"$dir/trace-events"

	local -a cmd
	# A bad QEMU_QMP_FORM said here: the substitution below would lose it.
	qemu_qmp_args "$dir" >/dev/null || return 1
	mapfile -t cmd < <(qemu_cmdline "$name" "$dir")
	printf '%q ' "${cmd[@]}" "$@" >"$dir/cmdline"
	echo >>"$dir/cmdline"
	# fd 3 is bats' own: a child that kept it would hang the suite.
	"${cmd[@]}" "$@" </dev/null >"$dir/qemu.log" 2>&1 3>&- &
	pid=$!
	echo "$pid" >"$dir/qemu.pid"
	[ -z "${BATS_TEST_TMPDIR:-}" ] || echo "$pid" >>"$BATS_TEST_TMPDIR/children"

	# Ready when QMP answers and says prelaunch (paused before the first
	# instruction).
	for ((i = 0; i < 200; i++)); do
		if ! kill -0 "$pid" 2>/dev/null; then
			rm -f "$dir/qemu.pid"
			_qemu_die "QEMU $name exited at start: $(cat "$dir/qemu.log")" || return 1
		fi
		if [ -S "$dir/qmp.sock" ] &&
			"$QEMU_PY" "$NVME_TRACE" qmp "$dir/qmp.sock" query-status 2>/dev/null | grep -q '"prelaunch"'; then
			# shellcheck disable=SC2034 # for the caller
			QEMU_PID=$pid QEMU_DIR=$dir
			echo "$pid"
			return 0
		fi
		sleep 0.05
	done
	qemu_stop "$name"
	_qemu_die "QEMU $name did not come up: $(cat "$dir/qemu.log")"
}

qemu_pid() {
	cat "$(qemu_dir "$1")/qemu.pid"
}

# qemu_qmp NAME COMMAND [ARGS-JSON]: the command's "return" as JSON.
qemu_qmp() {
	local dir
	dir=$(qemu_dir "$1")
	shift
	"$QEMU_PY" "$NVME_TRACE" qmp "$dir/qmp.sock" "$@"
}

qemu_cont() {
	qemu_qmp "$1" cont >/dev/null
}

# qemu_reset NAME: a cold start of the firmware in the same process: SeaBIOS
# assigns the same BARs and rings the same doorbells again.
qemu_reset() {
	local dir
	dir=$(qemu_dir "$1")
	: >"$dir/debugcon.log"
	qemu_qmp "$1" system_reset >/dev/null
}

# qemu_wait_booted NAME [SECONDS]: wait for the boot sector's marker.  SeaBIOS
# reads the boot sector through the NVMe I/O queue (its last doorbell writes)
# before it jumps to it, so once the marker is there the doorbell sequence is
# complete.
qemu_wait_booted() {
	local dir deadline
	dir=$(qemu_dir "$1")
	deadline=$((SECONDS + ${2:-30}))
	until grep -qa "$QEMU_BOOT_MARKER" "$dir/debugcon.log" 2>/dev/null; do
		kill -0 "$(qemu_pid "$1")" 2>/dev/null || _qemu_die "QEMU $1 is gone: $(cat "$dir/qemu.log")" || return 1
		[ "$SECONDS" -lt "$deadline" ] || _qemu_die "VM $1 did not boot in ${2:-30}s: $(tail -5 "$dir/debugcon.log")" || return 1
		sleep 0.05
	done
}

# qemu_nvme_bar0 NAME [SECONDS]: "ADDR SIZE" (hex) of the NVMe BAR0, waiting
# up to SECONDS (default 10) for the firmware to map it.  QEMU reports an
# unmapped BAR until the BAR is programmed and memory decoding is on, which
# SeaBIOS does during its PCI setup, some 0.2 s after cont.
qemu_nvme_bar0() {
	local dir json
	dir=$(qemu_dir "$1")
	json=$("$QEMU_PY" "$NVME_TRACE" nvme-bar0 "$dir/qmp.sock" --wait "${2:-10}") || return 1
	"$QEMU_PY" -c 'import json,sys; d=json.loads(sys.argv[1]); print("0x%x 0x%x" % (d["address"], d["size"]))' "$json"
}

# qemu_nvme_dstrd NAME: CAP.DSTRD (bits 35:32), read from the controller's
# registers through the monitor (xp reads BAR0 like the guest would).
qemu_nvme_dstrd() {
	local bar0 out
	read -r bar0 _ < <(qemu_nvme_bar0 "$1" 0) || return 1
	[ -n "$bar0" ] || return 1
	out=$(qemu_qmp "$1" human-monitor-command "{\"command-line\": \"xp /1gx $bar0\"}") || return 1
	# "00000000febf8000: 0x004018200f0107ff\r\n"
	"$QEMU_PY" -c 'import json,sys; v=int(json.loads(sys.argv[1]).split()[-1],16); print((v>>32)&0xf)' "$out"
}

# qemu_trace_mark NAME: the trace's line count now, for --skip-lines after a
# qemu_reset (QEMU keeps appending to the same file).
qemu_trace_mark() {
	local n
	n=$(wc -l <"$(qemu_dir "$1")/nvme.trace") || return 1
	echo "$n"
}

# qemu_doorbells NAME [--skip-lines N]: QEMU's doorbell trace
# as JSON Lines {"kind":"sq_tail"|"cq_head","queue":N,"value":V}.
qemu_doorbells() {
	local dir
	dir=$(qemu_dir "$1")
	shift
	"$QEMU_PY" "$NVME_TRACE" parse-trace "$dir/nvme.trace" "$@"
}

# qemu_reg_writes NAME [--skip-lines N]: QEMU's trace of the controller's
# register writes as JSON Lines {"offset":O,"value":V,"width":W}.
qemu_reg_writes() {
	local dir
	dir=$(qemu_dir "$1")
	shift
	"$QEMU_PY" "$NVME_TRACE" parse-writes "$dir/nvme.trace" "$@"
}

# qemu_stop NAME: quit through QMP; SIGTERM, then SIGKILL if it lingers.
qemu_stop() {
	local name=$1 dir pid i
	dir=$(qemu_dir "$name")
	[ -f "$dir/qemu.pid" ] || return 0
	pid=$(cat "$dir/qemu.pid")
	if kill -0 "$pid" 2>/dev/null; then
		timeout 5 "$QEMU_PY" "$NVME_TRACE" qmp --connect-timeout 1 "$dir/qmp.sock" quit >/dev/null 2>&1 || true
		for ((i = 0; i < 100; i++)); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.05
		done
		if kill -0 "$pid" 2>/dev/null; then
			kill -TERM "$pid" 2>/dev/null || true
			for ((i = 0; i < 40; i++)); do
				kill -0 "$pid" 2>/dev/null || break
				sleep 0.05
			done
			kill -KILL "$pid" 2>/dev/null || true
		fi
	fi
	# Reap it when it is our child; no zombie, no socket left behind.
	wait "$pid" 2>/dev/null || true
	rm -f "$dir/qemu.pid" "$dir/qmp.sock"
}

qemu_stop_all() {
	local root pidfile
	root=$(qemu_root)
	for pidfile in "$root"/*/qemu.pid; do
		[ -e "$pidfile" ] || continue
		qemu_stop "$(basename "$(dirname "$pidfile")")"
	done
}

# qemu_virtio_blk_args NAME: QEMU arguments for a virtio-blk-pci disk (id
# vblk0) that SeaBIOS boots from, before the NVMe one, with KVM's ioeventfd
# trace events on (in the same file: a -trace without file= would send
# every event to QEMU's default one); for qemu_start NAME "${args[@]}".  SeaBIOS starts the
# device (DRIVER_OK) to read the boot sector, and only then does QEMU 7.2
# register its notify ioeventfds: per queue a length-0 MMIO one at the
# modern notify address (BAR4 + 0x3000 + 4 * queue) and a length-2 PIO one
# on the legacy BAR0's notify register (+0x10) matching the queue number.
qemu_virtio_blk_args() {
	local dir
	dir=$(qemu_dir "$1")
	mkdir -p "$dir" && qemu_make_disk "$dir/vdisk.img" || return 1
	printf '%s\n' -drive "file=$dir/vdisk.img,if=none,id=vd0,format=raw" \
		-device virtio-blk-pci,id=vblk0,drive=vd0,bootindex=0 \
		-trace "enable=kvm_set_ioeventfd_*,file=$dir/nvme.trace"
}

# qemu_ioeventfds NAME: the ioeventfds QEMU holds registered now, from its
# kvm_set_ioeventfd_{mmio,pio} trace (assigns net of deassigns), as one
# sorted JSON array of {bus, addr, len, datamatch (null: any value), fd}.
#   kvm_set_ioeventfd_pio fd: 18 @0xc010 val=0x0 assign: 1 size: 2 match: 1
qemu_ioeventfds() {
	local dir
	dir=$(qemu_dir "$1")
	# A "TID@SEC.USEC:" prefix under -msg timestamp=on.
	sed -E 's/^[0-9]+@[0-9.]+://' "$dir/nvme.trace" |
		awk '$1 ~ /^kvm_set_ioeventfd_(mmio|pio)$/ {
		bus = substr($1, 19); fd = $3; addr = substr($4, 2)
		val = substr($5, 5); assign = $7; size = $9; match_ = $11
		key = bus " " addr " " size " " (match_ ? val : "null") " " fd
		n[key] += assign ? 1 : -1
	}
	END { for (k in n) for (i = 0; i < n[k]; i++) print k }' |
		while read -r bus addr size dm fd; do
			[ "$dm" = null ] || dm=$((dm))
			printf '{"bus":"%s","addr":%d,"len":%d,"datamatch":%s,"fd":%d}\n' \
				"$bus" "$((addr))" "$size" "$dm" "$fd"
		done | jq -s -c 'sort'
}
