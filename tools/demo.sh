#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# make demo: load the trap, let a real guest ring two doorbells, show what
# was captured and counted, unload.
set -euo pipefail

build=${1:-build}
mt=$build/mmiotrap
vmm=$build/mmiotrap-testvmm
export MMIOTRAP_PIN_ROOT=/sys/fs/bpf/mmiotrap-demo
tmp=$(mktemp -d)

cleanup() {
	[ -z "${vmm_pid:-}" ] || kill "$vmm_pid" 2>/dev/null || true
	"$mt" unload >/dev/null 2>&1 || true
	rm -rf "$tmp"
}
trap cleanup EXIT

say() {
	if [ -t 1 ]; then
		printf '\n\033[1m$ %s\033[0m\n' "$*"
	else
		printf '\n$ %s\n' "$*"
	fi
	"$@"
}

# A host without KVM (a VM itself, say) shows the demo in a VM that has it.
if ! "$mt" -j doctor | jq -e '.checks[] | select(.name == "kvm") | .ok' >/dev/null; then
	echo "No usable /dev/kvm here: the demo runs in tools/kvm-vm, a VM with KVM (emulated, slow)."
	exec "$(dirname "$0")/kvm-vm" "$0" "$build"
fi
"$mt" doctor >/dev/null || { "$mt" doctor; exit 1; }
say "$mt" load

# An NVMe-like SQ 1 tail doorbell (MMIO) and a virtio legacy QUEUE_NOTIFY (PIO).
mkfifo "$tmp/go"
"$vmm" --go "$tmp/go" mmio:0xfebf1008:4:6:1:1 pio:0xc050:2:3:0 >"$tmp/vmm.out" &
vmm_pid=$!
say "$mt" region add --vm "$vmm_pid" --mmio 0xfebf1000 --len 0x1000 --width 4 --name nvme-db
say "$mt" region add --vm "$vmm_pid" --pio 0xc050 --len 2 --width 2 --name virtio-notify
# A subscriber gets the writes made while it is there: it comes first.
printf '\n$ %s events --count 9 --duration 5 &   (then the guest runs)\n' "$mt"
"$mt" events --count 9 --duration 5 >"$tmp/events" &
events_pid=$!
until "$mt" -j status | jq -e '.subscribers | length > 0' >/dev/null; do sleep 0.05; done
echo go >"$tmp/go"
wait "$vmm_pid"
vmm_pid=
wait "$events_pid"
cat "$tmp/events"
printf '\nthe guest is done; its VMM says: %s\n' "$(cat "$tmp/vmm.out")"
say "$mt" stats
say "$mt" unload
