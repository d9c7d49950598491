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

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>
#include "mmiotrap_abi.h"
#include "mmiotrap_decode.h"
#include "mmiotrap_rules.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MMIOTRAP_PIN_ROOT_DEFAULT	"/sys/fs/bpf/mmiotrap"

/*
 * Options structs begin with their size. Declare them with MMIOTRAP_OPTS,
 * as LIBBPF_OPTS does: every other field starts at zero, which is the
 * default. A library older than the header accepts a larger struct as long
 * as the fields it does not know are zero.
 */
#define MMIOTRAP_OPTS(TYPE, NAME, ...)					\
	struct TYPE NAME = ({						\
		memset(&NAME, 0, sizeof(struct TYPE));			\
		(struct TYPE) {						\
			.sz = sizeof(struct TYPE),			\
			__VA_ARGS__					\
		};							\
	})

enum mmiotrap_print_level {
	MMIOTRAP_WARN,
	MMIOTRAP_INFO,
	MMIOTRAP_DEBUG,
};

typedef int (*mmiotrap_print_fn_t)(enum mmiotrap_print_level level, const char *fmt, va_list ap);

/*
 * Where the library says why a call failed, one line a message ending in
 * a newline: to stderr by default (warnings only), nowhere with NULL.
 * Process-wide, like libbpf_set_print(); returns the previous callback.
 */
mmiotrap_print_fn_t mmiotrap_set_print(mmiotrap_print_fn_t fn);

struct mmiotrap;
struct mmiotrap_sub;
struct mmiotrap_fast;
struct kvm_run;

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
	/* mmiotrap_load(): this attach mode only; NONE: the first that works */
	enum mmiotrap_attach_mode attach;
	/* mmiotrap_load(): table sizes; 0: MMIOTRAP_DEFAULT_REGIONS, _VMS, _INDEX */
	__u32 max_regions;
	__u32 max_vms;
	__u32 index_entries;	/* address-index blocks; a region takes 1 to 128 */
	/* mmiotrap_unload(): even while live VMMs hold fast regions */
	bool force;
};

/* The sizes an instance was loaded with. */
struct mmiotrap_limits {
	size_t sz;
	__u32 max_regions;
	__u32 max_vms;
	__u32 index_entries;
	__u32 max_subs;		/* subscribers at once: MMIOTRAP_MAX_SUBS */
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
 * missing). -EEXIST if an instance is already pinned there, -EUCLEAN if
 * half of one is (a crash's: mmiotrap_unload() removes it).
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
	/* kvm:kvm_fast_mmio exists: length-0 ioeventfd writes, address only */
	bool kvm_fast_mmio;
	/* kvm:kvm_msi_set_irq and kvm:kvm_set_irq exist: doorbell-to-interrupt latency */
	bool kvm_irq;
};

int mmiotrap_probe_tracepoints(struct mmiotrap_tracepoints *tp);

/* What the host offers besides the kernel's BTF. */
struct mmiotrap_host {
	size_t sz;
	bool kvm;		/* /dev/kvm can be opened for reading and writing */
	bool bpffs;		/* bpffs is mounted at /sys/fs/bpf (load mounts it) */
	bool tracefs;		/* tracefs is mounted at /sys/kernel/tracing (load mounts it) */
	/* "none", "integrity", "confidentiality" (the trap cannot read values), or "" */
	char lockdown[32];
	/*
	 * KVM takes length-0 ioeventfd writes on the fast MMIO bus without
	 * decoding them (Intel with EPT and kvm.mmio_caching=Y, AMD since
	 * Linux 7.0): only kvm_fast_mmio sees them, with no value.
	 */
	bool fast_mmio_bus;
	char kvm_module[16];	/* "kvm_intel", "kvm_amd", "kvm_pvm", or "" */
};

int mmiotrap_probe_host(struct mmiotrap_host *host);

/* Open a loaded instance. -ENOENT if nothing is loaded there. */
int mmiotrap_open(struct mmiotrap **mt, const struct mmiotrap_opts *opts);
void mmiotrap_close(struct mmiotrap *mt);

const char *mmiotrap_pin_root(const struct mmiotrap *mt);
int mmiotrap_limits(const struct mmiotrap *mt, struct mmiotrap_limits *lim);
enum mmiotrap_attach_mode mmiotrap_attach_mode(const struct mmiotrap *mt);

