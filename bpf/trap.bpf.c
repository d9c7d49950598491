// SPDX-License-Identifier: GPL-2.0
/*
 * The trap: every MMIO and PIO write a vCPU makes passes through here before
 * KVM hands it to an in-kernel device or to the VMM. Writes inside a
 * registered region become one record in the ring buffer; everything else
 * costs one hash lookup and a per-CPU counter.
 *
 * One handler, three thin attach styles; the loader keeps the first that
 * loads (fentry, tp_btf, raw_tp) and turns the others off.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "mmiotrap_abi.h"
#include "mmiotrap_decode.h"
#include "mmiotrap_rules.h"

#define KVM_TRACE_MMIO_WRITE	2
#define KVM_PIO_OUT		1

/* Set by the loader from the kernel's BTF and sysconf(). */
const volatile bool mmio_val_is_ptr = true;
const volatile bool pio_has_data = true;
const volatile __u64 ns_per_tick = 10000000;

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MMIOTRAP_MAX_REGIONS);
	__type(key, __u32);
	__type(value, struct mmiotrap_region);
} regions SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MMIOTRAP_MAX_REGIONS);
	__type(key, __u32);
	__type(value, struct mmiotrap_vm);
} vms SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, MMIOTRAP_INDEX_ENTRIES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct mmiotrap_index_key);
	__type(value, __u32);
} addr_index SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MMIOTRAP_MAX_REGIONS);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, struct mmiotrap_slot);
} slots SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, MMIOTRAP_MAX_REGIONS);
	__type(key, __u32);
	__type(value, struct mmiotrap_counters);
} counters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct mmiotrap_totals);
} totals SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 21);
} events SEC(".maps");

static struct mmiotrap_totals *my_totals(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&totals, &zero);
}

static void count_unmatched(void)
{
	struct mmiotrap_totals *t = my_totals();

	if (t)
		t->unmatched++;
}

/* The pid may have been reused since the region was added. */
static bool same_process(const struct mmiotrap_vm *vm)
{
	struct task_struct *task = bpf_get_current_task_btf();
	__u64 start = task->group_leader->start_boottime;

	/* start_ticks = start / ns_per_tick, without a division. */
	return start >= vm->start_ticks * ns_per_tick &&
	       start - vm->start_ticks * ns_per_tick < ns_per_tick;
}

/* One write as a vCPU made it; src points at the bytes, or is NULL. */
struct doorbell {
	__u64 addr;
	__u64 value;
	const void *src;
	__u32 width;
	__u32 flags;
	__u8 bus;
};

static void emit(const struct doorbell *d, const struct mmiotrap_region *r,
		 struct mmiotrap_slot *slot, struct mmiotrap_counters *cnt, __u32 tgid)
{
	struct mmiotrap_event *e;
	__u32 flags = d->flags;

	if (mmiotrap_region_fast(r, d->addr, d->width)) {
		flags |= MMIOTRAP_EVENT_FAST;
		cnt->fast++;
	}
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		/* The seq gap, or the slot for the newest ones, tells what was lost. */
		__sync_fetch_and_add(&slot->seq, 1);
		__sync_fetch_and_add(&slot->dropped, 1);
		cnt->dropped++;
		return;
	}
	e->abi = MMIOTRAP_ABI_VERSION;
	e->bus = d->bus;
	e->width = d->width;
	e->flags = flags;
	e->ts_ns = bpf_ktime_get_ns();
	e->vm = tgid;
	e->vcpu_tid = (__u32)bpf_get_current_pid_tgid();
	e->addr = d->addr;
	e->value = d->value;
	e->region = r->id;
	e->gen = r->gen;
	e->lost = 0;
	e->seq = __sync_fetch_and_add(&slot->seq, 1);
	mmiotrap_decode(r, d->addr, d->value, &e->dec);
	/* A wakeup is a self-IPI: quiet regions have a cheaper one of their own. */
	bpf_ringbuf_submit(e, r->action & MMIOTRAP_ACTION_QUIET ? BPF_RB_NO_WAKEUP : 0);
	cnt->emitted++;
}

