/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The ABI shared by the BPF trap (bpf/trap.bpf.c) and userspace: the event
 * record, the map keys and values, and the counters. Fixed-width types only;
 * every layout here is what lives in the pinned maps.
 */
#ifndef MMIOTRAP_ABI_H
#define MMIOTRAP_ABI_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define MMIOTRAP_ABI_VERSION	4

/*
 * Table sizes are chosen at load (struct mmiotrap_opts); these are the
 * defaults, which fit a large host. Region ids run from 1, so the region
 * maps have one entry more than there can be regions.
 */
#define MMIOTRAP_DEFAULT_REGIONS	16384
#define MMIOTRAP_DEFAULT_VMS		4096
/* Each region is indexed as at most 2 * 64 aligned power-of-two blocks; most take one or two. */
#define MMIOTRAP_DEFAULT_INDEX		65536
/* Decoded queues of all regions with a row of counters (the queues map). */
#define MMIOTRAP_DEFAULT_QUEUES		16384
/* Subscribers of one instance at once: each has a ring of its own. */
#define MMIOTRAP_MAX_SUBS		64
#define MMIOTRAP_NAME_LEN		32
/* rep outs: at most this many elements of one PIO exit become events. */
#define MMIOTRAP_PIO_REP_MAX	16

enum mmiotrap_bus {
	MMIOTRAP_BUS_MMIO	= 0,
	MMIOTRAP_BUS_PIO	= 1,
};

/* Accepted widths of a region: the OR of the widths themselves. */
#define MMIOTRAP_WIDTHS_ALL	(1 | 2 | 4 | 8)

enum mmiotrap_event_flags {
	/* The kernel's tracepoint carries no value (old kvm_pio). */
	MMIOTRAP_EVENT_NO_VALUE		= 1 << 0,
	/* More rep-outs elements than MMIOTRAP_PIO_REP_MAX; the rest were not seen. */
	MMIOTRAP_EVENT_REP_TRUNCATED	= 1 << 1,
	/* The write completed in the kernel (an ioeventfd): no exit to the VMM. */
	MMIOTRAP_EVENT_FAST		= 1 << 2,
	/*
	 * Made by libmmiotrap, never by the trap: this subscriber's ring had
	 * no room for @lost records of @region (the next of which would have
	 * had @seq); @value is the region's newest value.
	 */
	MMIOTRAP_EVENT_LOST		= 1 << 3,
	/*
	 * Made by libmmiotrap: the instance was unloaded under the subscriber.
	 * The last event it gets; no record follows.
	 */
	MMIOTRAP_EVENT_GONE		= 1 << 4,
};

/* What a write means: include/mmiotrap_decode.h fills it. */
enum mmiotrap_kind {
	MMIOTRAP_KIND_RAW	= 0,	/* no decoder: the value as written */
	MMIOTRAP_KIND_SQ_TAIL	= 1,	/* NVMe: field[0] is SQ queue's new tail */
	MMIOTRAP_KIND_CQ_HEAD	= 2,	/* NVMe: field[0] is CQ queue's new head */
	MMIOTRAP_KIND_NOTIFY	= 3,	/* virtio: queue notified; field[0..2] next_off, next_wrap, avail idx */
	MMIOTRAP_KIND_OFF_GRID	= 4,	/* not at a doorbell the decoder knows */
	MMIOTRAP_KIND_BAD_QUEUE	= 5,	/* a doorbell beyond the configured queues */
	MMIOTRAP_KIND_FIELDS	= 6,	/* bitfield: field[0..3] */
};

#define MMIOTRAP_FIELDS		4

struct mmiotrap_decoded {
	__u32 kind;		/* enum mmiotrap_kind */
	__u32 queue;
	__u64 field[MMIOTRAP_FIELDS];
};

