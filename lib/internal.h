/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* libmmiotrap's private parts. */
#ifndef MMIOTRAP_INTERNAL_H
#define MMIOTRAP_INTERNAL_H

#include <limits.h>
#include <pthread.h>
#include "mmiotrap.h"

/* The maps of bpf/trap.bpf.c, pinned as <pin root>/maps/<name>. */
enum trap_map {
	MAP_REGIONS,
	MAP_VMS,
	MAP_ADDR_INDEX,
	MAP_SLOTS,
	MAP_COUNTERS,
	MAP_TOTALS,
	MAP_EVENTS,
	NR_MAPS,
};

extern const char *const trap_map_names[NR_MAPS];

/* The programs of each attach mode, pinned as <pin root>/links/<name>. */
#define MODE_MAX_PROGS	3
extern const char *const mode_progs[MMIOTRAP_ATTACH_MAX][MODE_MAX_PROGS];

struct mmiotrap {
	char root[PATH_MAX];
	int maps_dir_fd;	/* flock: held while regions change, by processes */
	pthread_mutex_t lock;	/* and by the threads of this one */
	int map_fd[NR_MAPS];
	const struct mmiotrap_slot *slots;	/* the slots map, mmap'ed */
	int ncpus;
	enum mmiotrap_attach_mode mode;
};

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

/* pinroot.c */
const char *pin_root_of(const struct mmiotrap_opts *opts);
int pin_path(char *buf, size_t size, const char *root, const char *dir, const char *name);
int tracefs_prepare(void);

/* instance.c: the region table is changed by one thread of one process at a time. */
int regions_lock(struct mmiotrap *mt);
void regions_unlock(struct mmiotrap *mt);

/* region.c */
int region_add(struct mmiotrap *mt, const struct mmiotrap_region_opts *opts,
	       __u8 action, __u8 fast_widths);
int region_at(struct mmiotrap *mt, __u32 vm, __u8 bus, __u64 addr, struct mmiotrap_region *r);
int region_set_fast(struct mmiotrap *mt, __u32 id, __u8 fast);
__u64 table_version(struct mmiotrap *mt);

/* proc.c */
int proc_start_ticks(__u32 pid, __u64 *ticks);

#endif /* MMIOTRAP_INTERNAL_H */