struct mmiotrap_region_opts {
	size_t sz;
	__u8 widths;		/* OR of 1, 2, 4, 8; 0: all */
	const char *name;	/* NULL or "": no name, the id names it */
	/*
	 * The VMM hands this region's exits to mmiotrap_sub_dispatch_exit(),
	 * which consumes its records: they need wake no one.
	 */
	bool dispatched;
	enum mmiotrap_decoder decoder;
	union mmiotrap_decoder_params params;
	__u8 flags;		/* enum mmiotrap_region_flags */
	/*
	 * Widths that should complete in the kernel. Only the VMM can register
	 * the ioeventfds: it adopts the region with mmiotrap_fast_adopt().
	 */
	__u8 want_fast;
};

/*
 * Register the region [@addr, @addr + @len) of bus @bus (a guest physical
 * address or a port) of the VMM process @vm; returns its id (>= 1).
 * Errors, each said through the print callback: -EINVAL (length, bus,
 * widths, name or decoder parameters), -ERANGE (the range wraps or leaves
 * the bus), -ESRCH (no such process), -EEXIST (name taken), -EADDRINUSE
 * (overlaps a region of the same VM and bus; the message names it),
 * -ENOSPC (table full), -ENOBUFS (address index full), -ENAMETOOLONG.
 * Regions left by an exited process whose pid @vm now names are removed
 * first.
 */
int mmiotrap_region_add(struct mmiotrap *mt, __u32 vm, enum mmiotrap_bus bus, __u64 addr,
			__u64 len, const struct mmiotrap_region_opts *opts);

/* The decoder named @name ("raw", "nvme", ...), or -EINVAL; and back. */
int mmiotrap_decoder_by_name(const char *name);
const char *mmiotrap_decoder_str(enum mmiotrap_decoder decoder);
/* "sq_tail", "cq_head", ... for enum mmiotrap_kind. */
const char *mmiotrap_kind_str(enum mmiotrap_kind kind);
/* "none", "msi" or "line" for enum mmiotrap_irq_kind. */
const char *mmiotrap_irq_kind_str(enum mmiotrap_irq_kind kind);
/*
 * An interrupt route (struct mmiotrap_queue_stats) as mmiotrap-inject's
 * steps name it: "msi:0xADDRESS:0xDATA", "line:GSI", or "none" for 0.
 * Returns what snprintf() does.
 */
int mmiotrap_irq_route_str(__u64 route, char *buf, size_t size);

/*
 * The decoder table: what each decoder's parameters are called, where they
 * live in union mmiotrap_decoder_params and what they may be. Argument
 * parsers, policy files and printers all read it, so that a decoder is its
 * params struct, its decode function and its row.
 */
enum mmiotrap_param_kind {
	MMIOTRAP_PARAM_NUMBER,	/* an unsigned number of @size bytes */
	MMIOTRAP_PARAM_FLAG,	/* a bool: bit @bit of the @size-byte number */
	MMIOTRAP_PARAM_FIELDS,	/* struct mmiotrap_bitfield_params' named fields */
};

struct mmiotrap_decoder_param {
	const char *name;	/* as a policy key: "notify_base" */
	const char *option;	/* as a command-line option: "notify-base" */
	enum mmiotrap_param_kind kind;
	unsigned int offset;	/* in union mmiotrap_decoder_params */
	unsigned int size;
	__u64 min, max;		/* MMIOTRAP_PARAM_NUMBER */
	__u64 bit;		/* MMIOTRAP_PARAM_FLAG */
	bool required;
	bool hex;		/* an address: read best in hex */
};

struct mmiotrap_decoder_info {
	const char *name;	/* "virtio-pci" */
	const struct mmiotrap_decoder_param *params;
	int nparams;
	/*
	 * What field[i] of struct mmiotrap_decoded is called; NULL: unused.
	 * Use mmiotrap_decoded_fields(), which knows the parameters that
	 * turn fields on and off and the bitfield decoder's own names.
	 */
	const char *fields[MMIOTRAP_FIELDS];
};

/* The row of @decoder, or NULL. */
const struct mmiotrap_decoder_info *mmiotrap_decoder_info(enum mmiotrap_decoder decoder);

/* Parameter @name (key or option) of @decoder, or NULL. */
const struct mmiotrap_decoder_param *mmiotrap_decoder_param(enum mmiotrap_decoder decoder,
							    const char *name);

