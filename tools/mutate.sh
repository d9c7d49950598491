#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The mutation check: do the selftests catch what they claim to?
#
#   tools/mutate.sh [-k] [NAME...]
#
# Each mutation injects one small bug into a copy of the tree, builds it and
# runs the suites meant to catch it. One line per mutation:
#
#   NAME  caught by SUITE | survived (SUITES) | not applied (...)
#
# A suite that needs a VM skips on a machine without /dev/kvm, so there it
# cannot catch anything: the header says which kind of run this was. The
# unmutated copy must pass the same suites first, or nothing would mean
# anything. -k keeps the copies. Needs root (the suites load BPF).
# MUTATE_WITHOUT="SUITE..." leaves those suites out: with KVM, leaving out
# 060-trap-inject shows what the suites that start real VMs catch alone.
# shellcheck disable=SC2016 # the edits are perl, not shell, expressions
set -u

here=$(cd "$(dirname "$0")/.." && pwd)
keep=0
[ "${1-}" = -k ] && { keep=1; shift; }

# NAME|SUITES|what the bug is. Each has a function mut_NAME that edits the copy.
MUTATIONS='
bus-blind|020-region-errors 060-trap-inject 110-capture-pio|the region index and overlap check ignore the bus
past-end|060-trap-inject 100-capture-mmio|a write running past the end of a region is taken
zero-fields|060-trap-inject 100-capture-mmio|ts_ns and vcpu_tid are 0
rep-first|060-trap-inject 110-capture-pio|only the first element of a rep outs is trapped
refuse-8|060-trap-inject 100-capture-mmio|8-byte writes are refused
unmatched-twice|060-trap-inject 100-capture-mmio|the unmatched counter counts twice
value-off-by-one|060-trap-inject 100-capture-mmio 110-capture-pio|the value is off by one
seq-swap|060-trap-inject 100-capture-mmio|seq swaps pairs: 1, 0, 3, 2, ...
silent-drop|060-trap-inject 100-capture-mmio|the record of seq 5 is dropped and counted nowhere
wrong-region|060-trap-inject 100-capture-mmio|an event names the next region id
filter-ignored|060-trap-inject 200-two-vms|events --vm and --region filter nothing
route-blind|830-irq-routes|a queue with a confirmed route closes on any interrupt of its VM
patience-63|830-irq-routes|a confirmed route is dropped after 63 foreign interrupts, not 64
shared-teaches|830-irq-routes|a close shared with a confirmed row teaches the learning row
learning-waits|830-irq-routes|a row still learning waits for the route it has seen
'

# edit FILE PERL-SUBSTITUTION: fail, naming it, if it changed nothing.
edit() {
	local file=$1 expr=$2
	cp "$file" "$file.orig"
	perl -0pi -e "$expr" "$file"
	if cmp -s "$file" "$file.orig"; then
		echo "'$expr' changes nothing in ${file#"$tree"/}"
		rm "$file.orig"
		return 1
	fi
	rm "$file.orig"
}

mut_bus-blind() {
	edit lib/region.c 's/\.bus = r->bus,/.bus = 0,/' &&
	edit lib/region.c 's/(\.vm = vm,\n\t\t)\.bus = bus,/$1.bus = bus \& 0,/' &&
	edit lib/region.c 's/r->vm == w->vm && r->bus == w->bus &&/r->vm == w->vm \&\&/' &&
	edit bpf/trap.bpf.c 's/key\.bus = d->bus;/key.bus = 0;/'
}

mut_past-end() {
	edit include/mmiotrap_rules.h 's/ && addr - r->addr \+ width <= r->len;/;/'
}

mut_zero-fields() {
	edit bpf/trap.bpf.c 's/f\.e\.ts_ns = bpf_ktime_get_ns\(\);/f.e.ts_ns = 0;/' &&
	edit bpf/trap.bpf.c 's/f\.e\.vcpu_tid = \(__u32\)id;/f.e.vcpu_tid = 0;/'
}

mut_rep-first() {
	edit bpf/trap.bpf.c 's/bpf_loop\(count, rep_one/bpf_loop(count ? 1 : 0, rep_one/'
}

mut_refuse-8() {
	edit include/mmiotrap_rules.h 's/return width <= 8 &&/return width <= 4 \&\&/'
}

mut_unmatched-twice() {
	edit bpf/trap.bpf.c 's/t->unmatched\+\+;/t->unmatched += 2;/'
}

mut_value-off-by-one() {
	edit bpf/trap.bpf.c 's/f\.e\.value = d->value;/f.e.value = d->value + 1;/'
}

mut_seq-swap() {
	edit bpf/trap.bpf.c 's/f\.e\.seq = __sync_fetch_and_add\(&slot->seq, 1\);/f.e.seq = __sync_fetch_and_add(&slot->seq, 1) ^ 1;/'
}

mut_silent-drop() {
	edit bpf/trap.bpf.c 's/(\tring = bpf_map_lookup_elem\(&rings, &sub\);)/\tif (f->e.seq == 5)\n\t\treturn 0;\n$1/'
}

mut_wrong-region() {
	edit bpf/trap.bpf.c 's/f\.e\.region = r->id;/f.e.region = r->id + 1;/'
}

