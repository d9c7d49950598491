/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Policy files inside libmmiotrap: policy.c reads and checks a file
 * without the kernel, policy_apply.c applies it.
 */
#ifndef MMIOTRAP_POLICY_H
#define MMIOTRAP_POLICY_H

#include "internal.h"

/* A VM as the file names it: by QEMU's -name or by pid. */
struct policy_vm {
	char *name;		/* NULL: named by pid */
	__u32 pid;
	char *qmp;		/* its QMP socket; NULL: from its command line */
	int line;		/* of its vm mapping */
};

struct policy_region {
	char name[MMIOTRAP_NAME_LEN];
	int vm;			/* index into policy.vms */
	bool fast;		/* mode: fast */
	/* A device of the VM, by QEMU id, QOM path or PCI address: apply finds addr and len. */
	char *device;
	/*
	 * doorbells: ioeventfds: one region for each run of the VM's
	 * ioeventfds that apply finds, on bus if bus_given, within
	 * [in_addr, in_addr + in_len) if in_len (or the device's region).
	 */
	bool ioeventfds;
	bool bus_given;
	__u64 in_addr;
	__u64 in_len;
	bool decoder_given;
	/* As apply adds it, but for vm, which apply resolves, and flags. */
	struct mmiotrap_region want;
	int line;		/* where the region starts */
	int name_line;
	int addr_line;
	int len_line;
};

struct mmiotrap_policy {
	const char *file;
	struct policy_vm *vms;
	int nvms;
	struct policy_region *regions;
	int nregions;
	struct mmiotrap_policy_problem *problems;	/* by line */
	int nproblems;
};

/* Add a problem; NULL when out of memory. */
struct mmiotrap_policy_problem *policy_vproblem(struct mmiotrap_policy *p, int line,
						const char *key, const char *fmt, va_list ap);

#endif /* MMIOTRAP_POLICY_H */
