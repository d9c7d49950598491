// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Regions: the table the trap looks writes up in. A region is a value in
 * the regions array, its VMM in the vms hash (which lists the regions of a
 * VM with few), and its address range split into aligned blocks in the
 * addr_index trie. Adding writes the index and then the VM's entry last,
 * and deleting rewrites the entry and removes the index first, so the trap
 * never finds a half-made region.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include "internal.h"

#define MAX_BLOCKS	128
#define PIO_END		0x10000ULL

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

/* Every block that is there goes; one already gone is no error. */
static int index_remove(struct mmiotrap *mt, const struct mmiotrap_region *r, int upto)
{
	struct block b[MAX_BLOCKS];
	struct mmiotrap_index_key key;
	int i, err = 0, n = split_blocks(r->addr, r->len, b);

	for (i = 0; i < n && i < upto; i++) {
		key = block_key(r, &b[i]);
		if (bpf_map_delete_elem(mt->map_fd[MAP_ADDR_INDEX], &key) && errno != ENOENT)
			err = -errno;
	}
	return err;
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
	if (!mt || !r)
		return -EINVAL;
	if (!id || id >= mt->nids)
		return -ENOENT;
	*r = mt->regions[id];
	return r->len ? 0 : -ENOENT;
}

/*
 * A copy of the whole table, or NULL with errno set: entry i is region id
 * i, free when its len is 0. The caller frees it. The table is mapped and
 * changes under us: a copy taken while the version moved is taken again,
 * and an entry caught half-written is of a change whose version bump
 * follows, which sends every reader back to the table.
 */
struct mmiotrap_region *table_read(struct mmiotrap *mt)
{
	struct mmiotrap_region *tab = malloc(mt->nids * sizeof(*tab));
	__u64 version;
	int tries = 0;

	if (!tab)
		return NULL;
	do {
		version = table_version(mt);
		memcpy(tab, mt->regions, mt->nids * sizeof(*tab));
	} while (version != table_version(mt) && ++tries < 100);
	return tab;
}

int mmiotrap_region_next(struct mmiotrap *mt, __u32 prev, struct mmiotrap_region *r)
{
	__u32 id;

	if (!mt || !r)
		return -EINVAL;
	for (id = prev + 1; id < mt->nids; id++) {
		if (mt->regions[id].len) {
			*r = mt->regions[id];
			return 0;
		}
	}
	return -ENOENT;
}

int mmiotrap_region_find(struct mmiotrap *mt, const char *name, struct mmiotrap_region *r)
{
	const struct mmiotrap_region *tab;
	__u32 id;

	if (!mt || !r)
		return -EINVAL;
	if (!name || !*name)
		return -ENOENT;
	tab = mt->regions;
	for (id = 1; id < mt->nids; id++) {
		if (tab[id].len && !strncmp(tab[id].name, name, sizeof(tab[id].name))) {
			*r = tab[id];
			return 0;
		}
	}
	return -ENOENT;
}

static int vm_get(struct mmiotrap *mt, __u32 pid, struct mmiotrap_vm *vm)
{
	return bpf_map_lookup_elem(mt->map_fd[MAP_VMS], &pid, vm) ? -errno : 0;
}

static int vm_stale(struct mmiotrap *mt, __u32 pid)
{
	struct mmiotrap_vm vm;
	__u64 ticks;
	int err;

	/* Without its VM's entry, the region can never match again. */
	err = vm_get(mt, pid, &vm);
	if (err)
		return err == -ENOENT ? 1 : err;
	err = proc_start_ticks(pid, &ticks);
	if (err)
		return err == -ESRCH ? 1 : err;
	return ticks != vm.start_ticks;
}

#define STALE_MEMO_NS	100000000ULL