/*
 * Set number or flag parameter @name of @decoder in @p to @val (a flag:
 * 0 or 1). -ENOENT if @decoder has no such parameter, -EINVAL for a list
 * of fields, -ERANGE beyond the table's limits; pr_warn says which.
 */
int mmiotrap_decoder_set(union mmiotrap_decoder_params *p, enum mmiotrap_decoder decoder,
			 const char *name, __u64 val);

/* The value of number or flag parameter @param in @p. */
__u64 mmiotrap_decoder_get(const union mmiotrap_decoder_params *p,
			   const struct mmiotrap_decoder_param *param);

/*
 * Add bitfield field "NAME:MASK:SHIFT" (MASK and SHIFT 0x hex or decimal)
 * to the first unused field of @b. -EINVAL for a malformed one, -E2BIG
 * when all are used. pr_warn says what is wrong; the caller quotes @arg.
 */
int mmiotrap_bitfield_parse(struct mmiotrap_bitfield_params *b, const char *arg);

/*
 * The names of the fields region @r's decoder fills, field[i] named
 * @names[i] or unused (NULL). Returns true when the names are the user's
 * (bitfield), which a printer keeps apart from its own keys.
 */
bool mmiotrap_decoded_fields(const struct mmiotrap_region *r, const char *names[MMIOTRAP_FIELDS]);

/*
 * The rules every caller shares. Widths "1,2,4": the OR of them, or
 * -EINVAL with *@bad at the token that is no width (at the end if there
 * is none). A name: a letter, then letters, digits, '_', '.', '-'. Two
 * ranges overlap when they share a byte. A range fits its bus: 0, or
 * -ERANGE when it wraps or leaves it (pr_warn says how).
 */
int mmiotrap_parse_widths(const char *arg, __u8 *widths, const char **bad);
bool mmiotrap_valid_name(const char *name);
bool mmiotrap_overlap(__u64 a, __u64 alen, __u64 b, __u64 blen);

/*
 * Numbers, as the command line and policy files write them: all of @s,
 * decimal without a leading 0 or 0x hex, no sign, no blanks. 0 with *@val
 * set; -EINVAL when @s is no number, -ERANGE when it is larger than @max
 * (or than 64 bits), *@val untouched.
 */
int mmiotrap_parse_u64(const char *s, __u64 max, __u64 *val);

/*
 * How many address-index entries (mmiotrap_limits()'s index_entries) a
 * region of [addr, addr + len) takes: its maximal aligned power-of-two blocks.
 */
int mmiotrap_index_entries(__u64 addr, __u64 len);

/*
 * Remove region @id: -ENOENT if there is none, -EBUSY if it is fast and its
 * VMM lives (its ioeventfds are the VMM's: mmiotrap_fast_del() lets go).
 */
int mmiotrap_region_del(struct mmiotrap *mt, __u32 id);

/* Region @id, or -ENOENT. */
int mmiotrap_region_get(struct mmiotrap *mt, __u32 id, struct mmiotrap_region *r);

/* The region named @name, or -ENOENT. */
int mmiotrap_region_find(struct mmiotrap *mt, const char *name, struct mmiotrap_region *r);

/* The first region with an id above @prev (0 to start), or -ENOENT. */
int mmiotrap_region_next(struct mmiotrap *mt, __u32 prev, struct mmiotrap_region *r);

/*
 * Every region into *@r, in id order. After the loop @err is 0 if the walk
 * reached the end, or the -errno that cut it short:
 *
 *	mmiotrap_for_each_region(&r, mt, err)
 *		printf("%u %s\n", r.id, r.name);
 *	if (err)
 *		...
 */
#define mmiotrap_for_each_region(r, mt, err)					\
	for ((err) = mmiotrap_region_next((mt), 0, (r));			\
	     !(err) || ((err) == -ENOENT && ((err) = 0));			\
	     (err) = mmiotrap_region_next((mt), (r)->id, (r)))

/*
 * Has the process the region was added for exited (its pid gone, or reused
 * by a later process)? 1 if so, 0 if it lives, or -errno.
 */
int mmiotrap_region_stale(struct mmiotrap *mt, const struct mmiotrap_region *r);

/*
 * The latest-value slot of region @id: the newest value written and the
 * seq the next write will get. Doorbell values are state, so a subscriber
 * that lost writes resynchronises from here. Read from shared memory.
 */
