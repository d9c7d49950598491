// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Regions: the table the trap looks writes up in. A region is a value in
 * the regions array, its VMM in the vms hash, and its address range split
 * into aligned blocks in the addr_index trie. Adding writes the index last
 * and deleting removes it first, so the trap never finds a half-made region.
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include "internal.h"

#define MAX_BLOCKS	128

struct block {
	__u64 addr;
	int order;	/* the block is 1 << order bytes */
};

/* [addr, addr + len) as maximal aligned power-of-two blocks. */
static int split_blocks(__u64 addr, __u64 len, struct block *b)
{
	int n = 0, order;

	while (len) {
		order = 63 - __builtin_clzll(len);
		if (addr && __builtin_ctzll(addr) < order)
			order = __builtin_ctzll(addr);
		b[n].addr = addr;
		b[n++].order = order;
		addr += 1ULL << order;
		len -= 1ULL << order;
	}
	return n;
}

int mmiotrap_index_entries(__u64 addr, __u64 len)
{
	struct block b[MAX_BLOCKS];

	return split_blocks(addr, len, b);
}

static struct mmiotrap_index_key block_key(const struct mmiotrap_region *r,
					   const struct block *b)
{
	return (struct mmiotrap_index_key) {
		.prefixlen = MMIOTRAP_INDEX_FIXED_BITS + 64 - b->order,
		.vm = r->vm,
		.bus = r->bus,
		.addr_be = htobe64(b->addr),
	};
}

static void index_remove(struct mmiotrap *mt, const struct mmiotrap_region *r, int upto)
{
	struct block b[MAX_BLOCKS];
	struct mmiotrap_index_key key;
	int i, n = split_blocks(r->addr, r->len, b);

	for (i = 0; i < n && i < upto; i++) {
		key = block_key(r, &b[i]);
		bpf_map_delete_elem(mt->map_fd[MAP_ADDR_INDEX], &key);
	}
}

static int index_insert(struct mmiotrap *mt, const struct mmiotrap_region *r)
{
	struct block b[MAX_BLOCKS];
	struct mmiotrap_index_key key;
	int i, n = split_blocks(r->addr, r->len, b);

	for (i = 0; i < n; i++) {
		key = block_key(r, &b[i]);
		if (bpf_map_update_elem(mt->map_fd[MAP_ADDR_INDEX], &key, &r->id, BPF_NOEXIST)) {
			/* The address index is full: not the region table. */
			int err = errno == E2BIG || errno == ENOSPC ? -ENOBUFS : -errno;

			index_remove(mt, r, i);
			return err;
		}
	}
	return 0;
}

/* The region of process @vm holding @addr on @bus, or -ENOENT. */
int region_at(struct mmiotrap *mt, __u32 vm, __u8 bus, __u64 addr, struct mmiotrap_region *r)
{
	struct mmiotrap_index_key key = {
		.prefixlen = MMIOTRAP_INDEX_FIXED_BITS + 64,
		.vm = vm,
		.bus = bus,
		.addr_be = htobe64(addr),
	};
	__u32 id;

	if (bpf_map_lookup_elem(mt->map_fd[MAP_ADDR_INDEX], &key, &id))
		return -errno;
	return mmiotrap_region_get(mt, id, r);
}

int mmiotrap_region_get(struct mmiotrap *mt, __u32 id, struct mmiotrap_region *r)
{
	if (!id || id >= MMIOTRAP_MAX_REGIONS)
		return -ENOENT;
	if (bpf_map_lookup_elem(mt->map_fd[MAP_REGIONS], &id, r))
		return -errno;
	return r->len ? 0 : -ENOENT;
}

int mmiotrap_region_next(struct mmiotrap *mt, __u32 prev, struct mmiotrap_region *r)
{
	__u32 id;
	int err;

	for (id = prev + 1; id < MMIOTRAP_MAX_REGIONS; id++) {
		err = mmiotrap_region_get(mt, id, r);
		if (err != -ENOENT)
			return err;
	}
	return -ENOENT;
}

int mmiotrap_region_find(struct mmiotrap *mt, const char *name, struct mmiotrap_region *r)
{
	__u32 id = 0;

	if (!name || !*name)
		return -ENOENT;
	while (!mmiotrap_region_next(mt, id, r)) {
		if (!strncmp(r->name, name, sizeof(r->name)))
			return 0;
		id = r->id;
	}
	return -ENOENT;
}

static int vm_get(struct mmiotrap *mt, __u32 pid, struct mmiotrap_vm *vm)
{
	return bpf_map_lookup_elem(mt->map_fd[MAP_VMS], &pid, vm) ? -errno : 0;
}