int mmiotrap_region_stale(struct mmiotrap *mt, const struct mmiotrap_region *r)
{
	__u64 now = mmiotrap_now_ns();
	typeof(mt->stale_memo[0]) *m;

	if (!mt || !r)
		return -EINVAL;
	m = &mt->stale_memo[r->vm % ARRAY_SIZE(mt->stale_memo)];
	if (m->pid == r->vm && now - m->at_ns < STALE_MEMO_NS)
		return m->stale;
	m->stale = vm_stale(mt, r->vm);
	m->pid = m->stale < 0 ? 0 : r->vm;
	m->at_ns = now;
	return m->stale;
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

/* slots[0] holds more than the version: the rest of it stays. */
static int set_version(struct mmiotrap *mt, __u64 version)
{
	const volatile struct mmiotrap_slot *s = mt->slots;
	struct mmiotrap_slot slot = { .seq = version, .value = s->value, .reserved = s->reserved };
	__u32 zero = 0;

	return bpf_map_update_elem(mt->map_fd[MAP_SLOTS], &zero, &slot, 0) ? -errno : 0;
}

static int bump_version(struct mmiotrap *mt)
{
	return set_version(mt, table_version(mt) + 1);
}

/*
 * A pid's bit in vm_bits: set before its vms entry is made, cleared after
 * it is gone, so that the trap never skips a VM that has one.
 */
static void vm_bit(struct mmiotrap *mt, __u32 pid, bool set)
{
	__u64 bit = 1ULL << (pid % 64);

	if (pid >= MMIOTRAP_PID_MAX)
		return;
	if (set)
		__atomic_fetch_or(&mt->vm_bits[pid / 64], bit, __ATOMIC_SEQ_CST);
	else
		__atomic_fetch_and(&mt->vm_bits[pid / 64], ~bit, __ATOMIC_SEQ_CST);
}

/*
 * The vms entry counts its regions, knows which buses they are on and, for
 * a VM with few, lists them, without region @skip (one being removed):
 * the trap finds a listed region from the entry alone.
 */
static int vm_update(struct mmiotrap *mt, __u32 pid, __u32 skip)
{
	const struct mmiotrap_region *tab = mt->regions;
	struct mmiotrap_vm vm = {}, old;
	__u32 id, buses = 0, regions = 0;

	for (id = 1; id < mt->nids; id++) {
		if (!tab[id].len || tab[id].vm != pid || id == skip)
			continue;
		if (regions < MMIOTRAP_VM_RANGES)
			vm.range[regions] = (struct mmiotrap_vm_range){
				.addr = tab[id].addr, .span = tab[id].len - 1,
				.id = id, .bus = tab[id].bus,
			};
		buses |= 1U << tab[id].bus;
		regions++;
	}
	if (!regions) {
		if (bpf_map_delete_elem(mt->map_fd[MAP_VMS], &pid) && errno != ENOENT)
			return -errno;
		vm_bit(mt, pid, false);
		/* Its open intervals name rows that are gone. */
		if (bpf_map_delete_elem(mt->map_fd[MAP_IRQS], &pid) && errno != ENOENT)
			return -errno;
		return 0;
	}
	/* The start time it was first seen with: a restart under the pid is another VM. */
	if (!vm_get(mt, pid, &old))
		vm.start_ticks = old.start_ticks;
	else if (proc_start_ticks(pid, &vm.start_ticks))
		return -ESRCH;
	vm.buses = buses;
	vm.regions = regions;
	vm_bit(mt, pid, true);
	if (!bpf_map_update_elem(mt->map_fd[MAP_VMS], &pid, &vm, 0))
		return 0;
	if (errno == E2BIG) {
		pr_warn("no room for another VM: %u at most (mmiotrap load --max-vms raises it)\n",
			mt->max_vms);
		return -ENOSPC;
	}
	return -errno;
}

/* No record goes to anyone once the region is gone. */
static int route_clear(struct mmiotrap *mt, __u32 id)
{
	struct mmiotrap_route none = {};

	return bpf_map_update_elem(mt->map_fd[MAP_ROUTES], &id, &none, 0) ? -errno : 0;
}

/*
 * A region change is several map writes. Before the first, slots[0]
 * notes the region (and its VM) it is about; after the last, the note
 * goes. A process killed in between leaves the note, and the next to take
 * the lock removes that region whole, whatever of it was written: an add
 * is all or nothing, a delete is all.
 */
static int note(struct mmiotrap *mt, __u32 id, __u32 vm)
{
	const volatile struct mmiotrap_slot *s = mt->slots;
	struct mmiotrap_slot slot = {
		.seq = s->seq, .value = (__u64)vm << 32 | id, .reserved = s->reserved,
	};
	__u32 zero = 0;

	return bpf_map_update_elem(mt->map_fd[MAP_SLOTS], &zero, &slot, 0) ? -errno : 0;
}

/*
 * The region's queue rows. Keyed by generation too, a row left behind is
 * never taken for a later region's: this only gives its room back.
 */
static int queues_forget(struct mmiotrap *mt, __u32 id)
{
	struct mmiotrap_queue_key key, next;
	int fd = mt->map_fd[MAP_QUEUES];
	bool have = false, doomed = false;

	/* A key is deleted once the walk is past it: a missing one restarts the walk. */
	while (!bpf_map_get_next_key(fd, have ? &key : NULL, &next)) {
		if (doomed && bpf_map_delete_elem(fd, &key) && errno != ENOENT)
			return -errno;
		key = next;
		have = true;
		doomed = key.region == id;
	}
	if (errno != ENOENT)
		return -errno;
	if (doomed && bpf_map_delete_elem(fd, &key) && errno != ENOENT)
		return -errno;
	return 0;
}

/*
 * The VM's entry and the index first: from then on the trap cannot find
 * the region.
 */
static int remove_whole(struct mmiotrap *mt, __u32 id, __u32 vm)
{
	struct mmiotrap_region empty = {}, r = mt->regions[id];
	int err;

	err = vm_update(mt, vm, id);
	if (!err && r.len)
		err = index_remove(mt, &r, MAX_BLOCKS);
	if (!err)
		err = route_clear(mt, id);
	if (!err && bpf_map_update_elem(mt->map_fd[MAP_REGIONS], &id, &empty, 0))
		err = -errno;
	if (!err)
		err = bump_version(mt);
	if (!err)
		err = queues_forget(mt, id);
	return err;
}

static int region_remove(struct mmiotrap *mt, __u32 id)
{
	int err;

	err = note(mt, id, mt->regions[id].vm);
	if (!err)
		err = remove_whole(mt, id, mt->regions[id].vm);
	return err ?: note(mt, 0, 0);
}

/* Under the lock, before anything else: finish what a killed process began. */
int regions_replay(struct mmiotrap *mt)
{
	__u64 n = ((const volatile struct mmiotrap_slot *)mt->slots)->value;
	__u32 id = n, vm = n >> 32;
	int err;

	if (!n)
		return 0;
	if (id >= mt->nids)
		return note(mt, 0, 0);
	pr_info("a change of region %u was cut short: what was made of it goes\n", id);
	err = remove_whole(mt, id, vm);
	return err ?: note(mt, 0, 0);
}

/* Regions of an exited process whose pid @pid names again can never match. */
static int prune_stale(struct mmiotrap *mt, __u32 pid, __u64 ticks)
{
	const struct mmiotrap_region *tab = mt->regions;
	struct mmiotrap_vm vm;
	__u32 id;
	int err = 0;

	if (vm_get(mt, pid, &vm) || vm.start_ticks == ticks)
		return 0;
	for (id = 1; id < mt->nids && !err; id++)
		if (tab[id].len && tab[id].vm == pid)
			err = region_remove(mt, id);
	return err;
}

bool mmiotrap_valid_name(const char *name)
{
	size_t i;

	if (!name || !isalpha((unsigned char)name[0]))
		return false;
	for (i = 1; name[i]; i++)
		if (!isalnum((unsigned char)name[i]) && !strchr("_.-", name[i]))
			return false;
	return true;
}

bool mmiotrap_overlap(__u64 a, __u64 alen, __u64 b, __u64 blen)
{
	return a - b < blen || b - a < alen;
}

const char *bus_name(enum mmiotrap_bus bus)
{
	return bus == MMIOTRAP_BUS_PIO ? "pio" : "mmio";
}

/* MMIO may reach the very top of the 64-bit space; PIO ends at 64K. */
int range_problem(enum mmiotrap_bus bus, __u64 addr, __u64 len, char *msg, size_t size)
{
	const unsigned long long a = addr, l = len;

	if (bus == MMIOTRAP_BUS_PIO && addr >= PIO_END) {
		snprintf(msg, size, "port 0x%llx is beyond 0xffff", a);
		return -EDOM;
	}
	if (bus == MMIOTRAP_BUS_PIO && len > PIO_END - addr)
		snprintf(msg, size, "pio 0x%llx len 0x%llx runs past the end of the 64 KiB port space",
			 a, l);
	else if (bus != MMIOTRAP_BUS_PIO && len - 1 > ~0ULL - addr)
		snprintf(msg, size, "mmio 0x%llx len 0x%llx runs past the end of the address space",
			 a, l);
	else
		return 0;
	return -ERANGE;
}

int mmiotrap_parse_widths(const char *arg, __u8 *widths, const char **bad)
{
	const char *tok = arg;
	size_t len;
	__u8 w = 0;

	if (!arg || !widths)
		return -EINVAL;
	for (; *tok; tok += len + !!tok[len]) {
		len = strcspn(tok, ",");
		if (len != 1 || !strchr("1248", *tok))
			break;
		w |= *tok - '0';
	}
	if (bad)
		*bad = tok;
	if (*tok || !w)
		return -EINVAL;
	*widths = w;
	return 0;
}

static int check_region(const struct mmiotrap_region *w)
{
	char msg[128];
	int err;

	if (!w->len) {
		pr_warn("a region of length 0\n");
		return -EINVAL;
	}
	if (w->bus != MMIOTRAP_BUS_MMIO && w->bus != MMIOTRAP_BUS_PIO) {
		pr_warn("no bus %u\n", w->bus);
		return -EINVAL;
	}
	if ((w->widths & ~MMIOTRAP_WIDTHS_ALL) || (w->want_fast & ~w->widths)) {
		pr_warn("widths 0x%x (fast 0x%x): not a set of 1, 2, 4 and 8 with the fast among them\n",
			w->widths, w->want_fast);
		return -EINVAL;
	}
	if (w->flags & ~MMIOTRAP_REGION_POLICY) {
		pr_warn("unknown region flags 0x%x\n", w->flags);
		return -EINVAL;
	}
	if (range_problem(w->bus, w->addr, w->len, msg, sizeof(msg))) {
		pr_warn("%s\n", msg);
		return -ERANGE;
	}
	if (*w->name && !mmiotrap_valid_name(w->name)) {
		pr_warn("bad name '%s': a letter, then letters, digits, '_', '.' or '-'\n", w->name);
		return -EINVAL;
	}
	err = decoder_problem(w->decoder, &w->params, msg, sizeof(msg));
	if (err)
		pr_warn("%s\n", msg);
	return err;
}

static bool overlaps(const struct mmiotrap_region *r, const struct mmiotrap_region *w)
{
	return r->vm == w->vm && r->bus == w->bus &&
	       mmiotrap_overlap(w->addr, w->len, r->addr, r->len);
}

/*
 * The region @name is taken by, or -1. A name held by a region whose VMM
 * has exited is free again: that region goes, so that a VMM killed and
 * restarted registers its doorbells under the same names at once.
 */
static int name_taken(struct mmiotrap *mt, const char *name)
{
	const struct mmiotrap_region *tab = mt->regions;
	__u32 id;
	int err;

	for (id = 1; *name && id < mt->nids; id++) {
		if (!tab[id].len || strncmp(tab[id].name, name, sizeof(tab[id].name)))
			continue;
		if (mmiotrap_region_stale(mt, &tab[id]) <= 0)
			return id;
		err = region_remove(mt, id);
		return err ? err : -1;
	}
	return -1;
}

/*
 * An id for a new region: @want if it is free, else the lowest free one.
 * An id may come back; records carry the generation that tells its
 * regions apart.
 */
static int next_id(struct mmiotrap *mt, __u32 want)
{
	const struct mmiotrap_region *tab = mt->regions;
	__u32 id;

	if (want && want < mt->nids && !tab[want].len)
		return want;
	for (id = 1; id < mt->nids; id++)
		if (!tab[id].len)
			return id;
	pr_warn("no room for another region: %u at most (mmiotrap load --max-regions raises it)\n",
		mt->nids - 1);
	return -ENOSPC;
}

/* What an add would conflict with, once stale regions are pruned. */
static int check_conflicts(struct mmiotrap *mt, const struct mmiotrap_region *o)
{
	const struct mmiotrap_region *tab = mt->regions;
	int id = name_taken(mt, o->name);

	if (id >= 0) {
		pr_warn("a region named '%s' exists already\n", o->name);
		return -EEXIST;
	}
	if (id < -1)
		return id;
	for (id = 1; (__u32)id < mt->nids; id++) {
		if (tab[id].len && overlaps(&tab[id], o)) {
			pr_warn("%s 0x%llx len 0x%llx overlaps region %u (%s) of vm %u\n",
				bus_name(o->bus), (unsigned long long)o->addr,
				(unsigned long long)o->len, id, *tab[id].name ? tab[id].name : "-",
				o->vm);
			return -EADDRINUSE;
		}
	}
	return 0;
}

/*
 * Region, route, version, the index, then the VM's entry: the trap finds
 * the region only when everything it reads is in place, and a subscriber
 * has seen the version move before the region's first record.
 */
static int region_insert(struct mmiotrap *mt, const struct mmiotrap_region *r)
{
	struct mmiotrap_route route;
	__u32 id = r->id;
	int err;

	err = note(mt, id, r->vm);
	if (!err)
		err = reset_id(mt, id);
	if (!err)
		err = route_of(mt, r, &route);
	if (!err && bpf_map_update_elem(mt->map_fd[MAP_ROUTES], &id, &route, 0))
		err = -errno;
	if (!err && bpf_map_update_elem(mt->map_fd[MAP_REGIONS], &id, r, 0))
		err = -errno;
	if (!err)
		err = set_version(mt, r->gen);
	if (!err)
		err = index_insert(mt, r);
	if (!err)
		err = vm_update(mt, r->vm, 0);
	if (!err)
		return note(mt, 0, 0);
	if (err == -ENOBUFS)
		pr_warn("the address index is full: %u blocks (mmiotrap load --index-entries raises it)\n",
			mt->index_entries);
	if (!remove_whole(mt, id, r->vm))
		note(mt, 0, 0);
	return err;
}

/* What both kinds of opts say of a region: its name and its decoder. */
int region_describe(struct mmiotrap_region *w, const char *name, enum mmiotrap_decoder decoder,
		    const union mmiotrap_decoder_params *params)
{
	if (name && strlen(name) >= sizeof(w->name)) {
		pr_warn("name '%s' is longer than %d characters\n", name, MMIOTRAP_NAME_LEN - 1);
		return -ENAMETOOLONG;
	}
	if (name)
		strcpy(w->name, name);
	w->decoder = decoder;
	if (params)
		w->params = *params;
	return 0;
}

int mmiotrap_region_add(struct mmiotrap *mt, __u32 vm, enum mmiotrap_bus bus, __u64 addr,
			__u64 len, const struct mmiotrap_region_opts *opts)
{
	struct mmiotrap_region w = { .vm = vm, .bus = bus, .addr = addr, .len = len };
	int err;

	if (!mt || !OPTS_VALID(opts, struct mmiotrap_region_opts))
		return -EINVAL;
	err = region_describe(&w, OPTS_GET(opts, name, NULL),
			      OPTS_GET(opts, decoder, MMIOTRAP_DECODER_RAW),
			      opts && opts->sz >= offsetofend(struct mmiotrap_region_opts, params) ?
			      &opts->params : NULL);
	if (err)
		return err;
	w.widths = OPTS_GET(opts, widths, 0) ?: MMIOTRAP_WIDTHS_ALL;
	w.flags = OPTS_GET(opts, flags, 0);
	w.want_fast = OPTS_GET(opts, want_fast, 0);
	w.action = MMIOTRAP_ACTION_RING |
		   (OPTS_GET(opts, dispatched, false) ? MMIOTRAP_ACTION_QUIET : 0);
	return region_add(mt, &w);
}

/*
 * Add region @want as it says (all but its generation; its id if that is
 * free, or the next free one when it is 0): its id, or -errno. Its VMM's
 * regions left by an exited process go first.
 */
int region_add(struct mmiotrap *mt, const struct mmiotrap_region *want)
{
	struct mmiotrap_region r = *want;
	__u64 ticks;
	int err, id = 0;

	err = check_region(&r);
	if (err)
		return err;
	err = proc_check_vmm(r.vm);
	if (!err)
		err = proc_start_ticks(r.vm, &ticks);
	if (err == -ESRCH)
		pr_warn("no process %u\n", r.vm);
	if (err)
		return err;
	err = regions_lock(mt);
	if (err)
		return err;
	err = subs_reap(mt);
	if (!err)
		err = prune_stale(mt, r.vm, ticks);
	if (!err)
		err = check_conflicts(mt, &r);
	if (!err)
		err = id = next_id(mt, want->id);
	if (err >= 0) {
		r.id = id;
		/* Its generation: the version its add makes. */
		r.gen = table_version(mt) + 1;
		err = region_insert(mt, &r);
	}
	regions_unlock(mt);
	return err ? err : id;
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

/* @fast_too: the VMM lets its own fast region go, ioeventfds gone first. */
int region_del(struct mmiotrap *mt, __u32 id, bool fast_too)
{
	struct mmiotrap_region r;
	int err;

	err = regions_lock(mt);
	if (err)
		return err;
	err = mmiotrap_region_get(mt, id, &r);
	/* Its ioeventfds would go on completing writes that nobody then sees. */
	if (!err && !fast_too && r.fast_widths && mmiotrap_region_stale(mt, &r) == 0) {
		pr_warn("region '%s' is fast: its VMM (pid %u) owns the ioeventfds and must let it go (mmiotrap_fast_del)\n",
			*r.name ? r.name : "-", r.vm);
		err = -EBUSY;
	}
	if (!err)
		err = region_remove(mt, id);
	regions_unlock(mt);
	return err;
}

int mmiotrap_region_del(struct mmiotrap *mt, __u32 id)
{
	if (!mt)
		return -EINVAL;
	return region_del(mt, id, false);
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

const char *mmiotrap_irq_kind_str(enum mmiotrap_irq_kind kind)
{
	static const char *const names[] = {
		[MMIOTRAP_IRQ_NONE] = "none",
		[MMIOTRAP_IRQ_MSI]  = "msi",
		[MMIOTRAP_IRQ_LINE] = "line",
	};

	return kind < sizeof(names) / sizeof(names[0]) ? names[kind] : "unknown";
}

/* mmiotrap_msi_route() and mmiotrap_line_route() undone. */
int mmiotrap_irq_route_str(__u64 route, char *buf, size_t size)
{
	enum mmiotrap_irq_kind kind = route ? MMIOTRAP_ROUTE_KIND(route) : MMIOTRAP_IRQ_NONE;
	unsigned long long address;

	switch (kind) {
	case MMIOTRAP_IRQ_MSI:
		address = (route >> 32 & 0xfffffffc) | (route >> 16 & 0xffff) << 40;
		return snprintf(buf, size, "msi:0x%llx:0x%x", address, (unsigned int)(route & 0xffff));
	case MMIOTRAP_IRQ_LINE:
		return snprintf(buf, size, "line:%u", (unsigned int)route);
	default:
		return snprintf(buf, size, "%s", mmiotrap_irq_kind_str(kind));
	}
}
