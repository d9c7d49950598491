// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The trap counts per CPU; callers see sums. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include "internal.h"

/* Sum @n u64 fields of a per-CPU value over every possible CPU. */
static int sum_percpu(struct mmiotrap *mt, int fd, __u32 key, __u64 *sum, size_t n)
{
	__u64 *vals;
	size_t cpu, i;
	int err = 0;

	vals = calloc((size_t)mt->ncpus, n * sizeof(*vals));
	if (!vals)
		return -ENOMEM;
	if (bpf_map_lookup_elem(fd, &key, vals)) {
		err = -errno;
		goto cleanup;
	}
	memset(sum, 0, n * sizeof(*sum));
	for (cpu = 0; cpu < (size_t)mt->ncpus; cpu++)
		for (i = 0; i < n; i++)
			sum[i] += vals[cpu * n + i];
cleanup:
	free(vals);
	return err;
}

int mmiotrap_region_counters(struct mmiotrap *mt, __u32 id, struct mmiotrap_counters *c)
{
	if (!mt || !c)
		return -EINVAL;
	if (!id || id >= mt->nids)
		return -ENOENT;
	return sum_percpu(mt, mt->map_fd[MAP_COUNTERS], id, (__u64 *)c,
			  sizeof(*c) / sizeof(__u64));
}

int mmiotrap_totals(struct mmiotrap *mt, struct mmiotrap_totals *t)
{
	if (!mt || !t)
		return -EINVAL;
	return sum_percpu(mt, mt->map_fd[MAP_TOTALS], 0, (__u64 *)t,
			  sizeof(*t) / sizeof(__u64));
}
