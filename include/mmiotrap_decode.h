/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Doorbell decoders: what a write to a region means to its device. One
 * definition, compiled into the BPF trap, which decodes every record (fast
 * path and slow path alike: they cannot disagree), and into userspace
 * builds that check it against the trap's, case by case and under the
 * fuzzer (selftests/decode, selftests/fuzz). No loops, no state: the
 * verifier and the trap want straight-line code.
 */
#ifndef MMIOTRAP_DECODE_H
#define MMIOTRAP_DECODE_H

#include "mmiotrap_abi.h"

#ifndef __always_inline
#define __always_inline inline __attribute__((always_inline))
#endif

/* NVMe: doorbells start at BAR0 + 0x1000, (4 << CAP.DSTRD) bytes apart. */
#define MMIOTRAP_NVME_DOORBELLS	0x1000

/* virtio-pci: flags of struct mmiotrap_virtio_params. */
#define MMIOTRAP_VIRTIO_NOTIFICATION_DATA	(1 << 0)	/* VIRTIO_F_NOTIFICATION_DATA */
#define MMIOTRAP_VIRTIO_PACKED			(1 << 1)	/* VIRTIO_F_RING_PACKED */

static __always_inline void mmiotrap_decode_nvme(const struct mmiotrap_region *r, __u64 addr,
						 __u64 value, struct mmiotrap_decoded *d)
{
	const struct mmiotrap_nvme_params *p = &r->params.nvme;
	__u64 off = addr - p->bar0 - MMIOTRAP_NVME_DOORBELLS;
	__u32 shift = 2 + (p->dstrd & 0xf);
	__u64 index = off >> shift;

	d->field[0] = value;
	if (addr < p->bar0 + MMIOTRAP_NVME_DOORBELLS || off & ((1ULL << shift) - 1)) {
		d->kind = MMIOTRAP_KIND_OFF_GRID;
		return;
	}
	d->queue = index >> 1;
	d->kind = index & 1 ? MMIOTRAP_KIND_CQ_HEAD : MMIOTRAP_KIND_SQ_TAIL;
	if (index >> 1 >= p->queues)
		d->kind = MMIOTRAP_KIND_BAD_QUEUE;
}

/*
 * Modern virtio-pci: queue q is notified at notify_base + q * multiplier
 * (queue_notify_off(q) == q, as QEMU does; multiplier 0: one address for
 * all). With VIRTIO_F_NOTIFICATION_DATA the driver writes le32 { vqn : 16;
 * next_off : 15; next_wrap : 1; } and a split ring's avail index is
 * next_off | next_wrap << 15; without it, the 16-bit vq index.
 */
static __always_inline void mmiotrap_decode_virtio_pci(const struct mmiotrap_region *r,
						       __u64 addr, __u64 value,
						       struct mmiotrap_decoded *d)
{
	const struct mmiotrap_virtio_params *p = &r->params.virtio;
	__u64 off = addr - p->notify_base;
	__u64 m = p->multiplier;
	__u64 q;

	if (p->flags & MMIOTRAP_VIRTIO_NOTIFICATION_DATA) {
		d->field[0] = (value >> 16) & 0x7fff;
		d->field[1] = (value >> 31) & 1;
		if (!(p->flags & MMIOTRAP_VIRTIO_PACKED))
			d->field[2] = (value >> 16) & 0xffff;
	}
	if (addr < p->notify_base || (m ? off % m : off)) {
		d->kind = MMIOTRAP_KIND_OFF_GRID;
		return;
	}
	/* Checked in 64 bits: queue 2^32 + 1 must not pass for queue 1. */
	q = m ? off / m : value & 0xffff;
	d->queue = q > 0xffffffff ? 0xffffffff : q;
	d->kind = q < p->queues ? MMIOTRAP_KIND_NOTIFY : MMIOTRAP_KIND_BAD_QUEUE;
}

/* Legacy virtio-pci: the 16-bit queue index written to QUEUE_NOTIFY. */
static __always_inline void mmiotrap_decode_virtio_legacy(const struct mmiotrap_region *r,
							  __u64 addr, __u64 value,
							  struct mmiotrap_decoded *d)
{
	d->queue = value & 0xffff;
	d->kind = MMIOTRAP_KIND_NOTIFY;
	if (addr != r->addr)
		d->kind = MMIOTRAP_KIND_OFF_GRID;
	else if (d->queue >= r->params.legacy.queues)
		d->kind = MMIOTRAP_KIND_BAD_QUEUE;
}

static __always_inline void mmiotrap_decode_bitfield(const struct mmiotrap_region *r,
						     __u64 value, struct mmiotrap_decoded *d)
{
	const struct mmiotrap_bitfield_params *p = &r->params.bitfield;

	d->kind = MMIOTRAP_KIND_FIELDS;
	d->field[0] = (value >> (p->shift[0] & 63)) & p->mask[0];
	d->field[1] = (value >> (p->shift[1] & 63)) & p->mask[1];
	d->field[2] = (value >> (p->shift[2] & 63)) & p->mask[2];
	d->field[3] = (value >> (p->shift[3] & 63)) & p->mask[3];
}

/*
 * Does a write of this kind ask the device for work (and so open a
 * doorbell-to-interrupt interval, docs/latency.md)? Progress reports
 * (cq_head) and writes the decoder cannot place do not.
 */
static __always_inline int mmiotrap_kind_asks(__u32 kind)
{
	return kind == MMIOTRAP_KIND_RAW || kind == MMIOTRAP_KIND_SQ_TAIL ||
	       kind == MMIOTRAP_KIND_NOTIFY || kind == MMIOTRAP_KIND_FIELDS;
}

/* Decode a write of @value at @addr to region @r, whose decoder says how. */
static __always_inline void mmiotrap_decode(const struct mmiotrap_region *r, __u64 addr,
					    __u64 value, struct mmiotrap_decoded *d)
{
	d->kind = MMIOTRAP_KIND_RAW;
	d->queue = 0;
	d->field[0] = d->field[1] = d->field[2] = d->field[3] = 0;
	switch (r->decoder) {
	case MMIOTRAP_DECODER_NVME:
		mmiotrap_decode_nvme(r, addr, value, d);
		break;
	case MMIOTRAP_DECODER_VIRTIO_PCI:
		mmiotrap_decode_virtio_pci(r, addr, value, d);
		break;
	case MMIOTRAP_DECODER_VIRTIO_LEGACY:
		mmiotrap_decode_virtio_legacy(r, addr, value, d);
		break;
	case MMIOTRAP_DECODER_BITFIELD:
		mmiotrap_decode_bitfield(r, value, d);
		break;
	default:
		break;
	}
}

#endif /* MMIOTRAP_DECODE_H */
