#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The trap's own cost per write, from BPF statistics (run_time_ns / run_cnt
# of the program that ran), with writes injected through BPF_PROG_TEST_RUN
# by mmiotrap-inject: no VM is needed, and nothing else runs the program.
# Four cases, with one region and with a full table (MAX regions over
# VMS processes): a VM without regions, a VM with regions elsewhere, a
# matched write nobody subscribes to, and one a subscriber reads.
set -euo pipefail

build=${1:-build}
writes=${TRAPCOST_WRITES:-200000}
max=${TRAPCOST_REGIONS:-16383}
vms=${TRAPCOST_VMS:-4095}
mt=$build/mmiotrap
inj=$build/mmiotrap-inject
export MMIOTRAP_PIN_ROOT=/sys/fs/bpf/mmiotrap-trapcost

die() {
	echo "trapcost: $*" >&2
	exit 2
}

[ "$(id -u)" = 0 ] || die "needs root"
[ -x "$inj" ] && [ -x "$mt" ] || die "no $inj or $mt: build first (make)"
tmp=$(mktemp -d)
stats_was=$(sysctl -n kernel.bpf_stats_enabled)
pids=()

cleanup() {
	sysctl -qw kernel.bpf_stats_enabled="$stats_was"
	[ ${#pids[@]} = 0 ] || kill "${pids[@]}" 2>/dev/null || true
	"$mt" unload --force >/dev/null 2>&1 || true
	rm -rf "$tmp"
}
trap cleanup EXIT

prog_id() {
	bpftool -j link show pinned "$MMIOTRAP_PIN_ROOT/links/raw_tp_mmio" | jq .prog_id
}

# ns ADDR [SUBSCRIBE]: the trap's ns per write of an injector whose
# regions are set up by 'setup_regions PID', writing ADDR.
ns() {
	local addr=$1 sub=${2:-} go=$tmp/go id before after pid epid=
	mkfifo "$go"
	"$inj" -j --go "$go" "mmio:$addr:4:$writes" >"$tmp/inj" &
	pid=$!
	setup_regions "$pid"
	if [ -n "$sub" ]; then
		"$mt" -j events --vm "$pid" --ring-size $((1 << 26)) --duration 600 >/dev/null &
		epid=$!
		while [ "$("$mt" -j status | jq '.subscribers | length')" = 0 ]; do sleep 0.05; done
	fi
	id=$(prog_id)
	before=$(bpftool -j prog show id "$id" | jq -r '"\(.run_time_ns // 0) \(.run_cnt // 0)"')
	echo go >"$go"
	wait "$pid"
	after=$(bpftool -j prog show id "$id" | jq -r '"\(.run_time_ns // 0) \(.run_cnt // 0)"')
	[ -z "$epid" ] || kill "$epid"
	rm -f "$go"
	for r in $("$mt" -j region list | jq -r ".[] | select(.vm == $pid) | .id"); do
		"$mt" region del "$r" >/dev/null
	done
	echo "$before $after" | awk '{ printf "%d", ($3 - $1) / ($4 - $2) }'
}

none() { :; }
elsewhere() { "$mt" region add --vm "$1" --mmio 0xe0000000 --len 4 >/dev/null; }
matched() { "$mt" region add --vm "$1" --mmio 0xd0000000 --len 4 >/dev/null; }

row() {
	local label=$1
	setup_regions=none; setup_regions() { none "$@"; }
	local a b c d
	a=$(ns 0xd0000000)
	setup_regions() { elsewhere "$@"; }
	b=$(ns 0xd0000000)
	setup_regions() { matched "$@"; }
	c=$(ns 0xd0000000)
	d=$(ns 0xd0000000 sub)
	printf '%-26s %10s %12s %12s %12s\n' "$label" "$a ns" "$b ns" "$c ns" "$d ns"
}

# A policy of MAX regions spread over VMS live processes, less the few the
# rows add; the processes in pids.
fill_policy() {
	local i
	for i in $(seq "$vms"); do
		sleep 3600 3>&- &
		pids+=($!)
	done
	python3 - "$((max - 4))" "${pids[@]}" >"$tmp/fill.yaml" <<-'PY'
	import sys
	n, pids = int(sys.argv[1]), sys.argv[2:]
	out = ["vms:"]
	for v, pid in enumerate(pids):
	    mine = range(v, n, len(pids))
	    if not mine:
	        break
	    out.append("  - vm: {pid: %s}\n    regions:" % pid)
	    out += ["      - {name: f%d, addr: 0x%x, len: 4}" % (i, 0xc0000000 + i * 16) for i in mine]
	print("\n".join(out))
	PY
}

"$mt" unload --force >/dev/null 2>&1 || true
"$mt" load --attach raw_tp >/dev/null
sysctl -qw kernel.bpf_stats_enabled=1
echo "trap cost per write (BPF stats over $writes injected writes; raw_tp, the same program body as tp_btf):"
printf '%-26s %10s %12s %12s %12s\n' "" "no region" "elsewhere" "matched" "+1 reader"
row "1 region"
fill_policy
start=$(date +%s%N)
"$mt" policy apply "$tmp/fill.yaml" >/dev/null
end=$(date +%s%N)
row "$("$mt" -j status | jq .regions) regions, ${#pids[@]} VMs"
printf 'a policy adding %s regions over %s VMs: %d ms\n' "$("$mt" -j status | jq .regions)" \
	"${#pids[@]}" $(( (end - start) / 1000000 ))
t() {
	local s e
	s=$(date +%s%N)
	"$@" >/dev/null
	e=$(date +%s%N)
	echo $(( (e - s) / 1000000 ))
}
printf 'with a full table: region add %s ms, region del %s ms, region list %s ms, stats %s ms\n' \
	"$(t "$mt" region add --vm "${pids[0]}" --mmio 0xf0000000 --len 4 --name extra)" \
	"$(t "$mt" region del extra)" "$(t "$mt" region list)" "$(t "$mt" stats)"
