#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make bench: the same guest doorbell loop, side by side, in one run:
#   (a) every write a userspace exit the VMM handles
#   (b) a bare ioeventfd with a thread reading its eventfd (the value is lost)
#   (c) the mmiotrap fast path, a subscriber receiving every value
#   (d) mmiotrap capture on the slow path: every write exits and is dispatched
#   (e) (b)'s VMM, untouched, its doorbell followed by 'mmiotrap events' as
#       an observer (batched wakeups): what watching a VMM costs its guest
# and (a) again with the trap loaded: its tax on a VM it does not watch.
# (a) and (b) are stock KVM: they run with the trap unloaded. Every timed run
# has kernel.bpf_stats_enabled=0, which costs each program two clock reads;
# the BPF ns per event come from separate runs with it on, over every
# program of the trap, the exit counter's too. Rounds interleave the
# configurations so that drift hits each alike; medians are printed.
set -euo pipefail

build=${1:-build}
writes=${BENCH_WRITES:-200000}
rounds=${BENCH_ROUNDS:-5}
long=${BENCH_LONG_WRITES:-10000000}
mt=$build/mmiotrap
vmm=$build/mmiotrap-testvmm
export MMIOTRAP_PIN_ROOT=/sys/fs/bpf/mmiotrap-bench

die() {
	echo "bench: $*" >&2
	exit 2
}

# Fail fast, before anything is changed on the host.
[ "$(id -u)" = 0 ] || die "needs root (it loads the trap and sets kernel.bpf_stats_enabled)"
# The trap's own cost and the control plane's at a full table need no VM.
"$(dirname "$0")/trapcost.sh" "$build"
echo
# Where that time goes: the trap's parts, each alone (docs/cost.md).
"$build/mmiotrap-costparts" ${BENCH_PART_RUNS:+"$BENCH_PART_RUNS"}
echo
if [ ! -r /dev/kvm ] || [ ! -w /dev/kvm ]; then
	die "the guest loops (a)-(e) need a usable /dev/kvm: the test VMM starts a VM"
fi
if [ ! -x "$vmm" ] || [ ! -x "$mt" ]; then
	die "no $vmm or $mt: build first (make)"
fi
"$mt" unload >/dev/null 2>&1 || true	# a previous bench's, if it crashed

# Another instance's programs run on every exit too: its cost would be in
# every number, (a) and (b) included.
others=$(bpftool -j prog show | jq -r '.[] | select(.name // "" |
	test("^(tp_btf|raw_tp)_(mmio|pio|exit)$|^fentry_io_bus")) | "\(.id) \(.name)"' | paste -sd,)
[ -z "$others" ] || die "another mmiotrap instance is loaded on this host (programs $others): its trap would run in every measurement; unload it first"

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