bool mmiotrap_region_stale(struct mmiotrap *mt, const struct mmiotrap_region *r)
{
	struct mmiotrap_vm vm;
	__u64 ticks;

	return vm_get(mt, r->vm, &vm) || proc_start_ticks(r->vm, &ticks) ||
	       ticks != vm.start_ticks;
}

/* Each id's counters start from zero, whatever the id's last region left. */
static int reset_id(struct mmiotrap *mt, __u32 id)
{
	struct mmiotrap_slot slot = {};
	void *zeros;
	int err = 0;

	zeros = calloc(mt->ncpus, sizeof(struct mmiotrap_counters));
	if (!zeros)
		return -ENOMEM;
	if (bpf_map_update_elem(mt->map_fd[MAP_COUNTERS], &id, zeros, 0) ||
	    bpf_map_update_elem(mt->map_fd[MAP_SLOTS], &id, &slot, 0))
		err = -errno;
	free(zeros);
	return err;
}

/*
 * The table's version, in slots[0]: subscribers read it without a system
 * call and look at the table again when it moved. It moves after a change
 * is in the regions map, and before the trap can find an added region.
 */
__u64 table_version(struct mmiotrap *mt)
{
	const volatile struct mmiotrap_slot *s = mt->slots;

	return s->seq;
}

static int set_version(struct mmiotrap *mt, __u64 version)
{
	struct mmiotrap_slot slot = { .seq = version };
	__u32 zero = 0;

	return bpf_map_update_elem(mt->map_fd[MAP_SLOTS], &zero, &slot, 0) ? -errno : 0;
}

static int bump_version(struct mmiotrap *mt)
{
	return set_version(mt, table_version(mt) + 1);
}

/* The vms entry counts its regions and knows which buses they are on. */
static int vm_update(struct mmiotrap *mt, __u32 pid)
{
	struct mmiotrap_vm vm = {};
	struct mmiotrap_region r;
	__u32 id = 0, buses = 0, regions = 0;

	while (!mmiotrap_region_next(mt, id, &r)) {
		if (r.vm == pid) {
			buses |= 1U << r.bus;
			regions++;
		}
		id = r.id;
	}
	if (!regions) {
		if (bpf_map_delete_elem(mt->map_fd[MAP_VMS], &pid) && errno != ENOENT)
			return -errno;
		return 0;
	}
	if (vm_get(mt, pid, &vm) && proc_start_ticks(pid, &vm.start_ticks))
		return -ESRCH;
	vm.buses = buses;
	vm.regions = regions;
	return bpf_map_update_elem(mt->map_fd[MAP_VMS], &pid, &vm, 0) ? -errno : 0;
}

static int region_remove(struct mmiotrap *mt, const struct mmiotrap_region *r)
{
	struct mmiotrap_region empty = {};
	__u32 id = r->id;
	int err;

	index_remove(mt, r, MAX_BLOCKS);
	if (bpf_map_update_elem(mt->map_fd[MAP_REGIONS], &id, &empty, 0))
		return -errno;
	err = bump_version(mt);
	return err ? err : vm_update(mt, r->vm);
}

/* Regions of an exited process whose pid @pid names again can never match. */
static int prune_stale(struct mmiotrap *mt, __u32 pid, __u64 ticks)
{
	struct mmiotrap_region r;
	struct mmiotrap_vm vm;
	__u32 id = 0;
	int err;

	if (vm_get(mt, pid, &vm) || vm.start_ticks == ticks)
		return 0;
	while (!mmiotrap_region_next(mt, id, &r)) {
		id = r.id;
		if (r.vm != pid)
			continue;
		err = region_remove(mt, &r);
		if (err)
			return err;
	}
	return 0;
}

static bool valid_name(const char *name)
{
	size_t i;

	if (!isalpha((unsigned char)name[0]))
		return false;
	for (i = 1; name[i]; i++)
		if (!isalnum((unsigned char)name[i]) && !strchr("_.-", name[i]))
			return false;
	return true;
}

static bool valid_field_name(const char *name, size_t size)
{
	size_t n = strnlen(name, size);

	return n && n < size && valid_name(name);
}