int mmiotrap_region_latest(struct mmiotrap *mt, __u32 id, struct mmiotrap_slot *slot);

/* Counters of region @id, summed over CPUs. */
int mmiotrap_region_counters(struct mmiotrap *mt, __u32 id, struct mmiotrap_counters *c);
int mmiotrap_totals(struct mmiotrap *mt, struct mmiotrap_totals *t);

/*
 * Stats: every counter of the instance read at once, for top, the
 * Prometheus exporter and 'mmiotrap stats'. One snapshot is a few system
 * calls whatever the number of regions: the regions and the per-CPU
 * counters in one batch each, the newest values from shared memory, and
 * each VM's name from /proc once.
 */
struct mmiotrap_stats;

/*
 * One region in a snapshot. The library allocates it, so that fields can
 * be added at the end; read it through mmiotrap_stats_region().
 */
struct mmiotrap_stats_region {
	struct mmiotrap_region region;	/* id, VM, bus, range, name, decoder */
	struct mmiotrap_counters counters;
	/* Of counters.matched, those that exited to the VMM (not fast). */
	__u64 exits;
	/* The latest-value slot: the newest value, and writes seen so far. */
	__u64 value;
	__u64 seq;
	/* QEMU's -name of region.vm; "" if it has none or is gone. */
	char vm_name[64];
	/* Its decoded queues, in (queue, kind) order: mmiotrap_stats_queue(). */
	int nr_queues;
	const struct mmiotrap_stats_queue *queues;
};

/*
 * One decoded queue of a region: the rows the trap keeps per (region,
 * kind, queue), and its doorbell-to-interrupt latency (docs/latency.md).
 */
struct mmiotrap_stats_queue {
	__u32 queue;
	__u32 kind;		/* enum mmiotrap_kind: sq_tail and cq_head are two rows */
	__u64 writes;
	__u64 fast;		/* of writes, completed in the kernel */
	__u64 exits;		/* of writes, exited to the VMM */
	__u64 value;		/* the newest value written */
	__u64 pairs;		/* doorbell-to-interrupt intervals measured */
	__u64 lat_sum_ns;
	__u64 no_slot;		/* intervals not measured: their VM's slots were all taken */
	bool open;		/* an interval waits for its interrupt */
	__u64 lat[MMIOTRAP_LAT_BUCKETS];	/* log2 buckets of ns */
	/*
	 * The interrupt route the queue waits for (docs/latency.md): learned
	 * once it answered the queue alone route_seen times, confirmed from
	 * MMIOTRAP_ROUTE_CONFIRM on; 0 while none has.
	 */
	__u64 route;
	__u32 route_seen;
	bool route_confirmed;
	__u32 foreign;		/* other routes' interrupts its open interval let pass */
	__u64 relearns;		/* confirmed routes dropped, to learn again */
};

/* Region @r's @i-th queue, or NULL beyond. */
const struct mmiotrap_stats_queue *mmiotrap_stats_queue(const struct mmiotrap_stats_region *r,
							 int i);

/*
 * The @q quantile (0 to 1) of a latency histogram, as the upper bound in
 * ns of the bucket it falls in; 0 if it is empty.
 */
__u64 mmiotrap_lat_quantile(const __u64 *lat, double q);

/*
 * Read every region's counters, the totals and the VM names into *@st.
 * -ESTALE if the instance was unloaded since mmiotrap_open(): a long-lived
 * reader opens it again.
 */
int mmiotrap_stats_read(struct mmiotrap *mt, struct mmiotrap_stats **st);
void mmiotrap_stats_free(struct mmiotrap_stats *st);

/* When it was read, on the clock of mmiotrap_now_ns(). */
__u64 mmiotrap_stats_ts_ns(const struct mmiotrap_stats *st);

/* How many regions it holds, and the @i-th in id order (NULL beyond). */
int mmiotrap_stats_regions(const struct mmiotrap_stats *st);
const struct mmiotrap_stats_region *mmiotrap_stats_region(const struct mmiotrap_stats *st, int i);

/* The regions' counters summed, and the instance's totals. */
const struct mmiotrap_counters *mmiotrap_stats_sum(const struct mmiotrap_stats *st);
const struct mmiotrap_totals *mmiotrap_stats_totals(const struct mmiotrap_stats *st);