/* One doorbell write, as it goes through the ring buffer. */
struct mmiotrap_event {
	__u16 abi;		/* MMIOTRAP_ABI_VERSION */
	__u8 bus;		/* enum mmiotrap_bus */
	__u8 width;		/* bytes: 1, 2, 4 or 8 */
	__u32 flags;		/* enum mmiotrap_event_flags */
	__u64 ts_ns;		/* CLOCK_MONOTONIC, at the trap */
	__u32 vm;		/* VMM process (tgid) */
	__u32 vcpu_tid;		/* vCPU thread */
	__u64 addr;		/* guest physical address or port */
	__u64 value;		/* as written, zero-extended */
	__u32 region;		/* region id */
	__u32 lost;		/* MMIOTRAP_EVENT_LOST: how many */
	__u64 seq;		/* per region, from 0, one per write the trap saw */
	struct mmiotrap_decoded dec;	/* what the region's decoder made of it */
	__u64 gen;		/* the region's generation: which region under that id */
};

enum mmiotrap_decoder {
	MMIOTRAP_DECODER_RAW		= 0,	/* the value as written */
	MMIOTRAP_DECODER_NVME		= 1,
	MMIOTRAP_DECODER_VIRTIO_PCI	= 2,	/* modern: notify capability */
	MMIOTRAP_DECODER_VIRTIO_LEGACY	= 3,	/* QUEUE_NOTIFY of the I/O BAR */
	MMIOTRAP_DECODER_BITFIELD	= 4,
	MMIOTRAP_DECODER_MAX,
};

struct mmiotrap_nvme_params {
	__u64 bar0;		/* BAR0's guest physical address */
	__u32 dstrd;		/* CAP.DSTRD: doorbells are 4 << dstrd apart */
	__u32 queues;		/* queue pairs, admin included */
};

struct mmiotrap_virtio_params {
	__u64 notify_base;	/* the notify capability's address */
	__u32 multiplier;	/* notify_off_multiplier */
	__u16 queues;
	__u16 flags;		/* MMIOTRAP_VIRTIO_* */
};

struct mmiotrap_legacy_params {
	__u32 queues;
};

struct mmiotrap_bitfield_params {
	__u64 mask[MMIOTRAP_FIELDS];	/* applied after the shift; 0: unused */
	__u8 shift[MMIOTRAP_FIELDS];
	char name[MMIOTRAP_FIELDS][12];
};

union mmiotrap_decoder_params {
	struct mmiotrap_nvme_params nvme;
	struct mmiotrap_virtio_params virtio;
	struct mmiotrap_legacy_params legacy;
	struct mmiotrap_bitfield_params bitfield;
};

enum mmiotrap_action {
	MMIOTRAP_ACTION_COUNT	= 0,		/* counters only */
	MMIOTRAP_ACTION_RING	= 1 << 0,	/* a record in the ring buffer */
	/*
	 * Records wake no one: the region's ioeventfd wakes the subscriber
	 * for fast writes, the VMM's exit dispatch consumes the slow ones.
	 */
	MMIOTRAP_ACTION_QUIET	= 1 << 1,
};

enum mmiotrap_region_flags {
	/* Made by 'mmiotrap policy apply', which may change or remove it. */
	MMIOTRAP_REGION_POLICY	= 1 << 0,
};

/* regions: array map indexed by region id (from 1); len 0 marks a free id. */
struct mmiotrap_region {
	__u64 addr;
	__u64 len;
	__u32 id;
	__u32 vm;
	__u8 bus;		/* enum mmiotrap_bus */
	__u8 widths;		/* OR of accepted widths */
	__u8 decoder;		/* enum mmiotrap_decoder */
	__u8 action;		/* enum mmiotrap_action bits */
	__u8 fast_widths;	/* widths an ioeventfd completes in the kernel */
	__u8 flags;		/* enum mmiotrap_region_flags */
	__u8 want_fast;		/* fast widths asked for, for the VMM to adopt */
	__u8 reserved;
	char name[MMIOTRAP_NAME_LEN];
	union mmiotrap_decoder_params params;
	/*
	 * The table's version when the region was added: a later region
	 * under a reused id has a higher one.
	 */
	__u64 gen;
};

/*
 * vm_bits: array map of 64-bit words, a bit per pid (pid / 64, pid % 64),
 * mmap'ed by the library. A pid's bit is set before its vms entry is made
 * and cleared after it is gone: a clear bit means no entry, so the trap
 * skips the hash lookup for every process it does not watch.
 */
#define MMIOTRAP_PID_MAX	(1U << 22)	/* the kernel's PID_MAX_LIMIT on 64-bit */
#define MMIOTRAP_VM_BITS_WORDS	(MMIOTRAP_PID_MAX / 64)

