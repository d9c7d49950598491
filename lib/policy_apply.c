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

/* What apply does with a region of the file. */
enum change { KEEP, ADD, CHANGE, SKIP };

struct plan {
	struct mmiotrap *mt;
	struct mmiotrap_policy *p;
	const struct mmiotrap_policy_apply_opts *opts;
	__u32 *pid;			/* of each VM of the file */
	struct mmiotrap_region *want;	/* each region of the file, devices resolved */
	enum change *change;		/* of each region of the file */
	/* Each as large as the instance's region table. */
	struct mmiotrap_region *live;
	int nlive;
	int *wanted;		/* live[i]'s region in the file, or -1 */
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

/* A region naming a device: where the device is now, asked of its VM. */
static int resolve_device(struct plan *pl, int i)
{
	const struct policy_region *r = &pl->p->regions[i];
	const struct policy_vm *vm = &pl->p->vms[r->vm];
	struct mmiotrap_region *o = &pl->want[i];
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

	pl->change[i] = SKIP;
	if (fn)
		fn(OPTS_GET(pl->opts, ctx, NULL), pl->p->regions[i].name, why);
}

static int resolve(struct plan *pl)
{
	struct mmiotrap_policy *p = pl->p;
	int i, err = 0;
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
		pl->want[i] = p->regions[i].want;
		if (*gone[p->regions[i].vm]) {
			tell_skip(pl, i, gone[p->regions[i].vm]);
			continue;
		}
		if (p->regions[i].device)
			err = resolve_device(pl, i);
		if (err && left_out(pl, err)) {
			tell_skip(pl, i, p->problems[p->nproblems].message);
			err = 0;
		}
	}
	free(gone);
	return err;
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

/* Region @i of the file as apply adds it. */
static struct mmiotrap_region desired(const struct plan *pl, int i)
{
	const struct policy_region *r = &pl->p->regions[i];
	struct mmiotrap_region o = pl->want[i];

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

/* Each region of the file is kept, added or changed; the policy's others go. */
static int classify(struct plan *pl)
{
	const struct policy_region *r;
	int i, l;

	for (i = 0; i < pl->p->nregions; i++) {
		if (pl->change[i] == SKIP)
			continue;
		r = &pl->p->regions[i];
		l = live_by_name(pl, r->name);
		if (l < 0) {
			pl->change[i] = ADD;
			continue;
		}
		if (!(pl->live[l].flags & MMIOTRAP_REGION_POLICY))
			return file_error(pl, -EEXIST, r->name_line, "name",
					  "region %u is named '%s' already, and is not the policy's",
					  pl->live[l].id, r->name);
		pl->wanted[l] = i;
		pl->change[i] = same(pl, &pl->live[l], i) ? KEEP : CHANGE;
		pl->drop[l] = pl->change[i] == CHANGE;
	}
	for (l = 0; l < pl->nlive; l++)
		if ((pl->live[l].flags & MMIOTRAP_REGION_POLICY) && pl->wanted[l] < 0)
			pl->drop[l] = true;
	for (l = 0; l < pl->nlive; l++)
		if (pl->drop[l] && adopted(pl, &pl->live[l]))
			return -EBUSY;
	return 0;
}

/* A range of the outcome: a region of the file (file >= 0), or a live one not the policy's. */
struct span {
	struct mmiotrap_region r;
	int file;
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
	return pl->change[(a->file >= 0 ? a : b)->file] != KEEP;
}

/* Say that @a and @b overlap, at the later region of the file. */
static int overlap_error(const struct plan *pl, const struct span *a, const struct span *b)
{
	const struct span *r = a->file > b->file ? a : b, *other = r == a ? b : a;
	const struct policy_region *pr = &pl->p->regions[r->file];

	if (other->file >= 0)
		return file_error(pl, -EADDRINUSE, pr->addr_line, "addr",
				  "%s 0x%llx len 0x%llx overlaps region '%s' (line %d): both are of process %u",
				  bus_name(r->r.bus), (unsigned long long)r->r.addr,
				  (unsigned long long)r->r.len, other->r.name,
				  pl->p->regions[other->file].line, r->r.vm);
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
	struct span *s = calloc(pl->p->nregions + pl->nlive + 1, sizeof(*s)), *far = NULL;
	int i, n = 0, err = 0;

	if (!s)
		return -ENOMEM;
	for (i = 0; i < pl->p->nregions; i++)
		if (pl->change[i] != SKIP)
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
	for (i = 0; i < pl->p->nregions; i++) {
		if (pl->change[i] == KEEP || pl->change[i] == SKIP)
			continue;
		regions++;
		blocks += mmiotrap_index_entries(pl->want[i].addr, pl->want[i].len);
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
	for (i = 0; i < pl->p->nregions; i++) {
		if (pl->change[i] == KEEP || pl->change[i] == SKIP)
			continue;
		o = desired(pl, i);
		id = region_add(pl->mt, &o);
		if (id < 0)
			return undo(pl, "add", o.name, id);
		pl->added[pl->nadded++] = id;
	}
	return 0;
}

/* Say what changed: the removed, then the file's regions in its order. */
static void report(const struct plan *pl)
{
	mmiotrap_policy_change_fn fn = OPTS_GET(pl->opts, fn, NULL);
	void *ctx = OPTS_GET(pl->opts, ctx, NULL);
	int i;

	for (i = 0; fn && i < pl->nlive; i++)
		if (pl->drop[i] && pl->wanted[i] < 0)
			fn(ctx, MMIOTRAP_POLICY_REMOVED, pl->live[i].name);
	for (i = 0; fn && i < pl->p->nregions; i++)
		if (pl->change[i] == ADD || pl->change[i] == CHANGE)
			fn(ctx, pl->change[i] == ADD ? MMIOTRAP_POLICY_ADDED : MMIOTRAP_POLICY_CHANGED,
			   pl->p->regions[i].name);
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
		err = execute(pl);
	if (!err)
		report(pl);
	return err;
}

static void plan_free(struct plan *pl)
{
	if (!pl)
		return;
	free(pl->pid);
	free(pl->want);
	free(pl->change);
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
	pl->want = calloc(p->nregions + 1, sizeof(*pl->want));
	pl->change = calloc(p->nregions + 1, sizeof(*pl->change));
	pl->live = calloc(n, sizeof(*pl->live));
	pl->wanted = calloc(n, sizeof(*pl->wanted));
	pl->drop = calloc(n, sizeof(*pl->drop));
	pl->dropped = calloc(n, sizeof(*pl->dropped));
	pl->added = calloc(n, sizeof(*pl->added));
	if (pl->pid && pl->want && pl->change && pl->live && pl->wanted && pl->drop && pl->dropped && pl->added)
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
