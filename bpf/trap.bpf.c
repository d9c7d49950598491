// SPDX-License-Identifier: GPL-2.0
/*
 * The trap: every MMIO and PIO write a vCPU makes passes through here before
 * KVM hands it to an in-kernel device or to the VMM. Writes inside a
 * registered region become one record in the ring of each subscriber the
 * region's route names; everything else costs one hash lookup and a per-CPU
 * counter.
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

/*
 * The loader sizes the maps indexed by region id and the rest (struct
 * mmiotrap_opts). regions is mmap'ed by the library too: reading the table
 * costs it no system call.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MMIOTRAP_DEFAULT_REGIONS + 1);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, struct mmiotrap_region);
} regions SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MMIOTRAP_DEFAULT_VMS);
	__type(key, __u32);
	__type(value, struct mmiotrap_vm);
} vms SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MMIOTRAP_VM_BITS_WORDS);
	__uint(map_flags, BPF_F_MMAPABLE);
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
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, struct mmiotrap_slot);
} slots SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, MMIOTRAP_DEFAULT_REGIONS + 1);
	__type(key, __u32);
	__type(value, struct mmiotrap_counters);
} counters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MMIOTRAP_DEFAULT_REGIONS + 1);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, struct mmiotrap_route);
} routes SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MMIOTRAP_MAX_SUBS);
	__type(key, __u32);
	__type(value, struct mmiotrap_sub_slot);
} subs SEC(".maps");

/* Each subscriber's ring, made by the library when it subscribes. */
struct ring {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 20);
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, MMIOTRAP_MAX_SUBS);
	__type(key, __u32);
	__array(values, struct ring);
} rings SEC(".maps");

/*
 * Each subscriber's lost records by region id, mmap'ed by the subscriber,
 * as large as the instance's region table (BPF_F_INNER_MAP: any size).
 */
struct drop_counts {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__uint(map_flags, BPF_F_MMAPABLE | BPF_F_INNER_MAP);
	__type(key, __u32);
	__type(value, __u64);
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, MMIOTRAP_MAX_SUBS);
	__type(key, __u32);
	__array(values, struct drop_counts);
} drops SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct mmiotrap_totals);
} totals SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MMIOTRAP_DEFAULT_QUEUES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct mmiotrap_queue_key);
	__type(value, struct mmiotrap_queue_stats);
} queues SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MMIOTRAP_DEFAULT_VMS);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u32);
	__type(value, struct mmiotrap_vm_irqs);
} irqs SEC(".maps");

/* What a new queue row or a VM's first interval starts from. */
static const struct mmiotrap_queue_stats zero_queue;
static const struct mmiotrap_vm_irqs zero_irqs;

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

/*
 * The VMM's entry, if mmiotrap watches it. Most exits are of VMs it does
 * not: for them the bit is the whole test, at half the price of a hash
 * lookup (docs/cost.md).
 */
static struct mmiotrap_vm *watched_vm(__u32 tgid)
{
	__u32 word = tgid / 64;
	__u64 *bits = bpf_map_lookup_elem(&vm_bits, &word);

	if (!bits || !(*bits & (1ULL << (tgid % 64))))
		return NULL;
	return bpf_map_lookup_elem(&vms, &tgid);
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
	__u64 now;		/* bpf_ktime_get_ns(), once it was needed */
	__u32 width;
	__u32 flags;
	__u8 bus;
};

/* One clock read a write: it costs as much as the rest of a lookup (docs/cost.md). */
static __u64 doorbell_ns(struct doorbell *d)
{
	if (!d->now)
		d->now = bpf_ktime_get_ns();
	return d->now;
}

/* A record in the ring: the event and the ring's 8-byte header. */
#define RECORD_SIZE	(sizeof(struct mmiotrap_event) + 8)

/* The lowest set bit's index: BPF has no ctz, a de Bruijn sequence does it. */
static const __u8 debruijn[64] = {
	0, 1, 48, 2, 57, 49, 28, 3, 61, 58, 50, 42, 38, 29, 17, 4,
	62, 55, 59, 36, 53, 51, 43, 22, 45, 39, 33, 30, 24, 18, 12, 5,
	63, 47, 56, 27, 60, 41, 37, 16, 54, 35, 52, 21, 44, 32, 23, 11,
	46, 26, 40, 15, 34, 20, 31, 10, 25, 14, 19, 9, 13, 8, 7, 6,
};

static __u32 lowest_bit(__u64 x)
{
	return debruijn[((x & -x) * 0x03f79d71b4cb0a89ULL) >> 58];
}