/* A VM with at most this many regions has them all in its vms entry. */
#define MMIOTRAP_VM_RANGES	8

/* One region of a VM: it holds addresses addr to addr + span. */
struct mmiotrap_vm_range {
	__u64 addr;
	__u64 span;		/* len - 1: a region may end at the top of the space */
	__u32 id;
	__u32 bus;		/* enum mmiotrap_bus */
};

/*
 * vms: hash map keyed by VMM tgid. start_ticks is the process start time in
 * clock ticks since boot (/proc/PID/stat field 22) so that a region never
 * captures for a later process that reuses the pid. A VM of at most
 * MMIOTRAP_VM_RANGES regions lists them in range[], and the trap scans
 * them; one with more is looked up in addr_index.
 */
struct mmiotrap_vm {
	__u64 start_ticks;
	__u32 buses;		/* 1 << enum mmiotrap_bus with regions */
	__u32 regions;
	struct mmiotrap_vm_range range[MMIOTRAP_VM_RANGES];
};

/*
 * addr_index: LPM trie from (vm, bus, address) to region id. Everything after
 * prefixlen is matched bit by bit, so the address is stored big-endian.
 */
struct mmiotrap_index_key {
	__u32 prefixlen;
	__u32 vm;
	__u32 bus;
	__u32 reserved;
	__u64 addr_be;
};

#define MMIOTRAP_INDEX_FIXED_BITS	96	/* vm, bus, reserved */

/*
 * slots: array map indexed by region id, mmap-able: the next seq, the
 * newest value, and how many records the rings had no room for. slots[0]
 * is no region's: its seq is the region table's version, bumped by every
 * change, so that a subscriber sees in shared memory that its view is old,
 * and its reserved word says whether the instance is loaded, so that a
 * subscriber sees that it was unloaded under it.
 */
struct mmiotrap_slot {
	__u64 seq;
	__u64 value;
	__u64 dropped;
	__u64 reserved;
};

#define MMIOTRAP_INSTANCE_LIVE		0x6d6d696f74726170ULL	/* "mmiotrap" */

/*
 * routes: array map indexed by region id: the subscribers that get the
 * region's records (a bit per subscriber slot), and its owner, the one
 * that serves it (slot + 1; 0: none). The library keeps it; the trap reads
 * it for each matched write.
 */
struct mmiotrap_route {
	__u64 readers;
	__u32 owner;
	__u32 reserved;
};

enum mmiotrap_sub_flags {
	MMIOTRAP_SUB_LIVE	= 1 << 0,
	/* Wake once per watermark bytes of records a CPU writes; the subscriber's timer takes the rest. */
	MMIOTRAP_SUB_BATCHED	= 1 << 1,
	/* It owns what its filter selects and nobody else owns. */
	MMIOTRAP_SUB_OWNER	= 1 << 2,
};

/*
 * subs: array map indexed by subscriber slot: its filter and wakeup
 * policy, and the process it belongs to, so that the next library call
 * reclaims the slot of a subscriber that died. Its ring is rings[slot],
 * and drops[slot][region id] counts the records that ring had no room
 * for (drops[slot][0]: all of them).
 */
struct mmiotrap_sub_slot {
	__u64 watermark;	/* bytes; MMIOTRAP_SUB_BATCHED */
	__u64 start_ticks;	/* of pid, as struct mmiotrap_vm's */
	__u32 flags;		/* enum mmiotrap_sub_flags */
	__u32 pid;
	__u32 vm;		/* filter: only this VMM; 0: any */
	__u32 region;		/* filter: only this region id; 0: any */
};

/* counters: per-CPU array map indexed by region id. */
struct mmiotrap_counters {
	__u64 matched;		/* writes inside the region, accepted width */
	__u64 emitted;		/* records committed, one per subscriber ring */
	__u64 dropped;		/* records a subscriber's ring had no room for */
	__u64 skipped;		/* inside the region, width not accepted */
	__u64 fast;		/* of matched, completed by an ioeventfd */
};