/* Parameters a decoder cannot work with are refused, not mis-decoded. */
static int check_decoder(const struct mmiotrap_region_opts *o)
{
	const union mmiotrap_decoder_params *p = &o->params;
	int i, fields = 0;

	switch (o->decoder) {
	case MMIOTRAP_DECODER_RAW:
		return 0;
	case MMIOTRAP_DECODER_NVME:
		return p->nvme.queues && p->nvme.dstrd <= 15 ? 0 : -EINVAL;
	case MMIOTRAP_DECODER_VIRTIO_PCI:
		return p->virtio.queues &&
		       !(p->virtio.flags & ~(MMIOTRAP_VIRTIO_NOTIFICATION_DATA |
					     MMIOTRAP_VIRTIO_PACKED)) ? 0 : -EINVAL;
	case MMIOTRAP_DECODER_VIRTIO_LEGACY:
		return p->legacy.queues && p->legacy.queues <= 0x10000 ? 0 : -EINVAL;
	case MMIOTRAP_DECODER_BITFIELD:
		for (i = 0; i < MMIOTRAP_FIELDS; i++) {
			if (!p->bitfield.mask[i])
				continue;
			if (p->bitfield.shift[i] > 63 ||
			    !valid_field_name(p->bitfield.name[i], sizeof(p->bitfield.name[i])))
				return -EINVAL;
			fields++;
		}
		return fields ? 0 : -EINVAL;
	default:
		return -EINVAL;
	}
}

static int check_opts(const struct mmiotrap_region_opts *o)
{
	__u64 end = o->bus == MMIOTRAP_BUS_PIO ? 0x10000 : 0;

	if (!o->len || (o->widths & ~MMIOTRAP_WIDTHS_ALL) || (o->flags & ~MMIOTRAP_REGION_POLICY) ||
	    (o->want_fast & ~(o->widths ?: MMIOTRAP_WIDTHS_ALL)))
		return -EINVAL;
	if (o->bus != MMIOTRAP_BUS_MMIO && o->bus != MMIOTRAP_BUS_PIO)
		return -EINVAL;
	/* MMIO may reach the very top of the 64-bit space; PIO ends at 64K. */
	if (end ? o->addr >= end || o->len > end - o->addr : o->len - 1 > ~0ULL - o->addr)
		return -ERANGE;
	if (o->name && strlen(o->name) >= MMIOTRAP_NAME_LEN)
		return -ENAMETOOLONG;
	if (o->name && *o->name && !valid_name(o->name))
		return -EINVAL;
	return check_decoder(o);
}

static bool overlaps(const struct mmiotrap_region *r, const struct mmiotrap_region_opts *o)
{
	if (r->vm != o->vm || r->bus != o->bus)
		return false;
	return o->addr - r->addr < r->len || r->addr - o->addr < o->len;
}

/*
 * What an add would conflict with, ignoring regions about to be pruned;
 * sets *free_id to the lowest id left for it.
 */
static int check_conflicts(struct mmiotrap *mt, const struct mmiotrap_region_opts *o,
			   __u64 ticks, __u32 *free_id)
{
	struct mmiotrap_region r;
	bool used[MMIOTRAP_MAX_REGIONS] = { true };
	struct mmiotrap_vm vm;
	bool pruning;
	__u32 id = 0;

	pruning = !vm_get(mt, o->vm, &vm) && vm.start_ticks != ticks;
	while (!mmiotrap_region_next(mt, id, &r)) {
		id = r.id;
		if (pruning && r.vm == o->vm)
			continue;
		used[id] = true;
		if (o->name && *o->name && !strncmp(r.name, o->name, sizeof(r.name)))
			return -EEXIST;
		if (overlaps(&r, o))
			return -EADDRINUSE;
	}
	for (id = 1; id < MMIOTRAP_MAX_REGIONS; id++) {
		if (!used[id]) {
			*free_id = id;
			return 0;
		}
	}
	return -ENOSPC;
}

static int region_insert(struct mmiotrap *mt, const struct mmiotrap_region *r)
{
	struct mmiotrap_region empty = {};
	__u32 id = r->id;
	int err;

	err = reset_id(mt, id);
	if (err)
		return err;
	if (bpf_map_update_elem(mt->map_fd[MAP_REGIONS], &id, r, 0))
		return -errno;
	err = vm_update(mt, r->vm);
	if (!err)
		err = set_version(mt, r->gen);
	if (!err)
		err = index_insert(mt, r);
	if (err) {
		bpf_map_update_elem(mt->map_fd[MAP_REGIONS], &id, &empty, 0);
		vm_update(mt, r->vm);
		bump_version(mt);
	}
	return err;
}