static __noinline int trap_write(struct doorbell *d)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct mmiotrap_index_key key = {};
	struct mmiotrap_counters *cnt;
	struct mmiotrap_region *r;
	struct mmiotrap_slot *slot;
	struct mmiotrap_vm *vm;
	__u32 *id;

	vm = bpf_map_lookup_elem(&vms, &tgid);
	if (!vm || !(vm->buses & (1 << d->bus))) {
		count_unmatched();
		return 0;
	}
	key.prefixlen = MMIOTRAP_INDEX_FIXED_BITS + 64;
	key.vm = tgid;
	key.bus = d->bus;
	key.addr_be = bpf_cpu_to_be64(d->addr);
	id = bpf_map_lookup_elem(&addr_index, &key);
	if (!id) {
		count_unmatched();
		return 0;
	}
	r = bpf_map_lookup_elem(&regions, id);
	cnt = bpf_map_lookup_elem(&counters, id);
	slot = bpf_map_lookup_elem(&slots, id);
	if (!r || !cnt || !slot)
		return 0;
	if (!same_process(vm)) {
		struct mmiotrap_totals *t = my_totals();

		if (t)
			t->stale++;
		return 0;
	}
	if (!mmiotrap_region_takes(r, d->addr, d->width)) {
		cnt->skipped++;
		return 0;
	}
	cnt->matched++;
	/*
	 * KVM passes kernel memory. BPF_PROG_TEST_RUN callers (mmiotrap-inject)
	 * pass their own: only a failed kernel read tries it as user memory.
	 */
	if (d->src && bpf_probe_read_kernel(&d->value, d->width & 0xf, d->src))
		bpf_probe_read_user(&d->value, d->width & 0xf, d->src);
	slot->value = d->value;
	if (r->action & MMIOTRAP_ACTION_RING)
		emit(d, r, slot, cnt, tgid);
	return 0;
}

static int trap_pio(unsigned int rw, unsigned int port, unsigned int size,
		    unsigned int count, const void *data)
{
	struct doorbell d = { .addr = port, .width = size, .bus = MMIOTRAP_BUS_PIO };
	unsigned int i;

	if (rw != KVM_PIO_OUT)
		return 0;
	if (!data) {
		d.flags = MMIOTRAP_EVENT_NO_VALUE;
		return trap_write(&d);
	}
	if (count > MMIOTRAP_PIO_REP_MAX)
		d.flags = MMIOTRAP_EVENT_REP_TRUNCATED;
	for (i = 0; i < MMIOTRAP_PIO_REP_MAX && i < count; i++) {
		d.src = data + (__u64)i * size;
		d.value = 0;
		trap_write(&d);
	}
	return 0;
}

static int trap_mmio(int type, int len, __u64 gpa, __u64 val)
{
	struct doorbell d = { .addr = gpa, .width = len, .bus = MMIOTRAP_BUS_MMIO };

	if (type != KVM_TRACE_MMIO_WRITE)
		return 0;
	if (mmio_val_is_ptr)
		d.src = (const void *)val;
	else
		d.value = val;
	return trap_write(&d);
}

/* kvm_pio's data argument is newer than the tracepoint: read it only if there. */
static const void *pio_data(__u64 *ctx)
{
	return pio_has_data ? (const void *)ctx[4] : NULL;
}

SEC("tp_btf/kvm_mmio")
int BPF_PROG(tp_btf_mmio, int type, int len, __u64 gpa, __u64 val)
{
	return trap_mmio(type, len, gpa, val);
}

SEC("tp_btf/kvm_pio")
int BPF_PROG(tp_btf_pio, unsigned int rw, unsigned int port, unsigned int size,
	     unsigned int count)
{
	return trap_pio(rw, port, size, count, pio_data(ctx));
}

SEC("raw_tp/kvm_mmio")
int BPF_PROG(raw_tp_mmio, int type, int len, __u64 gpa, __u64 val)
{
	return trap_mmio(type, len, gpa, val);
}

SEC("raw_tp/kvm_pio")
int BPF_PROG(raw_tp_pio, unsigned int rw, unsigned int port, unsigned int size,
	     unsigned int count)
{
	return trap_pio(rw, port, size, count, pio_data(ctx));
}

/* Real exits to the VMM, of VMMs with regions: what the fast path saves. */
static int count_exit(void)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct mmiotrap_totals *t;

	if (!bpf_map_lookup_elem(&vms, &tgid))
		return 0;
	t = my_totals();
	if (t)
		t->exits++;
	return 0;
}

SEC("tp_btf/kvm_userspace_exit")
int BPF_PROG(tp_btf_exit)
{
	return count_exit();
}

SEC("raw_tp/kvm_userspace_exit")
int BPF_PROG(raw_tp_exit)
{
	return count_exit();
}

/* Every write to an I/O bus, MMIO or PIO, one element at a time. */
SEC("fentry/kvm_io_bus_write")
int BPF_PROG(fentry_io_bus_write, struct kvm_vcpu *vcpu, enum kvm_bus bus_idx,
	     gpa_t addr, int len, const void *val)
{
	struct doorbell d = { .addr = addr, .width = len, .src = val };

	if (bus_idx == bpf_core_enum_value(enum kvm_bus, KVM_MMIO_BUS))
		d.bus = MMIOTRAP_BUS_MMIO;
	else if (bus_idx == bpf_core_enum_value(enum kvm_bus, KVM_PIO_BUS))
		d.bus = MMIOTRAP_BUS_PIO;
	else
		return 0;
	return trap_write(&d);
}

char LICENSE[] SEC("license") = "GPL";
