// SPDX-License-Identifier: GPL-2.0
/*
 * The trap's parts, one program each: what a hash lookup, a trie walk or a
 * clock read costs on this host, measured as the trap is (BPF statistics
 * over BPF_PROG_TEST_RUN) by tools/costparts.c. The maps have the trap's
 * types and key layouts; docs/cost.md reads the figures.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "mmiotrap_abi.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MMIOTRAP_DEFAULT_VMS);
	__type(key, __u32);
	__type(value, struct mmiotrap_vm);
} vms SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MMIOTRAP_VM_BITS_WORDS);
	__type(key, __u32);
	__type(value, __u64);
} vm_bits SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, MMIOTRAP_DEFAULT_INDEX);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct mmiotrap_index_key);
	__type(value, __u32);
} addr_index SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MMIOTRAP_DEFAULT_REGIONS + 1);
	__type(key, __u32);
	__type(value, struct mmiotrap_region);
} regions SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} percpu SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} shared SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 20);	/* a subscriber's default ring */
} ring SEC(".maps");

/* Set by costparts.c: a pid with an entry, an address in one of its regions. */
const volatile __u32 vm_pid;
const volatile __u64 vm_addr;

/* Where results go, so that no part is optimized away. */
__u64 sink;

SEC("raw_tp")
int empty(void *ctx)
{
	return 0;
}

SEC("raw_tp")
int pid_tgid(void *ctx)
{
	sink = bpf_get_current_pid_tgid();
	return 0;
}

SEC("raw_tp")
int ktime(void *ctx)
{
	sink = bpf_ktime_get_ns();
	return 0;
}

/* The unwatched process: its bit, in an array of 65536 words. */
SEC("raw_tp")
int bit_test(void *ctx)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32, word = tgid / 64;
	__u64 *bits = bpf_map_lookup_elem(&vm_bits, &word);

	sink = bits && (*bits & (1ULL << (tgid % 64)));
	return 0;
}

/* The unwatched process again: a hash lookup that misses. */
SEC("raw_tp")
int hash_miss(void *ctx)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;

	sink = !!bpf_map_lookup_elem(&vms, &tgid);
	return 0;
}

SEC("raw_tp")
int hash_hit(void *ctx)
{
	__u32 pid = vm_pid;

	sink = !!bpf_map_lookup_elem(&vms, &pid);
	return 0;
}

/* The hit, then a scan of its 8 ranges to the last, as find_region() does. */
SEC("raw_tp")
int hash_scan8(void *ctx)
{
	__u32 pid = vm_pid, i;
	struct mmiotrap_vm *vm = bpf_map_lookup_elem(&vms, &pid);
	__u64 addr = vm_addr;

	if (!vm)
		return 0;
	for (i = 0; i < MMIOTRAP_VM_RANGES && i < vm->regions; i++)
		if (vm->range[i].bus == 0 && addr - vm->range[i].addr <= vm->range[i].span)
			sink = vm->range[i].id;
	return 0;
}

SEC("raw_tp")
int trie_walk(void *ctx)
{
	struct mmiotrap_index_key key = {
		.prefixlen = MMIOTRAP_INDEX_FIXED_BITS + 64,
		.vm = vm_pid,
		.addr_be = bpf_cpu_to_be64(vm_addr),
	};

	sink = !!bpf_map_lookup_elem(&addr_index, &key);
	return 0;
}

/* One of the three array lookups of a matched write. */
SEC("raw_tp")
int array_lookup(void *ctx)
{
	__u32 id = 1;

	sink = !!bpf_map_lookup_elem(&regions, &id);
	return 0;
}

SEC("raw_tp")
int percpu_add(void *ctx)
{
	__u32 zero = 0;
	__u64 *v = bpf_map_lookup_elem(&percpu, &zero);

	if (v)
		(*v)++;
	return 0;
}

/* A counter every CPU adds to: the cache line moves between them. */
SEC("raw_tp")
int atomic_add(void *ctx)
{
	__u32 zero = 0;
	__u64 *v = bpf_map_lookup_elem(&shared, &zero);

	if (v)
		__sync_fetch_and_add(v, 1);
	return 0;
}

SEC("raw_tp")
int probe_read(void *ctx)
{
	__u32 v;

	bpf_probe_read_kernel(&v, sizeof(v), &sink);
	sink = v;
	return 0;
}

/* A record as big as the trap's, without a wakeup. */
SEC("raw_tp")
int ring_output(void *ctx)
{
	struct mmiotrap_event e = { .addr = vm_addr };

	sink = bpf_ringbuf_output(&ring, &e, sizeof(e), BPF_RB_NO_WAKEUP);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
