// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * A snapshot of every counter: what top refreshes from and what a
 * Prometheus scrape serves. It must cost the same however many regions
 * there are, so the regions and the per-CPU counters are read in one batch
 * each rather than region by region.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include "internal.h"

struct mmiotrap_stats {
	__u64 ts_ns;
	int nr;
	struct mmiotrap_stats_region *regions;
	struct mmiotrap_counters sum;
	struct mmiotrap_totals totals;
};

/* Every entry of an array map of @n, in key order; @values holds them all. */
static int read_array(int fd, void *values, __u32 n)
{
	__u32 *keys = calloc(n, sizeof(*keys)), count = n, out;
	int err = 0;

	if (!keys)
		return -ENOMEM;
	/* ENOENT only says the batch reached the map's end. */
	if (bpf_map_lookup_batch(fd, NULL, &out, keys, values, &count, NULL) && errno != ENOENT)
		err = -errno;
	else if (count != n)
		err = -EIO;
	free(keys);
	return err;
}

static void counters_add(struct mmiotrap_counters *sum, const struct mmiotrap_counters *c)
{
	sum->matched += c->matched;
	sum->emitted += c->emitted;
	sum->dropped += c->dropped;
	sum->skipped += c->skipped;
	sum->fast += c->fast;
}

/*
 * Each VM's first region in the snapshot, by pid, open addressing: a VM
 * with many regions is looked up in /proc once, and a table of thousands
 * of VMs costs no pass over the regions per region.
 */
struct vm_seen {
	int *first;	/* index into st->regions + 1; 0: empty */
	__u32 mask;
};

static void vm_name(struct mmiotrap_stats *st, struct vm_seen *seen,
		    struct mmiotrap_stats_region *r)
{
	__u32 h = r->region.vm * 2654435761U;
	int *slot;

	for (;; h++) {
		slot = &seen->first[h & seen->mask];
		if (!*slot)
			break;
		if (st->regions[*slot - 1].region.vm == r->region.vm) {
			memcpy(r->vm_name, st->regions[*slot - 1].vm_name, sizeof(r->vm_name));
			return;
		}
	}
	*slot = st->nr + 1;
	if (mmiotrap_vm_name(r->region.vm, r->vm_name, sizeof(r->vm_name)))
		r->vm_name[0] = '\0';
}

/* Fill @st from the maps read into @regions and @percpu. */
static int collect(struct mmiotrap *mt, struct mmiotrap_stats *st,
		   const struct mmiotrap_region *regions, const struct mmiotrap_counters *percpu)
{
	const volatile struct mmiotrap_slot *slot;
	struct mmiotrap_stats_region *r;
	struct vm_seen seen;
	__u32 id, size = 1;
	int cpu;

	/* At least twice the regions: probes stay short. */
	while (size < 2 * mt->nids)
		size <<= 1;
	seen = (struct vm_seen){ .first = calloc(size, sizeof(int)), .mask = size - 1 };
	if (!seen.first)
		return -ENOMEM;

	for (id = 1; id < mt->nids; id++) {
		if (!regions[id].len)
			continue;
		r = &st->regions[st->nr];
		memset(r, 0, sizeof(*r));
		r->region = regions[id];
		for (cpu = 0; cpu < mt->ncpus; cpu++)
			counters_add(&r->counters, &percpu[(size_t)id * mt->ncpus + cpu]);
		r->exits = r->counters.matched - r->counters.fast;
		slot = &mt->slots[id];
		r->value = slot->value;
		r->seq = slot->seq;
		vm_name(st, &seen, r);
		counters_add(&st->sum, &r->counters);
		st->nr++;
	}
	free(seen.first);
	return 0;
}


int mmiotrap_stats_read(struct mmiotrap *mt, struct mmiotrap_stats **stp)
{
	struct mmiotrap_counters *percpu = NULL;
	struct mmiotrap_region *regions = NULL;
	struct mmiotrap_stats *st = NULL;
	int err;

	if (!mt || !stp)
		return -EINVAL;
	/* An unloaded instance's maps live on while we hold them: say it is gone. */
	if (!instance_live(mt))
		return -ESTALE;
	st = calloc(1, sizeof(*st));
	regions = table_read(mt);
	/* Per-CPU values come rounded up to 8 bytes: counters are whole u64s. */
	percpu = calloc((size_t)mt->nids * mt->ncpus, sizeof(*percpu));
	if (st)
		st->regions = calloc(mt->nids, sizeof(*st->regions));
	if (!st || !st->regions || !regions || !percpu) {
		err = -ENOMEM;
		goto cleanup;
	}
	/* The counters' time: rates are computed from it. */
	st->ts_ns = mmiotrap_now_ns();
	err = read_array(mt->map_fd[MAP_COUNTERS], percpu, mt->nids);
	if (!err)
		err = mmiotrap_totals(mt, &st->totals);
	if (err)
		goto cleanup;
	err = collect(mt, st, regions, percpu);
	if (err)
		goto cleanup;
	*stp = st;
	st = NULL;
cleanup:
	mmiotrap_stats_free(st);
	free(regions);
	free(percpu);
	return err;
}

void mmiotrap_stats_free(struct mmiotrap_stats *st)
{
	if (!st)
		return;
	free(st->regions);
	free(st);
}

__u64 mmiotrap_stats_ts_ns(const struct mmiotrap_stats *st)
{
	return st ? st->ts_ns : 0;
}

int mmiotrap_stats_regions(const struct mmiotrap_stats *st)
{
	return st ? st->nr : -EINVAL;
}

const struct mmiotrap_stats_region *mmiotrap_stats_region(const struct mmiotrap_stats *st, int i)
{
	return st && i >= 0 && i < st->nr ? &st->regions[i] : NULL;
}

const struct mmiotrap_counters *mmiotrap_stats_sum(const struct mmiotrap_stats *st)
{
	return st ? &st->sum : NULL;
}

const struct mmiotrap_totals *mmiotrap_stats_totals(const struct mmiotrap_stats *st)
{
	return st ? &st->totals : NULL;
}
