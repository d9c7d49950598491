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
#include "mmiotrap_rules.h"

struct mmiotrap_stats {
	__u64 ts_ns;
	int nr;
	struct mmiotrap_stats_region *regions;
	int nr_queues;
	struct mmiotrap_stats_queue *queues;
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


/* The queue rows, read in batches: a hash map's batch ends at a bucket. */
struct queue_rows {
	struct mmiotrap_queue_key *keys;
	struct mmiotrap_queue_stats *vals;
	__u32 n, cap;
};

#define QUEUE_BATCH	256

static int read_queue_rows(int fd, struct queue_rows *q)
{
	__u32 token, count;
	void *more;
	bool first = true;
	int err;

	for (;;) {
		if (q->cap - q->n < QUEUE_BATCH) {
			q->cap = q->cap * 2 + QUEUE_BATCH;
			more = realloc(q->keys, q->cap * sizeof(*q->keys));
			if (!more)
				return -ENOMEM;
			q->keys = more;
			more = realloc(q->vals, q->cap * sizeof(*q->vals));
			if (!more)
				return -ENOMEM;
			q->vals = more;
		}
		count = QUEUE_BATCH;
		err = bpf_map_lookup_batch(fd, first ? NULL : &token, &token, q->keys + q->n,
					   q->vals + q->n, &count, NULL);
		q->n += count;
		first = false;
		if (err)
			return errno == ENOENT ? 0 : -errno;
	}
}

static int queue_cmp(const void *a, const void *b)
{
	const struct mmiotrap_stats_queue *x = a, *y = b;

	if (x->queue != y->queue)
		return x->queue < y->queue ? -1 : 1;
	return x->kind < y->kind ? -1 : x->kind > y->kind;
}

/* Hand each region its rows of its own generation, in (queue, kind) order. */
static int attach_queues(struct mmiotrap_stats *st, const struct queue_rows *rows)
{
	struct mmiotrap_stats_region *r;
	struct mmiotrap_stats_queue *q;
	__u32 i;
	int lo, hi, mid;

	st->queues = calloc(rows->n ?: 1, sizeof(*st->queues));
	if (!st->queues)
		return -ENOMEM;
	/* Rows grouped by region, in the regions' (id) order: count, then place. */
	for (i = 0; i < rows->n; i++) {
		const struct mmiotrap_queue_key *k = &rows->keys[i];

		for (lo = 0, hi = st->nr; lo < hi;) {
			mid = (lo + hi) / 2;
			if (st->regions[mid].region.id < k->region)
				lo = mid + 1;
			else
				hi = mid;
		}
		if (lo == st->nr || st->regions[lo].region.id != k->region ||
		    st->regions[lo].region.gen != k->gen)
			continue;
		st->regions[lo].nr_queues++;
		/* Borrowed for the region index until the rows are placed. */
		rows->keys[i].reserved = lo + 1;
	}
	q = st->queues;
	for (lo = 0; lo < st->nr; lo++) {
		r = &st->regions[lo];
		r->queues = q;
		q += r->nr_queues;
		r->nr_queues = 0;
	}
	for (i = 0; i < rows->n; i++) {
		const struct mmiotrap_queue_stats *v = &rows->vals[i];

		if (!rows->keys[i].reserved)
			continue;
		r = &st->regions[rows->keys[i].reserved - 1];
		q = (struct mmiotrap_stats_queue *)&r->queues[r->nr_queues++];
		q->queue = rows->keys[i].queue;
		q->kind = rows->keys[i].kind;
		q->writes = v->writes;
		q->fast = v->fast;
		q->exits = v->writes - v->fast;
		q->value = v->value;
		q->pairs = v->pairs;
		q->lat_sum_ns = v->lat_sum_ns;
		q->no_slot = v->no_slot;
		q->open = v->open_ns != 0;
		memcpy(q->lat, v->lat, sizeof(q->lat));
		q->route = v->route;
		q->route_seen = v->route ? v->route_seen : 0;
		q->route_confirmed = mmiotrap_route_confirmed(v->route, v->route_seen);
		q->foreign = v->foreign;
		q->relearns = v->relearns;
		st->nr_queues++;
	}
	for (lo = 0; lo < st->nr; lo++)
		qsort((void *)st->regions[lo].queues, st->regions[lo].nr_queues,
		      sizeof(*q), queue_cmp);
	return 0;
}

static int read_queues(struct mmiotrap *mt, struct mmiotrap_stats *st)
{
	struct queue_rows rows = {};
	int err;

	err = read_queue_rows(mt->map_fd[MAP_QUEUES], &rows);
	if (!err)
		err = attach_queues(st, &rows);
	free(rows.keys);
	free(rows.vals);
	return err;
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
	if (!err)
		err = read_queues(mt, st);
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
	free(st->queues);
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

const struct mmiotrap_stats_queue *mmiotrap_stats_queue(const struct mmiotrap_stats_region *r,
							 int i)
{
	return r && i >= 0 && i < r->nr_queues ? &r->queues[i] : NULL;
}

__u64 mmiotrap_lat_quantile(const __u64 *lat, double q)
{
	__u64 total = 0, seen = 0, want;
	int i;

	if (!lat)
		return 0;
	for (i = 0; i < MMIOTRAP_LAT_BUCKETS; i++)
		total += lat[i];
	if (!total)
		return 0;
	/* The rank of the quantile, from 1: q = 0.5 of 3 is the 2nd. */
	want = (__u64)(q * total + 0.999999);
	if (!want)
		want = 1;
	for (i = 0; i < MMIOTRAP_LAT_BUCKETS - 1; i++) {
		seen += lat[i];
		if (seen >= want)
			break;
	}
	return 2ULL << i;
}