#define mmiotrap_stats_for_each(r, st, i)					\
	for ((i) = 0; ((r) = mmiotrap_stats_region((st), (i))); (i)++)

/*
 * Policies: the regions each VM should have, as a YAML file (docs/policy.md).
 * Reading one needs neither the kernel nor root, and keeps every problem
 * of the file; applying one makes the regions flagged MMIOTRAP_REGION_POLICY
 * what it says, all or nothing.
 */
struct mmiotrap_policy;

struct mmiotrap_policy_problem {
	const char *file;	/* "<stdin>" for "-" */
	int line;		/* 0: not of a line of the file */
	bool syntax;		/* not YAML: no key */
	char key[64];		/* "": none */
	char message[256];
};

/* A policy file names at most this many regions: its work is bounded. */
#define MMIOTRAP_POLICY_MAX_REGIONS	(1 << 17)

/*
 * Read and check @file ("-": standard input). 0 with what is wrong with
 * it among its problems, or -errno when it cannot be read.
 */
int mmiotrap_policy_read(struct mmiotrap_policy **p, const char *file);
void mmiotrap_policy_free(struct mmiotrap_policy *p);
const char *mmiotrap_policy_file(const struct mmiotrap_policy *p);
/* How many VMs and regions the file names. */
int mmiotrap_policy_vms(const struct mmiotrap_policy *p);
int mmiotrap_policy_regions(const struct mmiotrap_policy *p);

/* The problems of @p, by line: how many, and where. */
int mmiotrap_policy_problems(const struct mmiotrap_policy *p,
			     const struct mmiotrap_policy_problem **problems);

enum mmiotrap_policy_change {
	MMIOTRAP_POLICY_REMOVED,
	MMIOTRAP_POLICY_CHANGED,
	MMIOTRAP_POLICY_ADDED,
	MMIOTRAP_POLICY_KEPT,	/* only to a plan callback */
};

typedef void (*mmiotrap_policy_change_fn)(void *ctx, enum mmiotrap_policy_change change,
					  const char *name);

/* A region of the file left out, and why (a VM not running, a device not found). */
typedef void (*mmiotrap_policy_skip_fn)(void *ctx, const char *name, const char *why);

/* A region of the outcome, as it is (removed) or will be (the others). */
typedef void (*mmiotrap_policy_plan_fn)(void *ctx, enum mmiotrap_policy_change change,
					const struct mmiotrap_region *r);

struct mmiotrap_policy_apply_opts {
	size_t sz;
	/* Told each change made: the removed first, then by the file's order. */
	mmiotrap_policy_change_fn fn;
	void *ctx;
	/*
	 * Leave out, instead of failing, the regions of VMs that are not
	 * running and of devices that cannot be resolved now, as if the file
	 * did not have them (their live regions go); told to @skip, with @ctx.
	 * For a watcher that applies again as VMs come and go.
	 */
	bool partial;
	mmiotrap_policy_skip_fn skip;
	/*
	 * Told, with @ctx, once every check has passed and before the first
	 * change, every region the apply removes, then every region the file
	 * wants (devices resolved, doorbells found: a region of the file may
	 * be several), in its order, kept, changed or added.
	 */
	mmiotrap_policy_plan_fn plan;
	/* Check and plan, change nothing: fn is not told. */
	bool dry_run;
};

/*
 * Make the policy's regions what @p says: a region of the file is kept,
 * added or changed; the policy's others are removed. Every step is checked
 * before the first is taken, and a step that still fails is undone. -EINVAL
 * if @p has problems. Otherwise, on failure, the one problem that stopped
 * it is the last of @p's problems: -ESRCH (a VM is no process), -EEXIST
 * (a name is taken by a region not the policy's), -EADDRINUSE (overlap),
 * -EBUSY (a region to go is fast, held by its VMM), -ENOSPC (no room), or
 * the failed step's -errno.
 */
int mmiotrap_policy_apply(struct mmiotrap *mt, struct mmiotrap_policy *p,
			  const struct mmiotrap_policy_apply_opts *opts);

/*
 * The guest name QEMU process @pid was given with -name, into @buf:
 * -ESRCH if there is no such process, -ENOENT if it has no -name.
 */
int mmiotrap_vm_name(__u32 pid, char *buf, size_t size);

/*
 * The VMMs whose -name is @name, processes that hold a KVM VM fd (anyone
 * can start a process called -name web-1): how many there are, the first
 * @max of them in @pids.
 */
