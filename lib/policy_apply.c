// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Applying a policy. A policy owns the regions flagged
 * MMIOTRAP_REGION_POLICY, and apply makes them what the file says. It
 * checks every step before it takes the first, and when one still fails it
 * undoes the steps taken, so that a failed apply leaves the regions as they
 * were. What stopped it is the policy's last problem.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "policy.h"
#include "qmp.h"

/* What apply does with a region it wants. */
enum change { KEEP, ADD, CHANGE };

/*
 * A region apply wants: one of the file, its device resolved, or one of
 * those a region of the file expands to (doorbells: ioeventfds).
 */
struct want {
	struct mmiotrap_region r;	/* vm, flags and mode aside: desired() */
	int src;			/* its region in the file */
	enum change change;
};

struct plan {
	struct mmiotrap *mt;
	struct mmiotrap_policy *p;
	const struct mmiotrap_policy_apply_opts *opts;
	__u32 *pid;			/* of each VM of the file */
	struct mmiotrap_vms **found;	/* each VM's discovery, once a region asks for it */
	struct want *want;		/* in the file's order, expansions in address order */
	int nwant;
	int wantcap;
	/* Each as large as the instance's region table. */
	struct mmiotrap_region *live;
	int nlive;
	int *wanted;		/* live[i]'s region in want, or -1 */
	int *by_name;		/* indexes of live, sorted by name */
	bool *drop;		/* live[i] goes: removed, or changed */
	bool *dropped;		/* and is gone */
	__u32 *added;		/* the ids added so far */
	int nadded;
};

/* What stopped the apply, at @line and @key of the file (0 and "": none); returns @err. */
static __attribute__((format(printf, 5, 6)))
int file_error(const struct plan *pl, int err, int line, const char *key, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (!policy_vproblem(pl->p, line, key, fmt, ap))
		err = -ENOMEM;
	va_end(ap);
	return err;
}

#define plan_error(pl, err, fmt, ...)	file_error(pl, err, 0, "", fmt, ##__VA_ARGS__)

/* The pid of each VM: a pid must exist, a -name must match one process. */
static int resolve_vm(struct plan *pl, int i)
{
	const struct policy_vm *vm = &pl->p->vms[i];
	__u32 pids[8];
	char list[128];
	int n, k, len = 0, err;
	__u32 tgid;

	if (!vm->name) {
		err = proc_tgid(vm->pid, &tgid);
		if (err == -ESRCH)
			return file_error(pl, err, vm->line, "pid", "no process %u", vm->pid);
		if (err)
			return file_error(pl, err, vm->line, "pid", "cannot read /proc/%u/status: %s",
					  vm->pid, strerror(-err));
		/* The trap keys regions by process: a thread's id would never match. */
		if (tgid != vm->pid)
			return file_error(pl, -EINVAL, vm->line, "pid",
					  "vm pid %u is a thread of process %u, not a process",
					  vm->pid, tgid);
		pl->pid[i] = vm->pid;
		return 0;
	}
	n = mmiotrap_find_vm(vm->name, pids, 8);
	if (n < 0)
		return plan_error(pl, n, "cannot read /proc: %s", strerror(-n));
	if (!n)
		return file_error(pl, -ESRCH, vm->line, "name", "no KVM VMM has -name '%s'",
				  vm->name);
	if (n > 1) {
		for (k = 0; k < n && k < 8; k++)
			len += snprintf(list + len, sizeof(list) - len, "%s%u", k ? ", " : "", pids[k]);
		return file_error(pl, -ESRCH, vm->line, "name", "-name '%s' matches %d VMMs: %s%s",
				  vm->name, n, list, n > 8 ? ", ..." : "");
	}
	pl->pid[i] = pids[0];
	return 0;
}