# The trap's own cost: run_time_ns and run_cnt of all its programs, summed.
bpf_totals() {
	local ids
	ids=$(for l in "$MMIOTRAP_PIN_ROOT"/links/*; do bpftool -j link show pinned "$l" | jq .prog_id; done)
	bpftool -j prog show | jq -r --argjson ids "[$(paste -sd, <<<"$ids")]" \
		'[.[] | select(.id as $i | $ids | index($i))]
		 | [(map(.run_time_ns // 0) | add), (map(.run_cnt // 0) | add)] | @tsv'
}

# vmm_run CONFIG BUS ADDR WIDTH: the test VMM in CONFIG; its report on stdout.
vmm_run() {
	local config=$1 bus=$2 addr=$3 width=$4 region=$2:$3:$4 args=()
	case $config in
	a | a-loaded) ;;
	b) args=(--ioeventfd "$region") ;;
	c) args=(--pin-root "$MMIOTRAP_PIN_ROOT" --fast "$region") ;;
	c-busy) args=(--pin-root "$MMIOTRAP_PIN_ROOT" --busy-poll --fast "$region") ;;
	d) args=(--pin-root "$MMIOTRAP_PIN_ROOT" --slow "$region") ;;
	esac
	"$vmm" -j "${args[@]}" "$bus:$addr:$width:$writes:1:1"
}

# observed BUS ADDR WIDTH: (e), (b)'s VMM with an observer that must see
# every value; the VMM's report on stdout.
observed() {
	local bus=$1 addr=$2 width=$3 go=$tmp/go vpid epid i
	mkfifo "$go"
	"$vmm" -j --go "$go" --ioeventfd "$bus:$addr:$width" "$bus:$addr:$width:$writes:1:1" \
		>"$tmp/e.out" &
	vpid=$!
	"$mt" region add --vm "$vpid" --"$bus" "$addr" --len "$width" >/dev/null
	# Printing JSON costs the observer more per record than the guest's
	# write: a ring that holds the whole run lets it lag and lose nothing.
	"$mt" -j events --vm "$vpid" --count "$writes" --duration 600 \
		--ring-size $((1 << 26)) >"$tmp/e.ev" &
	epid=$!
	for i in $(seq 200); do
		[ "$("$mt" -j status | jq '.subscribers | length')" = 1 ] && break
		sleep 0.05
	done
	echo go >"$go"
	wait "$vpid"
	wait "$epid" || die "(e): the observer exited $?"
	rm -f "$go"
	[ "$(grep -c '"value"' "$tmp/e.ev")" = "$writes" ] ||
		die "(e): the observer got $(grep -c '"value"' "$tmp/e.ev") of $writes values"
	"$mt" region del 1 >/dev/null
	cat "$tmp/e.out"
}

# timed CONFIG...: one timed run of each, both buses, stats off.
timed() {
	local config
	for config; do
		if [ "$config" = e ]; then
			observed mmio 0xd0000000 4 >>"$tmp/mmio-e"
			observed pio 0x510 2 >>"$tmp/pio-e"
			continue
		fi
		vmm_run "$config" mmio 0xd0000000 4 >>"$tmp/mmio-$config"
		vmm_run "$config" pio 0x510 2 >>"$tmp/pio-$config"
	done
}

# costed CONFIG BUS ADDR WIDTH: a run with stats on; its writes and the
# trap's BPF time go to CONFIG's .bpf file.
costed() {
	local config=$1 bus=$2 before after
	before=$(bpf_totals)
	vmm_run "$@" >/dev/null
	after=$(bpf_totals)
	paste <(echo "$before") <(echo "$after") |
		awk -v n="$writes" '{ print $3 - $1, n }' >>"$tmp/$bus-$config.bpf"
}

field() {
	jq ".$2" "$tmp/$1" | median
}

sum() {
	jq -s "map(.$2) | add" "$tmp/$1"
}

# BPF ns per write: all the trap's programs' time over the guest's writes.
bpf_ns() {
	awk '{ t += $1; n += $2 } END { printf "%d", n ? t / n : 0 }' "$tmp/$1.bpf"
}

ratio() {
	awk -v x="$1" -v y="$2" 'BEGIN { printf "%.2f", x / y }'
}

sysctl -qw kernel.bpf_stats_enabled=0
echo "mmiotrap bench: $writes writes a run, $rounds rounds, medians"
echo "machine: $(uname -r), $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')"
for _ in $(seq "$rounds"); do
	timed a b
	"$mt" load >/dev/null
	timed a-loaded c c-busy d e
	"$mt" unload >/dev/null
	printf '.' >&2
done
echo >&2
echo "(a) and (b) without the trap loaded; timed with kernel.bpf_stats_enabled=0"

# The trap's cost, from runs of their own: stats on slows every program.
"$mt" load >/dev/null
echo "trap: attach mode $("$mt" -j status | jq -r .attach_mode)"
sysctl -qw kernel.bpf_stats_enabled=1
for config in a c c-busy d; do
	costed "$config" mmio 0xd0000000 4
	costed "$config" pio 0x510 2
done
sysctl -qw kernel.bpf_stats_enabled=0

printf '\n%-5s %10s %10s %10s %10s %10s   %5s %5s %5s %5s %5s\n' bus "(a) exit" "(b) ioefd" \
	"(c) fast" "(d) slow" "(e) watched" c/b a/c a/b d/a e/b
for bus in mmio pio; do
	a=$(field $bus-a ns_per_write)
	b=$(field $bus-b ns_per_write)
	c=$(field $bus-c ns_per_write)
	d=$(field $bus-d ns_per_write)
	e=$(field $bus-e ns_per_write)
	printf '%-5s %7s ns %7s ns %7s ns %7s ns %8s ns   %5s %5s %5s %5s %5s\n' $bus "$a" "$b" "$c" \
		"$d" "$e" "$(ratio "$c" "$b")" "$(ratio "$a" "$c")" "$(ratio "$a" "$b")" \
		"$(ratio "$d" "$a")" "$(ratio "$e" "$b")"
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

# The ratio X/Y of each round, as "min-max".
spread() {
	paste <(jq .ns_per_write "$tmp/$1") <(jq .ns_per_write "$tmp/$2") |
		awk '{ r = $1 / $2; if (NR == 1 || r < lo) lo = r; if (NR == 1 || r > hi) hi = r }
		     END { printf "%.2f-%.2f", lo, hi }'
}

echo
for bus in mmio pio; do
	printf '%-5s c/b per round %s; the tax on a VM the trap does not watch: (a) loaded/unloaded %s (per round %s)\n' \
		$bus "$(spread $bus-c $bus-b)" \
		"$(ratio "$(field $bus-a-loaded ns_per_write)" "$(field $bus-a ns_per_write)")" \
		"$(spread $bus-a-loaded $bus-a)"
done

printf '\nBPF ns per write in no region, the trap loaded (the cost on every other VM): mmio %s, pio %s\n' \
	"$(bpf_ns mmio-a)" "$(bpf_ns pio-a)"
echo "BPF ns: every program of the trap (exit counter included), stats on, per guest write"

# Ten million writes with the subscriber keeping up: nothing may be lost.
"$vmm" -j --pin-root "$MMIOTRAP_PIN_ROOT" --fast mmio:0xd0000000:4 \
	mmio:0xd0000000:4:"$long":1:1 >"$tmp/long"
printf '\n%s fast-path writes: %s delivered, %s lost, %s ns per write\n' "$long" \
	"$(jq .events "$tmp/long")" "$(jq .lost "$tmp/long")" "$(jq .ns_per_write "$tmp/long")"