int mmiotrap_find_vm(const char *name, __u32 *pids, int max);

/*
 * Discovery: every KVM VM running on the host, read from the kernel with a
 * BPF iterator (root, no instance needed, no VMM change, no ptrace): its
 * ioeventfds (doorbells KVM completes in the kernel), its irqfds
 * (interrupts fed through an eventfd) and who holds each eventfd. What a
 * VMM changes during the scan may show half-changed.
 */
struct mmiotrap_vms;

struct mmiotrap_vms_opts {
	size_t sz;
	__u32 pid;		/* only this process's VMs; 0: all */
	/* Count each VM's regions of this instance (not stale); NULL: none. */
	struct mmiotrap *mt;
};

/* A process holding an eventfd, and its fd for it. */
struct mmiotrap_eventfd_holder {
	__u32 pid;
	int fd;
};

struct mmiotrap_vm_eventfd {
	int id;			/* the kernel's, as /proc/PID/fdinfo's eventfd-id */
	int fd;			/* the VMM's fd for it; -1 if it holds none */
	/* Every other (process, fd) that holds it: a vhost-user backend, ... */
	int nholders;
	const struct mmiotrap_eventfd_holder *holders;
};

/* A KVM ioeventfd: writes that match complete in the kernel and signal the eventfd. */
struct mmiotrap_vm_ioeventfd {
	enum mmiotrap_bus bus;
	__u64 addr;
	__u32 len;		/* 0: any width, no value */
	bool wildcard;		/* any value; else only datamatch */
	__u64 datamatch;
	/* KVM put it on its fast MMIO bus too (every length-0 MMIO ioeventfd). */
	bool fast_mmio_bus;
	/*
	 * What the trap sees of a write on this host: the address only when
	 * the host takes the fast MMIO bus (mmiotrap_host's fast_mmio_bus)
	 * for a length-0 MMIO ioeventfd, else the value too.
	 */
	bool address_only;
	struct mmiotrap_vm_eventfd eventfd;
};

/* A KVM irqfd: a signal of its eventfd injects interrupt gsi. */
struct mmiotrap_vm_irqfd {
	__u32 gsi;
	struct mmiotrap_vm_eventfd eventfd;
	bool resample;		/* level-triggered: resamplefd is signalled at EOI */
	struct mmiotrap_vm_eventfd resamplefd;
};

/* One VM. The library allocates it, so that fields can be added at the end. */
struct mmiotrap_vm_info {
	__u32 pid;		/* the VMM: the process that made the VM */
	int fd;			/* its VM fd */
	char name[64];		/* QEMU's -name; "" if none */
	__u32 vcpus;		/* online */
	int nioeventfds;
	int nirqfds;
	int nregions;		/* of opts' mt that are its process's; -1: no mt */
};

/*
 * Scan the host into *@vms. -ESRCH if opts' pid names no process, -EINVAL
 * if a thread (pr_warn says whose); a process without a VM gives none.
 * -EPERM without root; -E2BIG if one VM has more entries than a read of
 * the iterator holds (about 800).
 */
int mmiotrap_vms_scan(struct mmiotrap_vms **vms, const struct mmiotrap_vms_opts *opts);
void mmiotrap_vms_free(struct mmiotrap_vms *vms);

/* How many VMs it found, and the @i-th, by pid (NULL beyond). */
int mmiotrap_vms_count(const struct mmiotrap_vms *vms);
const struct mmiotrap_vm_info *mmiotrap_vms_vm(const struct mmiotrap_vms *vms, int i);

/* The @i-th ioeventfd (in KVM's order) and irqfd of @vm, or NULL beyond. */
const struct mmiotrap_vm_ioeventfd *mmiotrap_vm_ioeventfd(const struct mmiotrap_vm_info *vm, int i);
const struct mmiotrap_vm_irqfd *mmiotrap_vm_irqfd(const struct mmiotrap_vm_info *vm, int i);

#define mmiotrap_for_each_vm(vm, vms, i)					\
	for ((i) = 0; ((vm) = mmiotrap_vms_vm((vms), (i))); (i)++)

#define mmiotrap_vm_for_each_ioeventfd(io, vm, i)				\
	for ((i) = 0; ((io) = mmiotrap_vm_ioeventfd((vm), (i))); (i)++)