int mmiotrap_region_add(struct mmiotrap *mt, const struct mmiotrap_region_opts *opts)
{
	struct mmiotrap_region_opts o = {};

	if (!opts || !OPTS_VALID(opts, struct mmiotrap_region_opts))
		return -EINVAL;
	memcpy(&o, opts, opts->sz);
	return region_add(mt, &o, MMIOTRAP_ACTION_RING |
			  (o.dispatched ? MMIOTRAP_ACTION_QUIET : 0), 0);
}

int region_add(struct mmiotrap *mt, const struct mmiotrap_region_opts *opts,
	       __u8 action, __u8 fast_widths)
{
	struct mmiotrap_region_opts o = *opts;
	struct mmiotrap_region r = {};
	__u64 ticks;
	__u32 id;
	int err;

	err = check_opts(&o);
	if (err)
		return err;
	err = proc_start_ticks(o.vm, &ticks);
	if (err)
		return err;
	err = regions_lock(mt);
	if (err)
		return err;
	err = check_conflicts(mt, &o, ticks, &id);
	if (!err)
		err = prune_stale(mt, o.vm, ticks);
	if (!err) {
		r.addr = o.addr;
		r.len = o.len;
		r.id = id;
		r.vm = o.vm;
		r.bus = o.bus;
		r.widths = o.widths ? o.widths : MMIOTRAP_WIDTHS_ALL;
		r.flags = o.flags;
		r.want_fast = o.want_fast;
		r.decoder = o.decoder;
		r.params = o.params;
		r.action = action;
		r.fast_widths = fast_widths;
		/* Its generation: the version its add makes. */
		r.gen = table_version(mt) + 1;
		if (o.name)
			strncpy(r.name, o.name, sizeof(r.name) - 1);
		err = region_insert(mt, &r);
	}
	regions_unlock(mt);
	return err ? err : (int)id;
}

/* Make region @id fast on @fast widths, or capture only again with 0. */
int region_set_fast(struct mmiotrap *mt, __u32 id, __u8 fast)
{
	struct mmiotrap_region r;
	int err;

	err = regions_lock(mt);
	if (err)
		return err;
	err = mmiotrap_region_get(mt, id, &r);
	if (!err) {
		r.fast_widths = fast;
		r.action = MMIOTRAP_ACTION_RING | (fast ? MMIOTRAP_ACTION_QUIET : 0);
		if (bpf_map_update_elem(mt->map_fd[MAP_REGIONS], &id, &r, BPF_EXIST))
			err = -errno;
		else
			err = bump_version(mt);
	}
	regions_unlock(mt);
	return err;
}

int mmiotrap_region_del(struct mmiotrap *mt, __u32 id)
{
	struct mmiotrap_region r;
	int err;

	err = regions_lock(mt);
	if (err)
		return err;
	err = mmiotrap_region_get(mt, id, &r);
	if (!err)
		err = region_remove(mt, &r);
	regions_unlock(mt);
	return err;
}

static const char *const decoder_names[MMIOTRAP_DECODER_MAX] = {
	[MMIOTRAP_DECODER_RAW]		 = "raw",
	[MMIOTRAP_DECODER_NVME]		 = "nvme",
	[MMIOTRAP_DECODER_VIRTIO_PCI]	 = "virtio-pci",
	[MMIOTRAP_DECODER_VIRTIO_LEGACY] = "virtio-legacy",
	[MMIOTRAP_DECODER_BITFIELD]	 = "bitfield",
};

int mmiotrap_decoder_by_name(const char *name)
{
	int i;

	for (i = 0; i < MMIOTRAP_DECODER_MAX; i++)
		if (name && !strcmp(name, decoder_names[i]))
			return i;
	return -EINVAL;
}

const char *mmiotrap_decoder_str(enum mmiotrap_decoder decoder)
{
	return decoder < MMIOTRAP_DECODER_MAX ? decoder_names[decoder] : "unknown";
}

const char *mmiotrap_kind_str(enum mmiotrap_kind kind)
{
	static const char *const names[] = {
		[MMIOTRAP_KIND_RAW]	  = "raw",
		[MMIOTRAP_KIND_SQ_TAIL]	  = "sq_tail",
		[MMIOTRAP_KIND_CQ_HEAD]	  = "cq_head",
		[MMIOTRAP_KIND_NOTIFY]	  = "notify",
		[MMIOTRAP_KIND_OFF_GRID]  = "off_grid",
		[MMIOTRAP_KIND_BAD_QUEUE] = "bad_queue",
		[MMIOTRAP_KIND_FIELDS]	  = "fields",
	};

	return kind < sizeof(names) / sizeof(names[0]) ? names[kind] : "unknown";
}