/* How the file names a VM, for messages. */
static void vm_str(const struct plan *pl, int i, char *buf, size_t size)
{
	const struct policy_vm *vm = &pl->p->vms[i];

	if (vm->name)
		snprintf(buf, size, "vm '%s' (pid %u)", vm->name, pl->pid[i]);
	else
		snprintf(buf, size, "vm pid %u", pl->pid[i]);
}

/* A region naming a device: where the device is now, asked of its VM, into @o. */
static int resolve_device(struct plan *pl, int i, struct mmiotrap_region *o)
{
	const struct policy_region *r = &pl->p->regions[i];
	const struct policy_vm *vm = &pl->p->vms[r->vm];
	struct device_region d;
	char sock[108], why[192], who[96];
	int err;

	vm_str(pl, r->vm, who, sizeof(who));
	if (vm->qmp && strlen(vm->qmp) >= sizeof(sock))
		return file_error(pl, -ENAMETOOLONG, vm->line, "qmp",
				  "%s: a unix socket's path holds %zu bytes at most", who,
				  sizeof(sock) - 1);
	if (vm->qmp)
		snprintf(sock, sizeof(sock), "%s", vm->qmp);
	else if (qmp_socket_of(pl->pid[r->vm], sock, sizeof(sock)))
		return file_error(pl, -ENODEV, r->line, "device",
				  "%s: device '%s': its command line names no QMP socket (give the vm a qmp key)",
				  who, r->device);
	err = device_resolve(sock, r->device, r->decoder_given ? (int)r->want.decoder : -1,
			     &d, why, sizeof(why));
	if (err)
		return file_error(pl, err, r->line, "device", "%s: %s", who, why);
	o->bus = d.bus;
	o->addr = d.addr;
	o->len = d.len;
	/* raw stays raw: the file asked for values, not queues. */
	if (!r->decoder_given || r->want.decoder != MMIOTRAP_DECODER_RAW) {
		o->decoder = d.decoder;
		o->params = d.params;
	}
	return 0;
}

/* Region @o, named, is wanted for region @i of the file. */
static int add_want(struct plan *pl, int i, const struct mmiotrap_region *o)
{
	struct want *w;
	int cap;

	if (pl->nwant == pl->wantcap) {
		cap = pl->wantcap ? 2 * pl->wantcap : 64;
		w = realloc(pl->want, cap * sizeof(*w));
		if (!w)
			return -ENOMEM;
		pl->want = w;
		pl->wantcap = cap;
	}
	pl->want[pl->nwant++] = (struct want){ .r = *o, .src = i };
	return 0;
}

/*
 * The bytes an ioeventfd's doorbell takes. A length-0 ioeventfd matches a
 * write of any width at its address and says no more, but a region takes
 * only writes it holds whole: 4 bytes hold every width such a doorbell is
 * written with (QEMU's length-0 ones are modern virtio notify registers,
 * 16-bit writes, 32-bit with VIRTIO_F_NOTIFICATION_DATA), and at QEMU's
 * notify multiplier of 4 they end where the next queue's begin. Were the
 * next one nearer, the two would overlap and be merged into one region.
 */
#define ANY_WIDTH_LEN	4

static __u64 ioeventfd_len(const struct mmiotrap_vm_ioeventfd *io)
{
	return io->len ?: ANY_WIDTH_LEN;
}

/* A run of doorbells: [addr, last] on bus. */
struct run {
	enum mmiotrap_bus bus;
	__u64 addr;
	__u64 last;
};

