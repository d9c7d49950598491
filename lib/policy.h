/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Policy files: the regions each VM should have, as YAML. policy.c reads
 * and checks a file without the kernel; cmd_policy.c applies it.
 */
#ifndef MMIOTRAP_POLICY_H
#define MMIOTRAP_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include "mmiotrap.h"

/* One problem of the file: "FILE:LINE: key 'KEY': MSG". */
struct policy_error {
	int line;
	bool syntax;		/* a YAML syntax error: there is no key */
	char key[64];
	char msg[256];
};

/* A VM as the file names it: by QEMU's -name or by pid. */
struct policy_vm {
	char *name;		/* NULL: named by pid */
	__u32 pid;
	int line;		/* of its vm mapping */
};

struct policy_region {
	char name[MMIOTRAP_NAME_LEN];
	int vm;			/* index into policy.vms */
	bool fast;		/* mode: fast */
	/* All but vm, which apply resolves; name points to the name above. */
	struct mmiotrap_region_opts opts;
	int line;		/* where the region starts */
	int name_line;
	int addr_line;
	int len_line;
};

struct policy {
	const char *file;
	struct policy_vm *vms;
	int nvms;
	struct policy_region *regions;
	int nregions;
	struct policy_error *errors;	/* by line */
	int nerrors;
};

/*
 * Read and check @file ("-": stdin). Returns 0 with what is wrong with it
 * in policy.errors, or -errno when it cannot be read.
 */
int policy_read(struct policy *p, const char *file);
void policy_free(struct policy *p);

/*
 * The guest name QEMU process @pid was given with -name, into @buf:
 * -ESRCH if there is no such process, -ENOENT if it has no -name.
 */
int policy_vm_name(__u32 pid, char *buf, size_t size);

/*
 * The processes whose -name is @name: how many there are, the first @max
 * of them in @pids.
 */
int policy_find_vm(const char *name, __u32 *pids, int max);

/* Do [a, a + alen) and [b, b + blen) share a byte? */
static inline bool policy_overlap(__u64 a, __u64 alen, __u64 b, __u64 blen)
{
	return a - b < blen || b - a < alen;
}

#endif /* MMIOTRAP_POLICY_H */