#define mmiotrap_vm_for_each_irqfd(irq, vm, i)				\
	for ((i) = 0; ((irq) = mmiotrap_vm_irqfd((vm), (i))); (i)++)

struct mmiotrap_fast_opts {
	size_t sz;
	__u8 widths;		/* accepted widths; 0: all */
	__u8 fast_widths;	/* widths completed in the kernel; 0: all accepted */
	const char *name;
	enum mmiotrap_decoder decoder;
	union mmiotrap_decoder_params params;
};

/*
 * Register a fast-path region [@addr, @addr + @len) of bus @bus of this
 * process's VM (@vm_fd, its KVM VM fd) in one call: an eventfd, a KVM
 * ioeventfd (len = width, no datamatch) for every fast width at every
 * register of the range (mmiotrap_fast_stride()), and the trap's region.
 * Fast writes complete in the kernel and wake the subscriber through the
 * eventfd; the other widths still exit, and the VMM hands those exits to
 * mmiotrap_sub_dispatch_exit(). On failure nothing is left registered, and
 * the print callback says why: mmiotrap_region_add()'s errors, -EINVAL
 * (fast widths that are not accepted widths, or none that fits @len),
 * -E2BIG (more than 64 ioeventfds), -EBUSY (an ioeventfd is there already:
 * -EEXIST is only a name taken), or KVM_IOEVENTFD's (-ENOTTY: @vm_fd is no
 * VM fd).
 */
int mmiotrap_fast_add(struct mmiotrap_fast **fast, struct mmiotrap *mt, int vm_fd,
		      enum mmiotrap_bus bus, __u64 addr, __u64 len,
		      const struct mmiotrap_fast_opts *opts);

/*
 * The VMM side of a region someone else added with want_fast (a policy's
 * "mode: fast"): region @id of this process becomes a fast-path region on
 * @vm_fd, as mmiotrap_fast_add() would have made it. -EPERM if the region
 * is another process's, -ESTALE if it is of an earlier process with this
 * pid (apply the policy again), -EINVAL if it wants no fast width, -EBUSY
 * if it is fast already. Adopt before the vCPUs run: a write meanwhile is flagged
 * by what the region is when the trap sees it.
 */
int mmiotrap_fast_adopt(struct mmiotrap_fast **fast, struct mmiotrap *mt, int vm_fd, __u32 id);

/*
 * Undo all of mmiotrap_fast_add(): the next write exits again. An adopted
 * region stays, capturing as before its adoption.
 */
int mmiotrap_fast_del(struct mmiotrap_fast *fast);

/* The eventfd KVM signals on a fast write, after the trap's record is in. */
int mmiotrap_fast_eventfd(const struct mmiotrap_fast *fast);
__u32 mmiotrap_fast_region(const struct mmiotrap_fast *fast);

/* Now, on the clock of struct mmiotrap_event's ts_ns (CLOCK_MONOTONIC). */
__u64 mmiotrap_now_ns(void);

/*
 * @r is the subscriber's own copy of the event's region (ev->region,
 * ev->gen), valid during the call; NULL only if that region is gone.
 * Return 0 to go on, a negative errno to stop (poll returns it).
 */
typedef int (*mmiotrap_event_fn)(void *ctx, const struct mmiotrap_event *ev,
				 const struct mmiotrap_region *r);

/* When the trap wakes a subscriber. */
enum mmiotrap_wakeup {
	/* At every record that finds it caught up: an emulator's policy. */
	MMIOTRAP_WAKE_RECORD,
	/*
	 * Once per watermark (an eighth of the ring) of records a CPU puts in, and at
	 * latency_ms for the rest: an observer's policy, which costs the
	 * guests no wakeup per write.
	 */
	MMIOTRAP_WAKE_BATCH,
};

struct mmiotrap_subscribe_opts {
	size_t sz;
	__u32 vm;		/* only this VMM pid; 0: any */
	__u32 region;		/* only this region id; 0: any */
	bool busy_poll;		/* poll spins on the ring instead of sleeping */
	/*
	 * Look at the ring at least this often: for the tail of a batch, and,
	 * for an owner, the records of its quiet regions (their wakeup is the
	 * VMM's ioeventfd or exit, not the ring's). 0: 100 with
	 * MMIOTRAP_WAKE_BATCH, else only when woken.
	 */
	__u32 latency_ms;
	/* mmiotrap_sub_poll() returns -ETIME this long after subscribing; 0: never. */
	__u64 duration_ms;
	enum mmiotrap_wakeup wakeup;
	/*
	 * Own the regions the filter selects (now and as they are added): the
	 * owner serves a region, observers watch it. -EBUSY, naming it, if a
	 * live subscriber owns one of them already.
	 */
	bool owner;
	__u32 ring_size;	/* bytes, a power of two of pages; 0: 1 MiB */
};