/* A ring full: this subscriber's loss, counted where it reads it. */
static void count_drop(__u32 sub, __u32 id)
{
	void *counts = bpf_map_lookup_elem(&drops, &sub);
	__u32 all = 0;
	__u64 *n;

	if (!counts)
		return;
	n = bpf_map_lookup_elem(counts, &id);
	if (n)
		__sync_fetch_and_add(n, 1);
	n = bpf_map_lookup_elem(counts, &all);
	if (n)
		__sync_fetch_and_add(n, 1);
}

/* Per CPU, per subscriber: records since the last wakeup of a batch. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, MMIOTRAP_MAX_SUBS);
	__type(key, __u32);
	__type(value, __u64);
} batched SEC(".maps");

/*
 * A wakeup is a self-IPI. An owner of a quiet region has a cheaper one of
 * its own (the ioeventfd, or the exit it dispatches); a batched subscriber
 * is woken once per watermark's worth of records a CPU puts in its ring,
 * counted on that CPU alone (the ring's own positions are on cache lines
 * its reader writes), and its timer takes the rest.
 */
static __u64 wakeup(__u32 sub, const struct mmiotrap_region *r,
		    const struct mmiotrap_route *route)
{
	struct mmiotrap_sub_slot *s;
	__u64 *n;

	if ((r->action & MMIOTRAP_ACTION_QUIET) && route->owner == sub + 1)
		return BPF_RB_NO_WAKEUP;
	s = bpf_map_lookup_elem(&subs, &sub);
	if (!s || !(s->flags & MMIOTRAP_SUB_BATCHED))
		return 0;
	n = bpf_map_lookup_elem(&batched, &sub);
	if (!n || ++*n * RECORD_SIZE < s->watermark)
		return BPF_RB_NO_WAKEUP;
	*n = 0;
	return BPF_RB_FORCE_WAKEUP;
}

/* One record, handed to each reader's ring in turn (bpf_loop: verified once). */
struct fanout {
	struct mmiotrap_event e;
	const struct mmiotrap_region *r;
	const struct mmiotrap_route *route;
	struct mmiotrap_slot *slot;
	struct mmiotrap_counters *cnt;
	__u64 readers;
};

static long fan_one(__u32 i, struct fanout *f)
{
	__u32 sub;
	void *ring;

	if (!f->readers)
		return 1;
	sub = lowest_bit(f->readers);
	f->readers &= f->readers - 1;
	ring = bpf_map_lookup_elem(&rings, &sub);
	if (!ring)
		return 0;
	if (bpf_ringbuf_output(ring, &f->e, sizeof(f->e), wakeup(sub, f->r, f->route))) {
		__sync_fetch_and_add(&f->slot->dropped, 1);
		f->cnt->dropped++;
		count_drop(sub, f->r->id);
		return 0;
	}
	f->cnt->emitted++;
	return 0;
}

static void emit(struct doorbell *d, const struct mmiotrap_region *r,
		 const struct mmiotrap_decoded *dec, struct mmiotrap_slot *slot,
		 struct mmiotrap_counters *cnt)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct fanout f;

	f.e.flags = d->flags;
	f.route = bpf_map_lookup_elem(&routes, &r->id);
	f.e.seq = __sync_fetch_and_add(&slot->seq, 1);
	if (!f.route || !f.route->readers)
		return;
	f.e.abi = MMIOTRAP_ABI_VERSION;
	f.e.bus = d->bus;
	f.e.width = d->width;
	f.e.ts_ns = doorbell_ns(d);
	f.e.vm = id >> 32;
	f.e.vcpu_tid = (__u32)id;
	f.e.addr = d->addr;
	f.e.value = d->value;
	f.e.region = r->id;
	f.e.lost = 0;
	f.e.gen = r->gen;
	f.e.dec = *dec;
	f.r = r;
	f.slot = slot;
	f.cnt = cnt;
	f.readers = f.route->readers;
	/* Most regions have one reader, their owner: no loop for it. */
	if (f.readers & (f.readers - 1))
		bpf_loop(MMIOTRAP_MAX_SUBS, fan_one, &f, 0);
	else
		fan_one(0, &f);
}

/*
 * The first doorbell of a queue since its last answer opens an interval
 * and takes one of its VM's slots, where the VM's next interrupt finds it
 * (docs/latency.md). Later doorbells of an open queue cost one load.
 */
