/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * libmmiotrap: load the BPF trap, register doorbell regions, subscribe to
 * the writes it captures.
 *
 * Every call returns 0 (or a count or id) on success and a negative errno on
 * failure. Options are structs whose first field is their size, so that new
 * fields can be added without breaking callers; zero means the default.
 * The library has no global state: one handle per loaded instance.
 */
#ifndef MMIOTRAP_H
#define MMIOTRAP_H

#include <stdbool.h>
#include <stddef.h>
#include "mmiotrap_abi.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MMIOTRAP_PIN_ROOT_DEFAULT	"/sys/fs/bpf/mmiotrap"

struct mmiotrap;
struct mmiotrap_sub;

enum mmiotrap_attach_mode {
	MMIOTRAP_ATTACH_NONE,
	MMIOTRAP_ATTACH_FENTRY,	/* fentry on kvm_io_bus_write */
	MMIOTRAP_ATTACH_TP_BTF,	/* tp_btf on kvm_mmio and kvm_pio */
	MMIOTRAP_ATTACH_RAW_TP,	/* raw_tp on kvm_mmio and kvm_pio */
	MMIOTRAP_ATTACH_MAX,
};

const char *mmiotrap_attach_mode_str(enum mmiotrap_attach_mode mode);

struct mmiotrap_opts {
	size_t sz;
	const char *pin_root;	/* NULL: MMIOTRAP_PIN_ROOT_DEFAULT */
};

/*
 * Make sure @pin_root can hold pins, mounting bpffs at /sys/fs/bpf when the
 * pin root is below it and it is not mounted. -ENOTDIR if the pin root is
 * not on bpffs; the mount's -errno if it fails.
 */
int mmiotrap_prepare_bpffs(const char *pin_root);

/*
 * Load and attach the trap with the first attach mode the kernel accepts,
 * and pin it under the pin root (bpffs is mounted at /sys/fs/bpf when
 * missing). -EEXIST if an instance is already pinned there.
 */
int mmiotrap_load(const struct mmiotrap_opts *opts);

/* Detach and remove every pin mmiotrap_load() made. -ENOENT if none. */
int mmiotrap_unload(const struct mmiotrap_opts *opts);

/* Can this kernel load the trap in @mode? 0 or the load's -errno. */
int mmiotrap_probe_attach(enum mmiotrap_attach_mode mode);

/* What the kernel's BTF says of the KVM exit tracepoints. */
struct mmiotrap_tracepoints {
	size_t sz;
	bool kvm_mmio;		/* kvm:kvm_mmio exists */
	bool kvm_pio;		/* kvm:kvm_pio exists */
	bool mmio_val_is_ptr;	/* kvm_mmio passes a pointer to the value */
	bool pio_has_data;	/* kvm_pio passes the written data */
};

int mmiotrap_probe_tracepoints(struct mmiotrap_tracepoints *tp);

/* Open a loaded instance. -ENOENT if nothing is loaded there. */
int mmiotrap_open(struct mmiotrap **mt, const struct mmiotrap_opts *opts);
void mmiotrap_close(struct mmiotrap *mt);

const char *mmiotrap_pin_root(const struct mmiotrap *mt);
enum mmiotrap_attach_mode mmiotrap_attach_mode(const struct mmiotrap *mt);

struct mmiotrap_region_opts {
	size_t sz;
	__u32 vm;		/* VMM pid */
	enum mmiotrap_bus bus;
	__u64 addr;		/* guest physical address or port */
	__u64 len;
	__u8 widths;		/* OR of 1, 2, 4, 8; 0: all */
	const char *name;	/* NULL: "region<ID>" */
};

/*
 * Register a region; returns its id (>= 1). Errors: -EINVAL (length or
 * widths), -ERANGE (range wraps or leaves the bus), -ESRCH (no such
 * process), -EEXIST (name taken), -EADDRINUSE (overlaps a region of the same
 * VM and bus), -ENOSPC (table full), -ENAMETOOLONG. Regions left by an exited
 * process whose pid @vm now names are removed first.
 */
int mmiotrap_region_add(struct mmiotrap *mt, const struct mmiotrap_region_opts *opts);

/* Remove region @id: -ENOENT if there is none. */
int mmiotrap_region_del(struct mmiotrap *mt, __u32 id);

/* Region @id, or -ENOENT. */
int mmiotrap_region_get(struct mmiotrap *mt, __u32 id, struct mmiotrap_region *r);

/* The region named @name, or -ENOENT. */
int mmiotrap_region_find(struct mmiotrap *mt, const char *name, struct mmiotrap_region *r);

/* The first region with an id above @prev (0 to start), or -ENOENT. */
int mmiotrap_region_next(struct mmiotrap *mt, __u32 prev, struct mmiotrap_region *r);

/* Has the process the region was added for exited (its pid gone or reused)? */
bool mmiotrap_region_stale(struct mmiotrap *mt, const struct mmiotrap_region *r);

/* Counters of region @id, summed over CPUs. */
int mmiotrap_region_counters(struct mmiotrap *mt, __u32 id, struct mmiotrap_counters *c);
int mmiotrap_totals(struct mmiotrap *mt, struct mmiotrap_totals *t);

/* Return 0 to go on, a negative errno to stop (poll returns it). */
typedef int (*mmiotrap_event_fn)(void *ctx, const struct mmiotrap_event *ev);

struct mmiotrap_subscribe_opts {
	size_t sz;
	__u32 vm;		/* only this VMM pid; 0: any */
	__u32 region;		/* only this region id; 0: any */
};

/*
 * Become the consumer of the instance's events. There is one ring and one
 * consumer: -EBUSY while another subscriber holds it. Events the filter
 * rejects are consumed and dropped.
 */
int mmiotrap_subscribe(struct mmiotrap_sub **sub, struct mmiotrap *mt,
		       mmiotrap_event_fn fn, void *ctx,
		       const struct mmiotrap_subscribe_opts *opts);

/* An fd for epoll: readable when events are waiting. */
int mmiotrap_sub_fd(const struct mmiotrap_sub *sub);

/* Wait up to @timeout_ms for events and deliver them; returns how many. */
int mmiotrap_sub_poll(struct mmiotrap_sub *sub, int timeout_ms);

/* Deliver what is waiting without blocking; returns how many. */
int mmiotrap_sub_consume(struct mmiotrap_sub *sub);

void mmiotrap_sub_free(struct mmiotrap_sub *sub);

#ifdef __cplusplus
}
#endif

#endif /* MMIOTRAP_H */
