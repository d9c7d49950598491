/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* libmmiotrap's private parts. */
#ifndef MMIOTRAP_INTERNAL_H
#define MMIOTRAP_INTERNAL_H

#include <limits.h>
#include <pthread.h>
#include "mmiotrap.h"

#include "pins.h"

struct mmiotrap {
	char root[PATH_MAX];
	int maps_dir_fd;	/* flock: held while regions change, by processes */
	pthread_mutex_t lock;	/* and by the threads of this one */
	int map_fd[NR_MAPS];
	/* Maps indexed by region id, mmap'ed: read without a system call. */
	const struct mmiotrap_slot *slots;
	const struct mmiotrap_region *regions;
	const struct mmiotrap_route *routes;
	/* vm_bits, mmap'ed writable: changed under the region lock only. */
	__u64 *vm_bits;
	__u32 nids;		/* region ids run from 1 to nids - 1 */
	__u32 max_vms;
	__u32 index_entries;
	int ncpus;
	enum mmiotrap_attach_mode mode;
	/* A walk asks whether each region is stale: each VM's answer holds a moment. */
	struct {
		__u32 pid;
		int stale;
		__u64 at_ns;
	} stale_memo[64];
};

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

#define offsetofend(type, member) (offsetof(type, member) + sizeof(((type *)0)->member))

/*
 * An opts struct is valid when it is NULL or its size covers sz, and any
 * tail this library does not know (a newer header's fields) is zero.
 */
bool opts_valid(const void *opts, size_t known, const char *type);
#define OPTS_VALID(opts, type) opts_valid(opts, sizeof(type), #type)
/* Every option is read through this: a field beyond sz is its fallback. */
#define OPTS_GET(opts, field, fallback) \
	((opts) && (opts)->sz >= offsetofend(typeof(*(opts)), field) ? (opts)->field : (fallback))

/* print.c */
void mmiotrap_print(enum mmiotrap_print_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
#define pr_warn(fmt, ...)	mmiotrap_print(MMIOTRAP_WARN, fmt, ##__VA_ARGS__)
#define pr_info(fmt, ...)	mmiotrap_print(MMIOTRAP_INFO, fmt, ##__VA_ARGS__)
#define pr_debug(fmt, ...)	mmiotrap_print(MMIOTRAP_DEBUG, fmt, ##__VA_ARGS__)

/* pins.c */
int pin_root_of(const struct mmiotrap_opts *opts, char *buf, size_t size);
int tracefs_prepare(void);
bool fs_is(const char *path, long magic);

/* instance.c: the region table is changed by one thread of one process at a time. */
int regions_lock(struct mmiotrap *mt);
void regions_unlock(struct mmiotrap *mt);

/* region.c */
struct mmiotrap_region *table_read(struct mmiotrap *mt);
int regions_replay(struct mmiotrap *mt);
size_t by_id_size(const struct mmiotrap *mt, size_t value_size);
int region_add(struct mmiotrap *mt, const struct mmiotrap_region *want);
int region_describe(struct mmiotrap_region *w, const char *name, enum mmiotrap_decoder decoder,
		    const union mmiotrap_decoder_params *params);
int region_at(struct mmiotrap *mt, __u32 vm, __u8 bus, __u64 addr, struct mmiotrap_region *r);
int region_set_fast(struct mmiotrap *mt, __u32 id, __u8 fast);
int region_del(struct mmiotrap *mt, __u32 id, bool fast_too);

/* decoder.c: the table's checks, saying what is wrong into @msg. */
int param_problem(const struct mmiotrap_decoder_param *param, __u64 val, char *msg, size_t size);
void param_set(union mmiotrap_decoder_params *p, const struct mmiotrap_decoder_param *param,
	       __u64 val);
int decoder_problem(enum mmiotrap_decoder decoder, const union mmiotrap_decoder_params *p,
		    char *msg, size_t size);

/* region.c: -EDOM when the start is beyond the bus, -ERANGE when the end is. */
int range_problem(enum mmiotrap_bus bus, __u64 addr, __u64 len, char *msg, size_t size);
const char *bus_name(enum mmiotrap_bus bus);
__u64 table_version(struct mmiotrap *mt);

/* routes.c: subscriber slots and the routes of regions to their rings, under regions_lock(). */
int subs_reap(struct mmiotrap *mt);
int route_of(struct mmiotrap *mt, const struct mmiotrap_region *r, struct mmiotrap_route *route);
int sub_slot_claim(struct mmiotrap *mt, struct mmiotrap_sub_slot *want, int ring_fd, int drops_fd);
void sub_slot_release(struct mmiotrap *mt, int slot);
bool instance_live(const struct mmiotrap *mt);

/* proc.c */
int proc_start_ticks(__u32 pid, __u64 *ticks);
/* The process whose thread @pid is (itself for a process): 0, -ESRCH or -errno. */
int proc_tgid(__u32 pid, __u32 *tgid);
/* @pid is a process, not another's thread: 0, -ESRCH, or -EINVAL (pr_warn says whose). */
int proc_check_vmm(__u32 pid);

#endif /* MMIOTRAP_INTERNAL_H */