static void open_interval(struct mmiotrap_queue_stats *q, const struct mmiotrap_queue_key *key,
			  __u32 tgid, struct doorbell *d)
{
	struct mmiotrap_vm_irqs *v;
	__u64 now;
	int i;

	if (q->open_ns)
		return;
	v = bpf_map_lookup_elem(&irqs, &tgid);
	if (!v) {
		bpf_map_update_elem(&irqs, &tgid, &zero_irqs, BPF_NOEXIST);
		v = bpf_map_lookup_elem(&irqs, &tgid);
		if (!v)
			return;
	}
	for (i = 0; i < MMIOTRAP_IRQ_SLOTS; i++) {
		if (v->slot[i].armed || __sync_val_compare_and_swap(&v->slot[i].armed, 0, 1))
			continue;
		v->slot[i].key = *key;
		now = doorbell_ns(d);
		/* Another vCPU opened it meanwhile: its slot serves. */
		if (__sync_val_compare_and_swap(&q->open_ns, 0, now)) {
			__sync_lock_test_and_set(&v->slot[i].armed, 0);
			return;
		}
		__sync_lock_test_and_set(&v->slot[i].armed, now);
		return;
	}
	__sync_fetch_and_add(&q->no_slot, 1);
}

static void count_queue(struct doorbell *d, const struct mmiotrap_region *r,
			const struct mmiotrap_decoded *dec, __u32 tgid)
{
	struct mmiotrap_queue_key key = {
		.region = r->id, .queue = dec->queue, .kind = dec->kind, .gen = r->gen,
	};
	struct mmiotrap_queue_stats *q;

	/* A guest could write a row per bad queue number: they share one. */
	if (dec->kind == MMIOTRAP_KIND_OFF_GRID || dec->kind == MMIOTRAP_KIND_BAD_QUEUE)
		key.queue = 0;
	q = bpf_map_lookup_elem(&queues, &key);
	if (!q) {
		bpf_map_update_elem(&queues, &key, &zero_queue, BPF_NOEXIST);
		q = bpf_map_lookup_elem(&queues, &key);
		if (!q) {
			struct mmiotrap_totals *t = my_totals();

			if (t)
				t->queues_full++;
			return;
		}
	}
	__sync_fetch_and_add(&q->writes, 1);
	if (d->flags & MMIOTRAP_EVENT_FAST)
		__sync_fetch_and_add(&q->fast, 1);
	q->value = d->value;
	if (mmiotrap_kind_asks(dec->kind))
		open_interval(q, &key, tgid, d);
}

/*
 * The id of @vm's region that holds @d's address, or 0. A VM with few
 * regions has them in its entry, already at hand: a scan of them costs a
 * fraction of a walk of the address index, which grows with the table
 * (docs/cost.md).
 */
static __u32 find_region(const struct mmiotrap_vm *vm, const struct doorbell *d, __u32 tgid)
{
	struct mmiotrap_index_key key = {};
	__u32 i, *id;

	if (vm->regions <= MMIOTRAP_VM_RANGES) {
		for (i = 0; i < MMIOTRAP_VM_RANGES && i < vm->regions; i++) {
			const struct mmiotrap_vm_range *g = &vm->range[i];

			if (g->bus == d->bus && d->addr - g->addr <= g->span)
				return g->id;
		}
		return 0;
	}
	key.prefixlen = MMIOTRAP_INDEX_FIXED_BITS + 64;
	key.vm = tgid;
	key.bus = d->bus;
	key.addr_be = bpf_cpu_to_be64(d->addr);
	id = bpf_map_lookup_elem(&addr_index, &key);
	return id ? *id : 0;
}

static __noinline int trap_write(struct doorbell *d)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct mmiotrap_decoded dec;
	struct mmiotrap_counters *cnt;
	struct mmiotrap_region *r;
	struct mmiotrap_slot *slot;
	struct mmiotrap_vm *vm;
	__u32 id;

	vm = watched_vm(tgid);
	if (!vm || !(vm->buses & (1 << d->bus))) {
		count_unmatched();
		return 0;
	}
	id = find_region(vm, d, tgid);
	if (!id) {
		count_unmatched();
		return 0;
	}
	r = bpf_map_lookup_elem(&regions, &id);
	cnt = bpf_map_lookup_elem(&counters, &id);
	slot = bpf_map_lookup_elem(&slots, &id);
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
	/* Counted whether anyone subscribes or not: the kernel/exit split is the region's. */
	if (mmiotrap_region_fast(r, d->addr, d->width))
		d->flags |= MMIOTRAP_EVENT_FAST;
	if (d->flags & MMIOTRAP_EVENT_FAST)
		cnt->fast++;
	mmiotrap_decode(r, d->addr, d->value, &dec);
	count_queue(d, r, &dec, tgid);
	if (r->action & MMIOTRAP_ACTION_RING)
		emit(d, r, &dec, slot, cnt);
	return 0;
}