mut_filter-ignored() {
	edit lib/routes.c 's/return \(!s->vm \|\| s->vm == r->vm\) && \(!s->region \|\| s->region == r->id\);/return s \&\& r;/'
}

mut_route-blind() {
	edit bpf/trap.bpf.c 's/q->route != route &&\n\t    !foreign_interrupt\(q\)/0 \&\& !foreign_interrupt(q)/'
}

mut_patience-63() {
	edit bpf/trap.bpf.c 's/q->foreign < MMIOTRAP_ROUTE_PATIENCE\)/q->foreign < MMIOTRAP_ROUTE_PATIENCE - 1)/'
}

mut_shared-teaches() {
	edit bpf/trap.bpf.c 's/(\t\tclosed = closed \? 2 : 1;)/\t\tif (mmiotrap_route_confirmed(q->route, q->route_seen))\n\t\t\tcontinue;\n$1/'
}

mut_learning-waits() {
	edit bpf/trap.bpf.c 's/if \(mmiotrap_route_confirmed\(q->route, q->route_seen\) && q->route != route &&/if (q->route \&\& q->route != route \&\&/'
}

# copy DIR: the working tree as it is, uncommitted changes too, without build output.
copy() {
	mkdir -p "$1"
	git -C "$here" ls-files -z --cached --others --exclude-standard |
		(cd "$here" && tar --null -T - -cf -) | tar -xf - -C "$1"
}

# run_suites TREE SUITES...: the first suite that fails, or nothing.
run_suites() {
	local tree=$1 suite
	shift
	for suite; do
		[[ " ${MUTATE_WITHOUT-} " != *" $suite "* ]] || continue
		if ! MMIOTRAP_BUILD=$tree/build MMIOTRAP_TEST_PIN_ROOT=/sys/fs/bpf/mmiotrap-mutate \
			BATS_TEST_TIMEOUT=120 bats "$tree/selftests/$suite.bats" >"$tree/$suite.log" 2>&1; then
			echo "$suite"
			return
		fi
	done
}

build() {
	make -C "$1" -j2 -s >"$1/build.log" 2>&1
}

[ "$(id -u)" = 0 ] || { echo "mutate: the suites load BPF: run as root" >&2; exit 2; }
work=$(mktemp -d /tmp/mmiotrap-mutate.XXXXXX)
[ "$keep" = 1 ] || trap 'rm -rf "$work"' EXIT

if [ -r /dev/kvm ] && [ -w /dev/kvm ]; then
	echo "mutate: /dev/kvm usable: the suites that start a VM run too"
else
	echo "mutate: no usable /dev/kvm: suites that start a VM skip, so only BPF-level tests can catch"
fi

[ -z "${MUTATE_WITHOUT-}" ] || echo "mutate: left out: $MUTATE_WITHOUT"

# The suites of the chosen mutations, on the tree as it is: they must pass.
selected=$(grep -v '^$' <<<"$MUTATIONS" | while IFS='|' read -r name suites _; do
	if [ $# = 0 ] || printf '%s\n' "$@" | grep -qx "$name"; then
		echo "$name|$suites"
	fi
done)
[ -n "$selected" ] || { echo "mutate: no mutation named $*" >&2; exit 2; }
tree=$work/base
copy "$tree"
build "$tree" || { echo "mutate: the unmutated tree does not build: see $tree/build.log" >&2; exit 1; }
# shellcheck disable=SC2046 # one word per suite
failed=$(run_suites "$tree" $(cut -d'|' -f2 <<<"$selected" | tr ' ' '\n' | sort -u))
if [ -n "$failed" ]; then
	echo "mutate: $failed fails on the unmutated tree: nothing to compare with" >&2
	cat "$tree/$failed.log" >&2
	exit 1
fi

survived=0
while IFS='|' read -r name suites; do
	tree=$work/$name
	copy "$tree"
	if ! why=$(cd "$tree" && "mut_$name"); then
		printf '%-18s not applied: %s\n' "$name" "$why"
		survived=$((survived + 1))
		continue
	fi
	if ! build "$tree"; then
		printf '%-18s not applied: it does not build (%s)\n' "$name" "$tree/build.log"
		survived=$((survived + 1))
		continue
	fi
	# shellcheck disable=SC2086 # one word per suite
	failed=$(run_suites "$tree" $suites)
	if [ -n "$failed" ]; then
		printf '%-18s caught by %s\n' "$name" "$failed"
	else
		# A skipped test passes and catches nothing (another VM on the
		# host, say): say so, or a survivor looks like a weak test.
		skipped=$(grep -l '^ok .* # skip' "$tree"/*.log 2>/dev/null | xargs -r -n1 basename |
			sed 's/\.log$//' | paste -sd' ')
		printf '%-18s survived (%s)%s\n' "$name" "$suites" "${skipped:+; tests skipped in $skipped}"
		survived=$((survived + 1))
	fi
	[ "$keep" = 1 ] || rm -rf "$tree"
done <<<"$selected"
echo "mutate: $survived of $(wc -l <<<"$selected") survived"
[ "$survived" = 0 ]
