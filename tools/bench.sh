#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make bench: the same guest doorbell loop, side by side, in one run:
#   (a) every write a userspace exit the VMM handles
#   (b) a bare ioeventfd with a thread reading its eventfd (the value is lost)
#   (c) the mmiotrap fast path, a subscriber receiving every value
#   (d) mmiotrap capture on the slow path: every write exits and is dispatched
# Rounds interleave the four so that drift hits each alike; medians are printed.
set -euo pipefail

build=${1:-build}
writes=${BENCH_WRITES:-200000}
rounds=${BENCH_ROUNDS:-5}
mt=$build/mmiotrap
vmm=$build/mmiotrap-testvmm
export MMIOTRAP_PIN_ROOT=/sys/fs/bpf/mmiotrap-bench
tmp=$(mktemp -d)
stats_was=$(sysctl -n kernel.bpf_stats_enabled)

cleanup() {
	sysctl -qw kernel.bpf_stats_enabled="$stats_was"
	"$mt" unload >/dev/null 2>&1 || true
	rm -rf "$tmp"
}
trap cleanup EXIT

median() {
	sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}

# The trap's own cost: run_time_ns and run_cnt of its programs, summed.
bpf_totals() {
	local ids
	ids=$(for l in "$MMIOTRAP_PIN_ROOT"/links/*; do bpftool -j link show pinned "$l" | jq .prog_id; done)
	bpftool -j prog show | jq --argjson ids "[$(echo $ids | tr ' ' ,)]" \
		'[.[] | select(.id as $i | $ids | index($i)) | select(.name | test("mmio|pio|io_bus"))]
		 | [(map(.run_time_ns // 0) | add), (map(.run_cnt // 0) | add)] | @tsv' -r
}

# run CONFIG BUS ADDR WIDTH: one run, its report appended to CONFIG's file.
run() {
	local config=$1 bus=$2 addr=$3 width=$4 region=$2:$3:$4 args=() before after
	case $config in
	a) ;;
	b) args=(--ioeventfd "$region") ;;
	c) args=(--pin-root "$MMIOTRAP_PIN_ROOT" --fast "$region") ;;
	c-busy) args=(--pin-root "$MMIOTRAP_PIN_ROOT" --busy-poll --fast "$region") ;;
	d) args=(--pin-root "$MMIOTRAP_PIN_ROOT" --slow "$region") ;;
	esac
	before=$(bpf_totals)
	"$vmm" -j "${args[@]}" "$bus:$addr:$width:$writes:1:1" >>"$tmp/$bus-$config"
	after=$(bpf_totals)
	paste <(echo "$before") <(echo "$after") |
		awk '{ print $3 - $1, $4 - $2 }' >>"$tmp/$bus-$config.bpf"
}

field() {
	jq ".$2" "$tmp/$1" | median
}

sum() {
	jq -s "map(.$2) | add" "$tmp/$1"
}

bpf_ns() {
	awk '{ t += $1; n += $2 } END { printf "%d", n ? t / n : 0 }' "$tmp/$1.bpf"
}

ratio() {
	awk -v x="$1" -v y="$2" 'BEGIN { printf "%.2f", x / y }'
}

"$mt" load >/dev/null
sysctl -qw kernel.bpf_stats_enabled=1
echo "mmiotrap bench: $writes writes a run, $rounds rounds, medians"
echo "machine: $(uname -r), $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')"
echo "trap: attach mode $("$mt" -j status | jq -r .attach_mode)"
for round in $(seq "$rounds"); do
	for config in a b c c-busy d; do
		run "$config" mmio 0xd0000000 4
		run "$config" pio 0x510 2
	done
	printf '.' >&2
done
echo >&2

printf '\n%-5s %10s %10s %10s %10s   %5s %5s %5s\n' bus "(a) exit" "(b) ioefd" "(c) fast" "(d) slow" c/b a/c a/b
for bus in mmio pio; do
	a=$(field $bus-a ns_per_write)
	b=$(field $bus-b ns_per_write)
	c=$(field $bus-c ns_per_write)
	d=$(field $bus-d ns_per_write)
	printf '%-5s %7s ns %7s ns %7s ns %7s ns   %5s %5s %5s\n' $bus "$a" "$b" "$c" "$d" \
		"$(ratio "$c" "$b")" "$(ratio "$a" "$c")" "$(ratio "$a" "$b")"
done

printf '\n%-5s %-10s %10s %8s %14s %14s %12s\n' bus path delivered lost "latency p50" "latency p99" "BPF ns/event"
for bus in mmio pio; do
	for config in c c-busy d; do
		printf '%-5s %-10s %10s %8s %11s ns %11s ns %12s\n' $bus "($config)" \
			"$(sum $bus-$config events)" "$(sum $bus-$config lost)" \
			"$(field $bus-$config lat_p50_ns)" "$(field $bus-$config lat_p99_ns)" \
			"$(bpf_ns $bus-$config)"
	done
done

printf '\nBPF ns per write in no region (the cost on every other VM): mmio %s, pio %s\n' \
	"$(bpf_ns mmio-a)" "$(bpf_ns pio-a)"

# A million writes with the subscriber keeping up: nothing may be lost.
"$vmm" -j --pin-root "$MMIOTRAP_PIN_ROOT" --fast mmio:0xd0000000:4 \
	mmio:0xd0000000:4:1000000:1:1 >"$tmp/million"
printf '\n1M fast-path writes: %s delivered, %s lost, %s ns per write\n' \
	"$(jq .events "$tmp/million")" "$(jq .lost "$tmp/million")" "$(jq .ns_per_write "$tmp/million")"