/*
 * Subscribe to the records of the regions the filter selects: the library
 * makes a ring of this subscriber's own, and the trap puts into it only
 * what the filter wants, so subscribers never take records from each other.
 * At most MMIOTRAP_MAX_SUBS at once (-EUSERS); a subscriber whose process
 * died (even by SIGKILL) frees its slot at the next subscribe or region add.
 * What its ring had no room for reaches @fn as events flagged
 * MMIOTRAP_EVENT_LOST, counted exactly once; an unload reaches it as one
 * event flagged MMIOTRAP_EVENT_GONE, after which poll returns -ESHUTDOWN.
 * @fn may be called from the polling thread and from a vCPU thread in
 * mmiotrap_sub_dispatch_exit(), never from two at once.
 */
int mmiotrap_subscribe(struct mmiotrap_sub **sub, struct mmiotrap *mt,
		       mmiotrap_event_fn fn, void *ctx,
		       const struct mmiotrap_subscribe_opts *opts);

/*
 * Be woken by @efd too (a fast region's eventfd, non-blocking); the sub does
 * not own it. Unwatch it before it is closed (before mmiotrap_fast_del()).
 */
int mmiotrap_sub_watch(struct mmiotrap_sub *sub, int efd);
int mmiotrap_sub_unwatch(struct mmiotrap_sub *sub, int efd);

/* An fd for epoll: readable when events are waiting. */
int mmiotrap_sub_fd(const struct mmiotrap_sub *sub);

/*
 * Wait up to @timeout_ms for events and deliver them; returns how many,
 * -ETIME once duration_ms has passed, -ESHUTDOWN once the instance is gone.
 * Another thread may watch and unwatch eventfds meanwhile, and
 * mmiotrap_sub_wake() makes it return.
 */
int mmiotrap_sub_poll(struct mmiotrap_sub *sub, int timeout_ms);

/* A subscriber of the instance, as mmiotrap_subscribers() lists it. */
struct mmiotrap_subscriber {
	__u32 slot;
	__u32 pid;		/* its process */
	__u32 vm;		/* its filter: 0 any */
	__u32 region;		/* its filter: 0 any */
	bool owner;
	bool batched;		/* MMIOTRAP_WAKE_BATCH */
};

/*
 * The live subscribers of the instance (those whose process lives), at
 * most @max of them into @subs; returns how many there are, or -errno.
 */
int mmiotrap_subscribers(struct mmiotrap *mt, struct mmiotrap_subscriber *subs, int max);

/* Make a mmiotrap_sub_poll() in another thread return now. */
int mmiotrap_sub_wake(struct mmiotrap_sub *sub);

/* Deliver what is waiting without blocking; returns how many. */
int mmiotrap_sub_consume(struct mmiotrap_sub *sub);

/*
 * The slow path: hand a KVM_EXIT_MMIO or KVM_EXIT_IO exit of this process
 * to the subscriber. A write to one of this process's regions was recorded
 * by the trap before the exit; it is delivered to the callback now, on this
 * thread, with the records before it (at most 64 in all), unless the poller
 * read it first. Call it on the vCPU thread that took the exit. Returns:
 *   1	the write reached the callback (or, had the ring no room for it,
 *	its LOST event did): the VMM need do nothing more for it;
 *   2	more than 64 records are before it: the poller delivers it, in order;
 *   0	not such a write: the VMM's to handle;
 *   -ESHUTDOWN	the instance is gone: the write reached no one, the VMM handles it;
 *   -ENODATA	the trap did not record it: the VMM handles it;
 *   or another -errno.
 * Matched against the subscriber's view: no system call unless the table
 * changed.
 */
int mmiotrap_sub_dispatch_exit(struct mmiotrap_sub *sub, const struct kvm_run *run);

void mmiotrap_sub_free(struct mmiotrap_sub *sub);

#ifdef __cplusplus
}
#endif

#endif /* MMIOTRAP_H */
