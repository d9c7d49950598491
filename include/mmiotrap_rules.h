/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What a region takes, written once for the trap and for userspace (the
 * library, the subscriber's exit dispatch, emulators): which writes are
 * the region's, which of them an ioeventfd completes in the kernel, and
 * which interrupt route a queue row waits for.
 */
#ifndef MMIOTRAP_RULES_H
#define MMIOTRAP_RULES_H

#include "mmiotrap_abi.h"

#ifndef __always_inline
#define __always_inline inline __attribute__((always_inline))
#endif

/*
 * The widest of @widths. KVM's I/O bus finds ioeventfds by binary search
 * and loses one whose range overlaps another's without sharing its start,
 * so narrower fast widths sit only where a register of the widest starts.
 */
static __always_inline __u64 mmiotrap_fast_stride(__u8 widths)
{
	return widths & 8 ? 8 : widths & 4 ? 4 : widths & 2 ? 2 : 1;
}

/*
 * A write of @width bytes at @addr: an accepted width, wholly inside @r.
 * Width 0 is a fast MMIO write, whose width nobody decoded: any address
 * of the region takes it.
 */
static __always_inline int mmiotrap_region_takes(const struct mmiotrap_region *r, __u64 addr,
						 __u32 width)
{
	if (!width)
		return addr - r->addr < r->len;
	return width <= 8 && !(width & (width - 1)) && (r->widths & width) &&
	       addr - r->addr < r->len && addr - r->addr + width <= r->len;
}

/* Of the writes @r takes, the ones an ioeventfd completes in the kernel. */
static __always_inline int mmiotrap_region_fast(const struct mmiotrap_region *r, __u64 addr,
						__u32 width)
{
	return (r->fast_widths & width) &&
	       !((addr - r->addr) & (mmiotrap_fast_stride(r->fast_widths) - 1));
}

/* kvm_msi_set_irq's (address, data) as a route (include/mmiotrap_abi.h). */
static __always_inline __u64 mmiotrap_msi_route(__u64 address, __u64 data)
{
	return (address & 0xfffffffcULL) << 32 |
	       (__u64)MMIOTRAP_IRQ_MSI << MMIOTRAP_ROUTE_KIND_SHIFT |
	       ((address >> 40) & 0xffff) << 16 | (data & 0xffff);
}

/* kvm_set_irq's GSI as a route. */
static __always_inline __u64 mmiotrap_line_route(__u32 gsi)
{
	return (__u64)MMIOTRAP_IRQ_LINE << MMIOTRAP_ROUTE_KIND_SHIFT | gsi;
}

/* A queue row waits for its route alone once the route answered it alone this often. */
static __always_inline int mmiotrap_route_confirmed(__u64 route, __u32 seen)
{
	return route && seen >= MMIOTRAP_ROUTE_CONFIRM;
}

#endif /* MMIOTRAP_RULES_H */