/*
 * The elements of a rep outs, each a write of its own (bpf_loop: the
 * trap is verified once, not once an element; a plain loop made this the
 * slowest program of the trap to load).
 */
struct rep {
	struct doorbell d;
	const void *data;
};

static long rep_one(__u32 i, struct rep *rep)
{
	struct doorbell d = rep->d;

	d.src = rep->data + (__u64)i * d.width;
	trap_write(&d);
	return 0;
}

static int trap_pio(unsigned int rw, unsigned int port, unsigned int size,
		    unsigned int count, const void *data)
{
	struct rep rep = {
		.d = { .addr = port, .width = size, .bus = MMIOTRAP_BUS_PIO },
		.data = data,
	};

	if (rw != KVM_PIO_OUT)
		return 0;
	if (!data) {
		rep.d.flags = MMIOTRAP_EVENT_NO_VALUE;
		return trap_write(&rep.d);
	}
	if (count > MMIOTRAP_PIO_REP_MAX) {
		rep.d.flags = MMIOTRAP_EVENT_REP_TRUNCATED;
		count = MMIOTRAP_PIO_REP_MAX;
	}
	bpf_loop(count, rep_one, &rep, 0);
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

/*
 * A length-0 ioeventfd's write on the fast MMIO bus: KVM completed it
 * without decoding the instruction, so there is no value and no width,
 * only the address (for modern virtio-pci, the queue).
 */
static int trap_fast_mmio(__u64 gpa)
{
	struct doorbell d = {
		.addr = gpa,
		.bus = MMIOTRAP_BUS_MMIO,
		.flags = MMIOTRAP_EVENT_NO_VALUE | MMIOTRAP_EVENT_FAST,
	};

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

SEC("tp_btf/kvm_fast_mmio")
int BPF_PROG(tp_btf_fast_mmio, __u64 gpa)
{
	return trap_fast_mmio(gpa);
}

SEC("raw_tp/kvm_fast_mmio")
int BPF_PROG(raw_tp_fast_mmio, __u64 gpa)
{
	return trap_fast_mmio(gpa);
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

/* log2 of @v, 0 for 0 and 1 (bcc's log2l, without a loop). */
static __u32 log2_ns(__u64 v)
{
	__u32 r = 0, shift;

	shift = (v > 0xffffffff) << 5; v >>= shift; r |= shift;
	shift = (v > 0xffff) << 4; v >>= shift; r |= shift;
	shift = (v > 0xff) << 3; v >>= shift; r |= shift;
	shift = (v > 0xf) << 2; v >>= shift; r |= shift;
	shift = (v > 0x3) << 1; v >>= shift; r |= shift;
	r |= (v >> 1);
	return r;
}

/* Add an interval of @ns to row @q's histogram. */
static void count_pair(struct mmiotrap_queue_stats *q, __u64 ns)
{
	/* 64 bits: a 32-bit b is clamped in a copy, which 6.1's verifier cannot follow. */
	__u64 b = log2_ns(ns);

	if (b >= MMIOTRAP_LAT_BUCKETS)
		b = MMIOTRAP_LAT_BUCKETS - 1;
	__sync_fetch_and_add(&q->lat[b], 1);
	__sync_fetch_and_add(&q->lat_sum_ns, ns);
	__sync_fetch_and_add(&q->pairs, 1);
}

/*
 * An interrupt of another route passed row @q's open interval, whose route
 * is confirmed. ROUTE_PATIENCE of them in a row: the queue is answered
 * elsewhere now (the guest moved its vector); it forgets its route, and
 * takes this interrupt as a learning row does. Returns whether it does.
 */
static bool foreign_interrupt(struct mmiotrap_queue_stats *q)
{
	__u64 route = q->route;

	__sync_fetch_and_add(&q->foreign, 1);
	if (q->foreign < MMIOTRAP_ROUTE_PATIENCE)
		return false;
	/* One CPU drops it, and counts it. */
	if (__sync_val_compare_and_swap(&q->route, route, 0) == route) {
		q->route_seen = 0;
		__sync_fetch_and_add(&q->relearns, 1);
	}
	return true;
}

/*
 * Close slot @s's interval if interrupt @route answers it (docs/latency.md):
 * a row with a confirmed route waits for that route, a row still learning
 * takes any interrupt. Returns the row it closed, or NULL.
 */
static struct mmiotrap_queue_stats *answer_slot(struct mmiotrap_irq_slot *s, __u64 route,
						__u64 now)
{
	struct mmiotrap_queue_stats *q;
	struct mmiotrap_queue_key key;
	__u64 armed = s->armed;

	if (armed <= 1)
		return NULL;
	key = s->key;
	q = bpf_map_lookup_elem(&queues, &key);
	/* The key read belongs to this interval only if the slot kept it. */
	if (*(volatile __u64 *)&s->armed != armed)
		return NULL;
	/* A row gone with its region, or closed and reopened since: free the slot. */
	if (!q || q->open_ns != armed) {
		__sync_val_compare_and_swap(&s->armed, armed, 0);
		return NULL;
	}
	if (mmiotrap_route_confirmed(q->route, q->route_seen) && q->route != route &&
	    !foreign_interrupt(q))
		return NULL;
	/* Another interrupt closes it first, on another CPU: it is that one's. */
	if (__sync_val_compare_and_swap(&s->armed, armed, 0) != armed ||
	    __sync_val_compare_and_swap(&q->open_ns, armed, 0) != armed)
		return NULL;
	q->foreign = 0;
	count_pair(q, now > armed ? now - armed : 0);
	return q;
}

/*
 * Row @q's interval was the only one interrupt @route closed: the route
 * answers its queue, more surely each time (docs/latency.md). A close
 * shared with other rows says nothing of which one the route served.
 */
static void learn_route(struct mmiotrap_queue_stats *q, __u64 route)
{
	if (q->route == route) {
		__sync_fetch_and_add(&q->route_seen, 1);
		return;
	}
	/* Confirmed meanwhile, on another CPU, by its own route: keep it. */
	if (mmiotrap_route_confirmed(q->route, q->route_seen))
		return;
	q->route = route;
	q->route_seen = 1;
}

/*
 * An interrupt the current process signalled (KVM_SIGNAL_MSI, KVM_IRQ_LINE,
 * an irqfd it wrote), of @route: it answers the intervals its VM has open
 * that wait for @route or for any interrupt.
 */
static int vm_interrupt(__u64 route)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct mmiotrap_vm_irqs *v = bpf_map_lookup_elem(&irqs, &tgid);
	struct mmiotrap_queue_stats *q, *lone = NULL;
	struct mmiotrap_totals *t;
	__u32 closed = 0;
	__u64 now;
	int i;

	if (!v)
		return 0;
	now = bpf_ktime_get_ns();
	__sync_fetch_and_add(&v->irqs, 1);
	t = my_totals();
	if (t)
		t->irqs++;
	for (i = 0; i < MMIOTRAP_IRQ_SLOTS; i++) {
		q = answer_slot(&v->slot[i], route, now);
		if (!q)
			continue;
		/* 0, 1 or more: what learning needs, and few states for the verifier. */
		closed = closed ? 2 : 1;
		lone = q;
	}
	if (closed == 1 && lone)
		learn_route(lone, route);
	return 0;
}

SEC("tp_btf/kvm_msi_set_irq")
int BPF_PROG(tp_btf_msi, __u64 address, __u64 data)
{
	return vm_interrupt(mmiotrap_msi_route(address, data));
}

SEC("raw_tp/kvm_msi_set_irq")
int BPF_PROG(raw_tp_msi, __u64 address, __u64 data)
{
	return vm_interrupt(mmiotrap_msi_route(address, data));
}

/* A line's level: raising it is the interrupt, lowering it is not. */
SEC("tp_btf/kvm_set_irq")
int BPF_PROG(tp_btf_line, unsigned int gsi, int level, int irq_source_id)
{
	return level ? vm_interrupt(mmiotrap_line_route(gsi)) : 0;
}

SEC("raw_tp/kvm_set_irq")
int BPF_PROG(raw_tp_line, unsigned int gsi, int level, int irq_source_id)
{
	return level ? vm_interrupt(mmiotrap_line_route(gsi)) : 0;
}

/* Real exits to the VMM, of VMMs with regions: what the fast path saves. */
static int count_exit(void)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct mmiotrap_totals *t;

	if (!watched_vm(tgid))
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
	else if (bus_idx == bpf_core_enum_value(enum kvm_bus, KVM_FAST_MMIO_BUS))
		return trap_fast_mmio(addr);
	else if (bus_idx == bpf_core_enum_value(enum kvm_bus, KVM_PIO_BUS))
		d.bus = MMIOTRAP_BUS_PIO;
	else
		return 0;
	return trap_write(&d);
}

char LICENSE[] SEC("license") = "GPL";