static int cmp_run(const void *a, const void *b)
{
	const struct run *x = a, *y = b;

	if (x->bus != y->bus)
		return x->bus < y->bus ? -1 : 1;
	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

/* Sorted runs, those that overlap or touch made one; how many are left. */
static int merge_runs(struct run *run, int n)
{
	int i, m = 0;

	qsort(run, n, sizeof(*run), cmp_run);
	for (i = 0; i < n; i++) {
		if (m && run[m - 1].bus == run[i].bus &&
		    (run[m - 1].last == ~0ULL || run[i].addr <= run[m - 1].last + 1)) {
			if (run[i].last > run[m - 1].last)
				run[m - 1].last = run[i].last;
			continue;
		}
		run[m++] = run[i];
	}
	return m;
}

/* The VM's ioeventfds as discovery finds them: one scan a VM, however many regions ask. */
static int discover(struct plan *pl, int vm, struct mmiotrap_vms **vms)
{
	MMIOTRAP_OPTS(mmiotrap_vms_opts, opts, .pid = pl->pid[vm]);
	int err = 0;

	if (!pl->found[vm])
		err = mmiotrap_vms_scan(&pl->found[vm], &opts);
	*vms = pl->found[vm];
	return err;
}

/* Doorbell runs of the VM's ioeventfds on @bus (-1: either) within @in; how many. */
static int find_runs(struct mmiotrap_vms *vms, int bus, const struct mmiotrap_region *in,
		     struct run **runs)
{
	const struct mmiotrap_vm_ioeventfd *io;
	const struct mmiotrap_vm_info *vm;
	struct run *run;
	int i, j, n = 0;
	__u64 len;

	mmiotrap_for_each_vm(vm, vms, i)
		n += vm->nioeventfds;
	run = calloc(n + 1, sizeof(*run));
	if (!run)
		return -ENOMEM;
	n = 0;
	mmiotrap_for_each_vm(vm, vms, i)
		mmiotrap_vm_for_each_ioeventfd(io, vm, j) {
			len = ioeventfd_len(io);
			if ((bus >= 0 && io->bus != (enum mmiotrap_bus)bus) ||
			    (in->len && (io->addr - in->addr >= in->len ||
					 len > in->len - (io->addr - in->addr))))
				continue;
			run[n++] = (struct run){ io->bus, io->addr, io->addr + len - 1 };
		}
	*runs = run;
	return merge_runs(run, n);
}

/*
 * doorbells: ioeventfds: a region like @base for each run of the VM's
 * ioeventfds (within the device's region, if it names one), NAME.0,
 * NAME.1, ... in bus and address order.
 */
static int resolve_doorbells(struct plan *pl, int i, const struct mmiotrap_region *base)
{
	const struct policy_region *r = &pl->p->regions[i];
	struct mmiotrap_region o = *base, in = { .addr = r->in_addr, .len = r->in_len };
	int bus = r->bus_given || r->device ? (int)base->bus : -1;
	struct mmiotrap_vms *vms;
	struct run *run = NULL;
	char who[96], where[128] = "";
	int k, n, err;

	vm_str(pl, r->vm, who, sizeof(who));
	if (r->device)
		in = *base;
	err = discover(pl, r->vm, &vms);
	if (err)
		return file_error(pl, err, r->line, "doorbells", "%s: cannot read its ioeventfds: %s",
				  who, strerror(-err));
	n = find_runs(vms, bus, &in, &run);
	if (n < 0)
		return n;
	if (in.len)
		snprintf(where, sizeof(where), " in %s 0x%llx len 0x%llx",
			 bus < 0 ? "mmio or pio" : bus_name(bus), (unsigned long long)in.addr,
			 (unsigned long long)in.len);
	else if (bus >= 0)
		snprintf(where, sizeof(where), " on bus %s", bus_name(bus));
	if (!n)
		err = file_error(pl, -ENOENT, r->line, "doorbells", "%s: %s%s%sno ioeventfd%s (yet)",
				 who, r->device ? "device '" : "", r->device ?: "",
				 r->device ? "': " : "", where);
	for (k = 0; k < n && !err; k++) {
		o.bus = run[k].bus;
		o.addr = run[k].addr;
		o.len = run[k].last - run[k].addr + 1;
		if (snprintf(o.name, sizeof(o.name), "%s.%d", r->name, k) >= (int)sizeof(o.name))
			err = file_error(pl, -ENAMETOOLONG, r->name_line, "name",
					 "'%s.%d' is longer than %zu characters: %s has %d runs of ioeventfds",
					 r->name, n - 1, sizeof(o.name) - 1, who, n);
		else
			err = add_want(pl, i, &o);
	}
	free(run);
	return err;
}

/* Region @i of the file: as it is, its device resolved, or its doorbells found. */
static int resolve_region(struct plan *pl, int i)
{
	const struct policy_region *r = &pl->p->regions[i];
	struct mmiotrap_region o = r->want;
	int err;

	if (r->device) {
		err = resolve_device(pl, i, &o);
		if (err)
			return err;
	}
	if (r->ioeventfds)
		return resolve_doorbells(pl, i, &o);
	return add_want(pl, i, &o);
}

/*
 * A partial apply leaves out what cannot be resolved now: the problem
 * resolving it made goes to the skip callback instead, the file stays clean.
 */
static bool left_out(struct plan *pl, int err)
{
	struct mmiotrap_policy *p = pl->p;

	if (!OPTS_GET(pl->opts, partial, false) || err == -ENOMEM || !p->nproblems)
		return false;
	p->nproblems--;
	return true;
}

static void tell_skip(const struct plan *pl, int i, const char *why)
{
	mmiotrap_policy_skip_fn fn = OPTS_GET(pl->opts, skip, NULL);

	if (fn)
		fn(OPTS_GET(pl->opts, ctx, NULL), pl->p->regions[i].name, why);
}

static const struct want *sort_want;

static int cmp_want_name(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;
	int c = strncmp(sort_want[x].r.name, sort_want[y].r.name, MMIOTRAP_NAME_LEN);

	return c ? c : x - y;
}

/*
 * The file's names are checked unique; the names of expanded regions
 * (NAME.0, ...) can meet one of them only now.
 */
static int check_names(struct plan *pl)
{
	const struct policy_region *a, *b;
	int *idx = calloc(pl->nwant + 1, sizeof(*idx));
	int i, err = 0;

	if (!idx)
		return -ENOMEM;
	for (i = 0; i < pl->nwant; i++)
		idx[i] = i;
	sort_want = pl->want;
	qsort(idx, pl->nwant, sizeof(*idx), cmp_want_name);
	for (i = 1; i < pl->nwant && !err; i++) {
		if (strncmp(pl->want[idx[i - 1]].r.name, pl->want[idx[i]].r.name,
			    MMIOTRAP_NAME_LEN))
			continue;
		a = &pl->p->regions[pl->want[idx[i - 1]].src];
		b = &pl->p->regions[pl->want[idx[i]].src];
		err = file_error(pl, -EEXIST, b->name_line, "name",
				 "'%s' names two regions: one of '%s' (line %d) and one of '%s' (line %d)",
				 pl->want[idx[i]].r.name, a->name, a->line, b->name, b->line);
	}
	free(idx);
	return err;
}

static int resolve(struct plan *pl)
{
	struct mmiotrap_policy *p = pl->p;
	int i, n, err = 0;
	/* Why each VM is left out; "": it is not. */
	char (*gone)[sizeof(p->problems->message)] = calloc(p->nvms + 1, sizeof(*gone));

	if (!gone)
		return -ENOMEM;
	for (i = 0; i < p->nvms && !err; i++) {
		err = resolve_vm(pl, i);
		if (err && left_out(pl, err)) {
			snprintf(gone[i], sizeof(gone[i]), "%s", p->problems[p->nproblems].message);
			err = 0;
		}
	}
	for (i = 0; i < p->nregions && !err; i++) {
		if (*gone[p->regions[i].vm]) {
			tell_skip(pl, i, gone[p->regions[i].vm]);
			continue;
		}
		n = pl->nwant;
		err = resolve_region(pl, i);
		if (err)
			pl->nwant = n;
		if (err && left_out(pl, err)) {
			tell_skip(pl, i, p->problems[p->nproblems].message);
			err = 0;
		}
	}
	free(gone);
	return err ?: check_names(pl);
}

static int load_live(struct plan *pl)
{
	struct mmiotrap_region r;
	int err;

	mmiotrap_for_each_region(&r, pl->mt, err) {
		pl->live[pl->nlive] = r;
		pl->wanted[pl->nlive++] = -1;
	}
	if (err)
		return plan_error(pl, err, "cannot read the regions: %s", strerror(-err));
	return 0;
}

/* Wanted region @i as apply adds it. */
static struct mmiotrap_region desired(const struct plan *pl, int i)
{
	const struct policy_region *r = &pl->p->regions[pl->want[i].src];
	struct mmiotrap_region o = pl->want[i].r;

	o.vm = pl->pid[r->vm];
	o.widths = o.widths ?: MMIOTRAP_WIDTHS_ALL;
	o.flags = MMIOTRAP_REGION_POLICY;
	o.action = MMIOTRAP_ACTION_RING;
	/* Only the VMM can make it fast: it adopts what the policy asks for. */
	o.want_fast = r->fast ? o.widths : 0;
	return o;
}

/*
 * Is the live region what the file wants, and still armed for its process?
 * Whether its VMM has adopted it yet, making it fast, is the VMM's business.
 */
static bool same(const struct plan *pl, const struct mmiotrap_region *r, int i)
{
	struct mmiotrap_region o = desired(pl, i);

	return r->vm == o.vm && r->bus == o.bus && r->addr == o.addr && r->len == o.len &&
	       r->widths == o.widths &&
	       r->decoder == o.decoder && !memcmp(&r->params, &o.params, sizeof(r->params)) &&
	       r->want_fast == o.want_fast && !(r->fast_widths & ~r->want_fast) &&
	       mmiotrap_region_stale(pl->mt, r) == 0;
}

static const struct mmiotrap_region *sort_live;

static int cmp_live_name(const void *a, const void *b)
{
	return strncmp(sort_live[*(const int *)a].name, sort_live[*(const int *)b].name,
		       MMIOTRAP_NAME_LEN);
}

/* The live regions by name, for one search each: a table may hold thousands. */
static int index_names(struct plan *pl)
{
	int i;

	pl->by_name = calloc(pl->nlive + 1, sizeof(*pl->by_name));
	if (!pl->by_name)
		return -ENOMEM;
	for (i = 0; i < pl->nlive; i++)
		pl->by_name[i] = i;
	sort_live = pl->live;
	qsort(pl->by_name, pl->nlive, sizeof(*pl->by_name), cmp_live_name);
	return 0;
}

static int live_by_name(const struct plan *pl, const char *name)
{
	int lo = 0, hi = pl->nlive, mid, c;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		c = strncmp(pl->live[pl->by_name[mid]].name, name, MMIOTRAP_NAME_LEN);
		if (!c)
			return pl->by_name[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

/*
 * A fast region's ioeventfds are its VMM's: without the trap's region they
 * would complete writes that nobody sees. Only the VMM can let them go.
 */
static bool adopted(const struct plan *pl, const struct mmiotrap_region *r)
{
	if (!r->fast_widths || mmiotrap_region_stale(pl->mt, r) > 0)
		return false;
	plan_error(pl, -EBUSY, "region '%s' is fast, adopted by its VMM (pid %u): the VMM must let it go first (mmiotrap_fast_del)",
		  r->name, r->vm);
	return true;
}

/* Each wanted region is kept, added or changed; the policy's others go. */
static int classify(struct plan *pl)
{
	struct want *w;
	int i, l;

	for (i = 0; i < pl->nwant; i++) {
		w = &pl->want[i];
		l = live_by_name(pl, w->r.name);
		if (l < 0) {
			w->change = ADD;
			continue;
		}
		if (!(pl->live[l].flags & MMIOTRAP_REGION_POLICY))
			return file_error(pl, -EEXIST, pl->p->regions[w->src].name_line, "name",
					  "region %u is named '%s' already, and is not the policy's",
					  pl->live[l].id, w->r.name);
		pl->wanted[l] = i;
		w->change = same(pl, &pl->live[l], i) ? KEEP : CHANGE;
		pl->drop[l] = w->change == CHANGE;
	}
	for (l = 0; l < pl->nlive; l++)
		if ((pl->live[l].flags & MMIOTRAP_REGION_POLICY) && pl->wanted[l] < 0)
			pl->drop[l] = true;
	for (l = 0; l < pl->nlive; l++)
		if (pl->drop[l] && adopted(pl, &pl->live[l]))
			return -EBUSY;
	return 0;
}

/* A range of the outcome: a wanted region (file >= 0), or a live one not the policy's. */
struct span {
	struct mmiotrap_region r;
	int file;		/* its place in want */
	int live;
};

static int cmp_span(const void *a, const void *b)
{
	const struct mmiotrap_region *x = &((const struct span *)a)->r;
	const struct mmiotrap_region *y = &((const struct span *)b)->r;

	if (x->vm != y->vm)
		return x->vm < y->vm ? -1 : 1;
	if (x->bus != y->bus)
		return x->bus < y->bus ? -1 : 1;
	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

/* Two regions of the file, or one it adds or changes and a live one not the policy's. */
static bool matters(const struct plan *pl, const struct span *a, const struct span *b)
{
	if (a->file >= 0 && b->file >= 0)
		return true;
	if (a->file < 0 && b->file < 0)
		return false;
	return pl->want[(a->file >= 0 ? a : b)->file].change != KEEP;
}

/* Say that @a and @b overlap, at the later region of the file. */
static int overlap_error(const struct plan *pl, const struct span *a, const struct span *b)
{
	const struct span *r = a->file > b->file ? a : b, *other = r == a ? b : a;
	const struct policy_region *pr = &pl->p->regions[pl->want[r->file].src];

	if (other->file >= 0)
		return file_error(pl, -EADDRINUSE, pr->addr_line, "addr",
				  "%s 0x%llx len 0x%llx overlaps region '%s' (line %d): both are of process %u",
				  bus_name(r->r.bus), (unsigned long long)r->r.addr,
				  (unsigned long long)r->r.len, other->r.name,
				  pl->p->regions[pl->want[other->file].src].line, r->r.vm);
	return file_error(pl, -EADDRINUSE, pr->addr_line, "addr",
			  "%s 0x%llx len 0x%llx overlaps region %u (%s) of vm %u, which is not the policy's",
			  bus_name(r->r.bus), (unsigned long long)r->r.addr,
			  (unsigned long long)r->r.len, other->r.id,
			  *other->r.name ? other->r.name : "-", r->r.vm);
}

/*
 * The regions of the file against each other (their VMs may turn out to
 * be one process) and against the live regions the policy does not own,
 * in one sort: each range meets only its neighbours. A region the apply
 * keeps as it is was checked when it was added.
 */
static int check_overlaps(struct plan *pl)
{
	struct span *s = calloc(pl->nwant + pl->nlive + 1, sizeof(*s)), *far = NULL;
	int i, n = 0, err = 0;

	if (!s)
		return -ENOMEM;
	for (i = 0; i < pl->nwant; i++)
		s[n++] = (struct span){ .r = desired(pl, i), .file = i, .live = -1 };
	for (i = 0; i < pl->nlive; i++)
		/* A stale region of a pid is pruned by the add. */
		if (!(pl->live[i].flags & MMIOTRAP_REGION_POLICY) &&
		    mmiotrap_region_stale(pl->mt, &pl->live[i]) <= 0)
			s[n++] = (struct span){ .r = pl->live[i], .file = -1, .live = i };
	qsort(s, n, sizeof(*s), cmp_span);
	for (i = 0; i < n && !err; i++) {
		if (far && (far->r.vm != s[i].r.vm || far->r.bus != s[i].r.bus))
			far = NULL;
		if (far && s[i].r.addr - far->r.addr < far->r.len && matters(pl, far, &s[i]))
			err = overlap_error(pl, far, &s[i]);
		if (!far || s[i].r.addr + s[i].r.len - 1 > far->r.addr + far->r.len - 1)
			far = &s[i];
	}
	free(s);
	return err;
}

static int check_room(const struct plan *pl)
{
	int i, regions = 0, blocks = 0;

	for (i = 0; i < pl->nlive; i++) {
		if (pl->drop[i])
			continue;
		regions++;
		blocks += mmiotrap_index_entries(pl->live[i].addr, pl->live[i].len);
	}
	for (i = 0; i < pl->nwant; i++) {
		if (pl->want[i].change == KEEP)
			continue;
		regions++;
		blocks += mmiotrap_index_entries(pl->want[i].r.addr, pl->want[i].r.len);
	}
	if ((__u32)regions > pl->mt->nids - 1)
		return plan_error(pl, -ENOSPC, "no room: there would be %d regions, %u at most (mmiotrap load --max-regions raises it)",
				 regions, pl->mt->nids - 1);
	if ((__u32)blocks > pl->mt->index_entries)
		return plan_error(pl, -ENOSPC, "no room: the regions would take %d entries of the address index, %u at most (mmiotrap load --index-entries raises it)",
				 blocks, pl->mt->index_entries);
	return 0;
}

/*
 * Undo the steps taken: the regions added go, and the regions removed come
 * back exactly as they were (fast widths, wanted ones, flags), in id order,
 * so that each gets its old id again unless a lower one was free. Their
 * counters start again from zero.
 */
static int undo(struct plan *pl, const char *step, const char *name, int err)
{
	const char *lost = NULL;
	int i, nlost = 0;

	while (pl->nadded)
		mmiotrap_region_del(pl->mt, pl->added[--pl->nadded]);
	for (i = 0; i < pl->nlive; i++) {
		if (!pl->dropped[i])
			continue;
		if (region_add(pl->mt, &pl->live[i]) < 0 && !nlost++)
			lost = pl->live[i].name;
	}
	if (nlost)
		return plan_error(pl, err, "cannot %s region '%s': %s; undoing the apply failed: lost region '%s'%s",
				 step, name, strerror(-err), lost, nlost > 1 ? " and others" : "");
	return plan_error(pl, err, "cannot %s region '%s': %s; nothing changed",
			 step, name, strerror(-err));
}

/* Removals first: a changed region's name and range are free for it again. */
static int execute(struct plan *pl)
{
	struct mmiotrap_region o;
	int i, id, err;

	for (i = 0; i < pl->nlive; i++) {
		if (!pl->drop[i])
			continue;
		err = mmiotrap_region_del(pl->mt, pl->live[i].id);
		if (err)
			return undo(pl, "remove", pl->live[i].name, err);
		pl->dropped[i] = true;
	}
	for (i = 0; i < pl->nwant; i++) {
		if (pl->want[i].change == KEEP)
			continue;
		o = desired(pl, i);
		id = region_add(pl->mt, &o);
		if (id < 0)
			return undo(pl, "add", o.name, id);
		pl->added[pl->nadded++] = id;
	}
	return 0;
}

/* The plan: the removed, then the wanted regions in the file's order, as they will be. */
static void tell_plan(const struct plan *pl)
{
	mmiotrap_policy_plan_fn fn = OPTS_GET(pl->opts, plan, NULL);
	void *ctx = OPTS_GET(pl->opts, ctx, NULL);
	static const enum mmiotrap_policy_change kinds[] = {
		[KEEP] = MMIOTRAP_POLICY_KEPT, [ADD] = MMIOTRAP_POLICY_ADDED,
		[CHANGE] = MMIOTRAP_POLICY_CHANGED,
	};
	struct mmiotrap_region o;
	int i;

	for (i = 0; fn && i < pl->nlive; i++)
		if (pl->drop[i] && pl->wanted[i] < 0)
			fn(ctx, MMIOTRAP_POLICY_REMOVED, &pl->live[i]);
	for (i = 0; fn && i < pl->nwant; i++) {
		o = desired(pl, i);
		fn(ctx, kinds[pl->want[i].change], &o);
	}
}

/* Say what changed: the removed, then the wanted regions in the file's order. */
static void report(const struct plan *pl)
{
	mmiotrap_policy_change_fn fn = OPTS_GET(pl->opts, fn, NULL);
	void *ctx = OPTS_GET(pl->opts, ctx, NULL);
	int i;

	for (i = 0; fn && i < pl->nlive; i++)
		if (pl->drop[i] && pl->wanted[i] < 0)
			fn(ctx, MMIOTRAP_POLICY_REMOVED, pl->live[i].name);
	for (i = 0; fn && i < pl->nwant; i++)
		if (pl->want[i].change != KEEP)
			fn(ctx, pl->want[i].change == ADD ? MMIOTRAP_POLICY_ADDED :
			   MMIOTRAP_POLICY_CHANGED, pl->want[i].r.name);
}

static int plan_apply(struct plan *pl)
{
	int err;

	err = resolve(pl);
	if (!err)
		err = load_live(pl);
	if (!err)
		err = index_names(pl);
	if (!err)
		err = classify(pl);
	if (!err)
		err = check_overlaps(pl);
	if (!err)
		err = check_room(pl);
	if (!err)
		tell_plan(pl);
	if (err || OPTS_GET(pl->opts, dry_run, false))
		return err;
	err = execute(pl);
	if (!err)
		report(pl);
	return err;
}

static void plan_free(struct plan *pl)
{
	int i;

	if (!pl)
		return;
	for (i = 0; pl->found && i < pl->p->nvms; i++)
		mmiotrap_vms_free(pl->found[i]);
	free(pl->found);
	free(pl->pid);
	free(pl->want);
	free(pl->live);
	free(pl->wanted);
	free(pl->drop);
	free(pl->dropped);
	free(pl->added);
	free(pl->by_name);
	free(pl);
}

static struct plan *plan_new(struct mmiotrap *mt, struct mmiotrap_policy *p)
{
	struct plan *pl = calloc(1, sizeof(*pl));
	size_t n = mt->nids;

	if (!pl)
		return NULL;
	pl->mt = mt;
	pl->p = p;
	pl->pid = calloc(p->nvms + 1, sizeof(*pl->pid));
	pl->found = calloc(p->nvms + 1, sizeof(*pl->found));
	pl->live = calloc(n, sizeof(*pl->live));
	pl->wanted = calloc(n, sizeof(*pl->wanted));
	pl->drop = calloc(n, sizeof(*pl->drop));
	pl->dropped = calloc(n, sizeof(*pl->dropped));
	pl->added = calloc(n, sizeof(*pl->added));
	if (pl->pid && pl->found && pl->live && pl->wanted && pl->drop && pl->dropped && pl->added)
		return pl;
	plan_free(pl);
	return NULL;
}

int mmiotrap_policy_apply(struct mmiotrap *mt, struct mmiotrap_policy *p,
			  const struct mmiotrap_policy_apply_opts *opts)
{
	struct plan *pl;
	int err;

	if (!mt || !p || !OPTS_VALID(opts, struct mmiotrap_policy_apply_opts))
		return -EINVAL;
	if (p->nproblems)
		return -EINVAL;
	pl = plan_new(mt, p);
	if (!pl)
		return -ENOMEM;
	pl->opts = opts;
	err = plan_apply(pl);
	plan_free(pl);
	return err;
}