/* totals: per-CPU array map with one entry. */
struct mmiotrap_totals {
	__u64 unmatched;	/* writes in no region */
	__u64 stale;		/* writes by a process reusing a region's pid */
	__u64 exits;		/* userspace exits of VMMs with regions */
	__u64 queues_full;	/* matched writes of a queue the queues map had no room for */
	__u64 irqs;		/* interrupts signalled by VMMs with open intervals (docs/latency.md) */
};

/*
 * Doorbell-to-interrupt latency (docs/latency.md): log2 buckets of
 * nanoseconds, bucket i counting [2^i, 2^(i+1)) (bucket 0 also 0); the last
 * bucket takes everything longer.
 */
#define MMIOTRAP_LAT_BUCKETS	32

/*
 * queues: hash map from a region's decoded queue to its counters, kept by
 * the trap for every matched write. Writes off the decoder's grid or to a
 * queue beyond its configuration are counted on one row each (queue 0),
 * so that a guest cannot fill the map. gen tells a reused region id's rows
 * from its predecessor's.
 */
struct mmiotrap_queue_key {
	__u32 region;
	__u32 queue;		/* mmiotrap_decoded.queue */
	__u32 kind;		/* enum mmiotrap_kind */
	__u32 reserved;
	__u64 gen;		/* mmiotrap_region.gen */
};

/*
 * An interrupt's route, as one number: an MSI's (address, data) or a
 * line's GSI, the kind in bits 33:32 (never 0). MSI: address bits 31:2
 * (bits 1:0 are "don't care" on x86) in 63:34, address bits 55:40 (the
 * x2APIC destination's bits 23:8) in 31:16, data bits 15:0 (the rest is
 * reserved) in 15:0. Line: the GSI in 31:0.
 */
enum mmiotrap_irq_kind {
	MMIOTRAP_IRQ_NONE	= 0,
	MMIOTRAP_IRQ_MSI	= 1,
	MMIOTRAP_IRQ_LINE	= 2,
};

#define MMIOTRAP_ROUTE_KIND_SHIFT	32
#define MMIOTRAP_ROUTE_KIND(route)	(((route) >> MMIOTRAP_ROUTE_KIND_SHIFT) & 3)

/*
 * A queue row pairs its doorbells with any interrupt of its VM until one
 * route has answered it alone ROUTE_CONFIRM times; from then on only with
 * that route's, until ROUTE_PATIENCE interrupts of other routes passed its
 * open interval in a row: it drops the route and learns again.
 */
#define MMIOTRAP_ROUTE_CONFIRM		4
#define MMIOTRAP_ROUTE_PATIENCE		64

struct mmiotrap_queue_stats {
	__u64 writes;		/* matched writes */
	__u64 fast;		/* of them, completed by an ioeventfd */
	__u64 value;		/* the newest value written */
	/* Doorbell to interrupt (docs/latency.md). */
	__u64 open_ns;		/* the open interval's doorbell time; 0: none open */
	__u64 pairs;		/* intervals closed by an interrupt */
	__u64 lat_sum_ns;	/* their lengths summed */
	__u64 no_slot;		/* doorbells that found every slot of their VM taken */
	__u64 route;		/* the interrupt route learned (MMIOTRAP_ROUTE_*); 0: none */
	__u64 lat[MMIOTRAP_LAT_BUCKETS];
	__u32 route_seen;	/* lone closes by route: MMIOTRAP_ROUTE_CONFIRM of them confirm it */
	__u32 foreign;		/* other routes' interrupts since the last close, route confirmed */
	__u64 relearns;		/* confirmed routes dropped after MMIOTRAP_ROUTE_PATIENCE foreign */
};

/* Open intervals one VM can have at once: more are counted in no_slot. */
#define MMIOTRAP_IRQ_SLOTS	16

/*
 * irqs: hash map keyed by VMM tgid: its open intervals. armed is the
 * interval's open_ns (the queue row's), 1 while a doorbell fills the slot
 * in, 0 when free.
 */
struct mmiotrap_irq_slot {
	__u64 armed;
	struct mmiotrap_queue_key key;
};

struct mmiotrap_vm_irqs {
	__u64 irqs;		/* interrupts signalled by the VMM since its first interval */
	struct mmiotrap_irq_slot slot[MMIOTRAP_IRQ_SLOTS];
};

#endif /* MMIOTRAP_ABI_H */
