// SPDX-License-Identifier: GPL-2.0
/*
 * mmiotrap policy validate FILE
 * mmiotrap policy apply FILE
 * mmiotrap policy show
 *
 * A policy owns the regions flagged MMIOTRAP_REGION_POLICY, and apply makes
 * them what the file says. It checks every step before it takes the first,
 * and when one still fails it undoes the steps taken, so that a failed
 * apply leaves the regions as they were.
 */
#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "cli.h"
#include "../lib/policy.h"

/* What apply does with a region of the file. */
enum change { KEEP, ADD, CHANGE };

struct plan {
	const struct cli *cli;
	struct mmiotrap *mt;
	const struct policy *p;
	__u32 *pid;			/* of each VM of the file */
	enum change *change;		/* of each region of the file */
	struct mmiotrap_region live[MMIOTRAP_MAX_REGIONS];
	int nlive;
	int wanted[MMIOTRAP_MAX_REGIONS];	/* live[i]'s region in the file, or -1 */
	bool drop[MMIOTRAP_MAX_REGIONS];	/* live[i] goes: removed, or changed */
	bool dropped[MMIOTRAP_MAX_REGIONS];	/* and is gone */
	__u32 added[MMIOTRAP_MAX_REGIONS];	/* the ids added so far */
	int nadded;
};

/* One line naming the place in the file, as validate does. */
static __attribute__((format(printf, 4, 5)))
int file_error(const struct plan *pl, int line, const char *key, const char *fmt, ...)
{
	char msg[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return cli_error(pl->cli, "%s:%d: key '%s': %s", pl->p->file, line, key, msg);
}

/* The FILE argument, and nothing after it. */
static const char *file_arg(struct cli *cli, const char *cmd)
{
	const char *file = cli_next(cli);

	if (!file)
		cli_error(cli, "policy %s needs a FILE ('-': standard input)", cmd);
	else if (cli->argc)
		cli_error(cli, "unexpected argument '%s'", cli_next(cli));
	else
		return file;
	return NULL;
}

static int read_policy(const struct cli *cli, struct policy *p, const char *file)
{
	int err = policy_read(p, file);

	if (!err)
		return 0;
	policy_free(p);
	return cli_error(cli, "cannot read %s: %s", file, strerror(-err));
}

static json_t *errors_json(const struct policy *p)
{
	const struct policy_error *e;
	json_t *arr = json_array();

	for (e = p->errors; e < p->errors + p->nerrors; e++)
		json_array_append_new(arr, json_pack("{s:i, s:s?, s:s}", "line", e->line,
						     "key", e->syntax ? NULL : e->key,
						     "error", e->msg));
	return arr;
}

static void print_errors(const struct policy *p)
{
	const struct policy_error *e;

	for (e = p->errors; e < p->errors + p->nerrors; e++) {
		if (e->syntax)
			fprintf(stderr, "%s:%d: %s\n", p->file, e->line, e->msg);
		else
			fprintf(stderr, "%s:%d: key '%s': %s\n", p->file, e->line, e->key, e->msg);
	}
}

static int do_validate(struct cli *cli)
{
	const char *file = file_arg(cli, "validate");
	struct policy p;
	bool valid;

	if (!file || read_policy(cli, &p, file))
		return 1;
	valid = !p.nerrors;
	if (cli->json && valid)
		cli_json(cli, json_pack("{s:s, s:b, s:i, s:i}", "file", p.file, "valid", true,
					"vms", p.nvms, "regions", p.nregions));
	else if (cli->json)
		cli_json(cli, json_pack("{s:s, s:b, s:o}", "file", p.file, "valid", false,
					"errors", errors_json(&p)));
	else if (valid)
		printf("%s: valid, %d VM%s, %d region%s\n", p.file, p.nvms, p.nvms == 1 ? "" : "s",
		       p.nregions, p.nregions == 1 ? "" : "s");
	else
		print_errors(&p);
	policy_free(&p);
	return !valid;
}

/* apply of a file validate refuses: its errors, and nothing done. */
static int invalid(const struct cli *cli, const struct policy *p)
{
	if (cli->json)
		cli_json(cli, json_pack("{s:s, s:s, s:o}", "error", "not a valid policy: nothing applied",
					"file", p->file, "errors", errors_json(p)));
	else
		print_errors(p);
	return 1;
}

/* The pid of each VM: a pid must exist, a -name must match one process. */
static int resolve_vm(struct plan *pl, int i)
{
	const struct policy_vm *vm = &pl->p->vms[i];
	__u32 pids[8];
	char list[128];
	int n, k, len = 0;

	if (!vm->name) {
		if (kill(vm->pid, 0) && errno == ESRCH)
			return file_error(pl, vm->line, "pid", "no process %u", vm->pid);
		pl->pid[i] = vm->pid;
		return 0;
	}
	n = policy_find_vm(vm->name, pids, 8);
	if (n < 0)
		return cli_error(pl->cli, "cannot read /proc: %s", strerror(-n));
	if (!n)
		return file_error(pl, vm->line, "name", "no process has -name '%s'", vm->name);
	if (n > 1) {
		for (k = 0; k < n && k < 8; k++)
			len += snprintf(list + len, sizeof(list) - len, "%s%u", k ? ", " : "", pids[k]);
		return file_error(pl, vm->line, "name", "-name '%s' matches %d processes: %s%s",
				  vm->name, n, list, n > 8 ? ", ..." : "");
	}
	pl->pid[i] = pids[0];
	return 0;
}

static int resolve(struct plan *pl)
{
	int i;

	for (i = 0; i < pl->p->nvms; i++)
		if (resolve_vm(pl, i))
			return 1;
	return 0;
}

static int load_live(struct plan *pl)
{
	__u32 id = 0;
	int err;

	for (;;) {
		err = mmiotrap_region_next(pl->mt, id, &pl->live[pl->nlive]);
		if (err == -ENOENT)
			return 0;
		if (err)
			return cli_error(pl->cli, "cannot read the regions: %s", strerror(-err));
		id = pl->live[pl->nlive].id;
		pl->wanted[pl->nlive++] = -1;
	}
}

/* Region @i of the file as apply adds it. */
static struct mmiotrap_region_opts desired(const struct plan *pl, int i)
{
	const struct policy_region *r = &pl->p->regions[i];
	struct mmiotrap_region_opts o = r->opts;

	o.vm = pl->pid[r->vm];
	o.flags = MMIOTRAP_REGION_POLICY;
	/* Only the VMM can make it fast: it adopts what the policy asks for. */
	o.want_fast = r->fast ? o.widths ?: MMIOTRAP_WIDTHS_ALL : 0;
	return o;
}

/*
 * Is the live region what the file wants, and still armed for its process?
 * Whether its VMM has adopted it yet, making it fast, is the VMM's business.
 */
static bool same(const struct plan *pl, const struct mmiotrap_region *r, int i)
{
	struct mmiotrap_region_opts o = desired(pl, i);

	return r->vm == o.vm && r->bus == o.bus && r->addr == o.addr && r->len == o.len &&
	       r->widths == (o.widths ? o.widths : MMIOTRAP_WIDTHS_ALL) &&
	       r->decoder == o.decoder && !memcmp(&r->params, &o.params, sizeof(r->params)) &&
	       r->want_fast == o.want_fast && !(r->fast_widths & ~r->want_fast) &&
	       !mmiotrap_region_stale(pl->mt, r);
}

static int live_by_name(const struct plan *pl, const char *name)
{
	int i;

	for (i = 0; i < pl->nlive; i++)
		if (!strncmp(pl->live[i].name, name, MMIOTRAP_NAME_LEN))
			return i;
	return -1;
}

/*
 * A fast region's ioeventfds are its VMM's: without the trap's region they
 * would complete writes that nobody sees. Only the VMM can let them go.
 */
static bool adopted(const struct cli *cli, struct mmiotrap *mt, const struct mmiotrap_region *r)
{
	if (!r->fast_widths || mmiotrap_region_stale(mt, r))
		return false;
	cli_error(cli, "region '%s' is fast, adopted by its VMM (pid %u): the VMM must let it go first (mmiotrap_fast_del)",
		  r->name, r->vm);
	return true;
}

/* Each region of the file is kept, added or changed; the policy's others go. */
static int classify(struct plan *pl)
{
	const struct policy_region *r;
	int i, l;

	for (i = 0; i < pl->p->nregions; i++) {
		r = &pl->p->regions[i];
		l = live_by_name(pl, r->name);
		if (l < 0) {
			pl->change[i] = ADD;
			continue;
		}
		if (!(pl->live[l].flags & MMIOTRAP_REGION_POLICY))
			return file_error(pl, r->name_line, "name",
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
		if (pl->drop[l] && adopted(pl->cli, pl->mt, &pl->live[l]))
			return 1;
	return 0;
}

/*
 * Region @i against the other regions of the file, whose VMs may turn out
 * to be one process, and against the regions the policy does not own.
 */
static int check_overlap(const struct plan *pl, int i)
{
	const struct policy_region *r = &pl->p->regions[i];
	struct mmiotrap_region_opts o = desired(pl, i), other;
	const struct mmiotrap_region *l;
	int j;

	for (j = 0; j < i; j++) {
		other = desired(pl, j);
		if (o.vm == other.vm && o.bus == other.bus &&
		    policy_overlap(o.addr, o.len, other.addr, other.len))
			return file_error(pl, r->addr_line, "addr",
					  "%s 0x%llx len 0x%llx overlaps region '%s' (line %d): both are of process %u",
					  bus_str(o.bus), (unsigned long long)o.addr,
					  (unsigned long long)o.len, other.name,
					  pl->p->regions[j].line, o.vm);
	}
	for (l = pl->live; pl->change[i] != KEEP && l < pl->live + pl->nlive; l++) {
		/* A stale region of this pid is pruned by the add. */
		if (l->flags & MMIOTRAP_REGION_POLICY || l->vm != o.vm || l->bus != o.bus ||
		    !policy_overlap(o.addr, o.len, l->addr, l->len) ||
		    mmiotrap_region_stale(pl->mt, l))
			continue;
		return file_error(pl, r->addr_line, "addr",
				  "%s 0x%llx len 0x%llx overlaps region %u (%s) of vm %u, which is not the policy's",
				  bus_str(o.bus), (unsigned long long)o.addr, (unsigned long long)o.len,
				  l->id, *l->name ? l->name : "-", o.vm);
	}
	return 0;
}

static int check_overlaps(struct plan *pl)
{
	int i;

	for (i = 0; i < pl->p->nregions; i++)
		if (check_overlap(pl, i))
			return 1;
	return 0;
}

static int check_room(const struct plan *pl)
{
	const struct policy_region *r;
	int i, regions = 0, blocks = 0;

	for (i = 0; i < pl->nlive; i++) {
		if (pl->drop[i])
			continue;
		regions++;
		blocks += mmiotrap_index_entries(pl->live[i].addr, pl->live[i].len);
	}
	for (i = 0; i < pl->p->nregions; i++) {
		r = &pl->p->regions[i];
		if (pl->change[i] == KEEP)
			continue;
		regions++;
		blocks += mmiotrap_index_entries(r->opts.addr, r->opts.len);
	}
	if (regions > MMIOTRAP_MAX_REGIONS - 1)
		return cli_error(pl->cli, "no room: there would be %d regions, %d at most",
				 regions, MMIOTRAP_MAX_REGIONS - 1);
	if (blocks > MMIOTRAP_INDEX_ENTRIES)
		return cli_error(pl->cli, "no room: the regions would take %d entries of the address index, %d at most",
				 blocks, MMIOTRAP_INDEX_ENTRIES);
	return 0;
}

/* A live region as it was added, to add it back. */
static struct mmiotrap_region_opts opts_of(const struct mmiotrap_region *r)
{
	return (struct mmiotrap_region_opts) {
		.sz = sizeof(struct mmiotrap_region_opts),
		.vm = r->vm,
		.bus = r->bus,
		.addr = r->addr,
		.len = r->len,
		.widths = r->widths,
		.name = r->name,
		.dispatched = r->action & MMIOTRAP_ACTION_QUIET,
		.decoder = r->decoder,
		.params = r->params,
		.flags = r->flags,
	};
}

/*
 * Undo the steps taken: the regions added go, and the regions removed come
 * back in id order, so that each gets its old id again unless a lower one
 * was free. Their counters start again from zero.
 */
static int undo(struct plan *pl, const char *step, const char *name, int err)
{
	struct mmiotrap_region_opts o;
	const char *lost = NULL;
	int i, nlost = 0;

	while (pl->nadded)
		mmiotrap_region_del(pl->mt, pl->added[--pl->nadded]);
	for (i = 0; i < pl->nlive; i++) {
		if (!pl->dropped[i])
			continue;
		o = opts_of(&pl->live[i]);
		if (mmiotrap_region_add(pl->mt, &o) < 0 && !nlost++)
			lost = pl->live[i].name;
	}
	if (nlost)
		return cli_error(pl->cli, "cannot %s region '%s': %s; undoing the apply failed: lost region '%s'%s",
				 step, name, strerror(-err), lost, nlost > 1 ? " and others" : "");
	return cli_error(pl->cli, "cannot %s region '%s': %s; nothing changed",
			 step, name, strerror(-err));
}

/* Removals first: a changed region's name and range are free for it again. */
static int execute(struct plan *pl)
{
	struct mmiotrap_region_opts o;
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
		if (pl->change[i] == KEEP)
			continue;
		o = desired(pl, i);
		id = mmiotrap_region_add(pl->mt, &o);
		if (id < 0)
			return undo(pl, "add", o.name, id);
		pl->added[pl->nadded++] = id;
	}
	return 0;
}

static void print_names(json_t *names, const char *what)
{
	json_t *name;
	size_t i;

	json_array_foreach(names, i, name)
		printf("%s %s\n", what, json_string_value(name));
}

static void report(const struct plan *pl)
{
	json_t *added = json_array(), *removed = json_array(), *changed = json_array();
	json_t *obj = json_pack("{s:o, s:o, s:o}", "added", added, "removed", removed,
				"changed", changed);
	int i;

	for (i = 0; i < pl->nlive; i++)
		if (pl->drop[i] && pl->wanted[i] < 0)
			json_array_append_new(removed, json_string(pl->live[i].name));
	for (i = 0; i < pl->p->nregions; i++)
		if (pl->change[i] != KEEP)
			json_array_append_new(pl->change[i] == ADD ? added : changed,
					      json_string(pl->p->regions[i].name));
	if (pl->cli->json) {
		cli_json(pl->cli, obj);
		return;
	}
	print_names(removed, "removed");
	print_names(changed, "changed");
	print_names(added, "added");
	if (!json_array_size(removed) && !json_array_size(changed) && !json_array_size(added))
		printf("nothing to change\n");
	json_decref(obj);
}

static int plan_apply(struct plan *pl)
{
	int err;

	if (cli_open(pl->cli, &pl->mt))
		return 1;
	err = resolve(pl) || load_live(pl) || classify(pl) || check_overlaps(pl) ||
	      check_room(pl) || execute(pl);
	if (!err)
		report(pl);
	mmiotrap_close(pl->mt);
	return err;
}

static int apply(const struct cli *cli, const struct policy *p)
{
	struct plan *pl = calloc(1, sizeof(*pl));
	int err = 1;

	if (pl) {
		pl->cli = cli;
		pl->p = p;
		pl->pid = calloc(p->nvms + 1, sizeof(*pl->pid));
		pl->change = calloc(p->nregions + 1, sizeof(*pl->change));
	}
	if (!pl || !pl->pid || !pl->change)
		cli_error(cli, "out of memory");
	else
		err = plan_apply(pl);
	if (pl) {
		free(pl->pid);
		free(pl->change);
	}
	free(pl);
	return err;
}

static int do_apply(struct cli *cli)
{
	const char *file = file_arg(cli, "apply");
	struct policy p;
	int err;

	if (!file || read_policy(cli, &p, file))
		return 1;
	err = p.nerrors ? invalid(cli, &p) : 0;
	if (!err)
		err = apply(cli, &p);
	policy_free(&p);
	return err;
}

static json_t *widths_json(__u8 widths)
{
	json_t *arr = json_array();
	int w;

	for (w = 1; w <= 8; w <<= 1)
		if (widths & w)
			json_array_append_new(arr, json_integer(w));
	return arr;
}

static json_t *fields_json(const struct mmiotrap_bitfield_params *b)
{
	json_t *arr = json_array();
	int i;

	for (i = 0; i < MMIOTRAP_FIELDS && b->mask[i]; i++)
		json_array_append_new(arr, json_pack("{s:s, s:I, s:i}", "name", b->name[i],
						     "mask", (json_int_t)b->mask[i],
						     "shift", b->shift[i]));
	return arr;
}

/* A decoder's parameters, as the keys of the region in a policy file. */
static json_t *params_json(const struct mmiotrap_region *r)
{
	const union mmiotrap_decoder_params *p = &r->params;

	switch (r->decoder) {
	case MMIOTRAP_DECODER_NVME:
		return json_pack("{s:I, s:i, s:I}", "bar0", (json_int_t)p->nvme.bar0,
				 "dstrd", p->nvme.dstrd, "queues", (json_int_t)p->nvme.queues);
	case MMIOTRAP_DECODER_VIRTIO_PCI:
		return json_pack("{s:I, s:I, s:i, s:b, s:b}",
				 "notify_base", (json_int_t)p->virtio.notify_base,
				 "multiplier", (json_int_t)p->virtio.multiplier,
				 "queues", p->virtio.queues,
				 "notification_data",
				 !!(p->virtio.flags & MMIOTRAP_VIRTIO_NOTIFICATION_DATA),
				 "packed", !!(p->virtio.flags & MMIOTRAP_VIRTIO_PACKED));
	case MMIOTRAP_DECODER_VIRTIO_LEGACY:
		return json_pack("{s:I}", "queues", (json_int_t)p->legacy.queues);
	case MMIOTRAP_DECODER_BITFIELD:
		return json_pack("{s:o}", "fields", fields_json(&p->bitfield));
	default:
		return json_object();
	}
}

/* A policy region as a region of a policy file. */
static json_t *region_json(const struct mmiotrap_region *r)
{
	json_t *obj, *params = params_json(r);

	obj = json_pack("{s:s, s:s, s:I, s:I, s:o, s:s, s:s}", "name", r->name,
			"bus", bus_str(r->bus), "addr", (json_int_t)r->addr,
			"len", (json_int_t)r->len, "widths", widths_json(r->widths),
			"mode", r->want_fast ? "fast" : "slow",
			"decoder", mmiotrap_decoder_str(r->decoder));
	json_object_update(obj, params);
	json_decref(params);
	return obj;
}

/* The place in @vms of process @pid's entry, made if it is not there yet. */
static size_t vm_entry(json_t *vms, __u32 pid)
{
	json_t *entry;
	size_t i;

	json_array_foreach(vms, i, entry)
		if (json_integer_value(json_object_get(json_object_get(entry, "vm"), "pid")) == pid)
			return i;
	json_array_append_new(vms, json_pack("{s:{s:I}, s:[]}", "vm", "pid", (json_int_t)pid,
					     "regions"));
	return i;
}

/* The live policy, grouped by VM; @stale marks the VMs with a stale region. */
static int live_policy(const struct cli *cli, struct mmiotrap *mt, json_t *vms, bool *stale)
{
	struct mmiotrap_region r;
	__u32 id = 0;
	size_t i;
	int err;

	while (!(err = mmiotrap_region_next(mt, id, &r))) {
		id = r.id;
		if (!(r.flags & MMIOTRAP_REGION_POLICY))
			continue;
		i = vm_entry(vms, r.vm);
		json_array_append_new(json_object_get(json_array_get(vms, i), "regions"),
				      region_json(&r));
		stale[i] |= mmiotrap_region_stale(mt, &r);
	}
	if (err != -ENOENT)
		return cli_error(cli, "cannot read the regions: %s", strerror(-err));
	return 0;
}

/* Numbers that are addresses or masks read best in hex. */
static bool hex_key(const char *key)
{
	static const char *const keys[] = { "addr", "len", "bar0", "notify_base", "mask", NULL };
	int i;

	for (i = 0; keys[i]; i++)
		if (!strcmp(key, keys[i]))
			return true;
	return false;
}

/* A name YAML would read as a bool or null is quoted. */
static void yaml_string(const char *s)
{
	static const char *const words[] = {
		"y", "n", "yes", "no", "true", "false", "on", "off", "null", NULL,
	};
	int i;

	for (i = 0; words[i]; i++)
		if (!strcasecmp(s, words[i]))
			break;
	printf(words[i] ? "\"%s\"" : "%s", s);
}

/* In flow style: every string here is a name or a word of the schema. */
static void yaml_value(const char *key, json_t *v)
{
	const char *k;
	json_t *item;
	size_t i = 0;

	switch (json_typeof(v)) {
	case JSON_OBJECT:
		printf("{");
		json_object_foreach(v, k, item) {
			printf("%s%s: ", i++ ? ", " : "", k);
			yaml_value(k, item);
		}
		printf("}");
		break;
	case JSON_ARRAY:
		printf("[");
		json_array_foreach(v, i, item) {
			printf("%s", i ? ", " : "");
			yaml_value(key, item);
		}
		printf("]");
		break;
	case JSON_INTEGER:
		/* Cast back: jansson's integers are signed, addresses are not. */
		printf(hex_key(key) ? "0x%llx" : "%llu", (unsigned long long)json_integer_value(v));
		break;
	case JSON_STRING:
		yaml_string(json_string_value(v));
		break;
	default:
		printf("%s", json_is_true(v) ? "true" : "false");
	}
}

/* Which process a pid is: only a comment, apply goes by the pid. */
static void vm_comment(__u32 pid, bool stale)
{
	char name[256], *c;

	if (stale) {
		printf("  # stale: the process is gone\n");
	} else if (!policy_vm_name(pid, name, sizeof(name))) {
		for (c = name; *c; c++)
			if (!isprint((unsigned char)*c))
				*c = '?';
		printf("  # -name %s\n", name);
	} else {
		printf("\n");
	}
}

static void print_yaml(const struct cli *cli, json_t *vms, const bool *stale)
{
	json_t *entry, *region, *v;
	const char *key;
	size_t i, j;
	bool first;

	printf("# The policy regions of %s\n", cli->opts.pin_root);
	if (!json_array_size(vms)) {
		printf("vms: []\n");
		return;
	}
	printf("vms:\n");
	json_array_foreach(vms, i, entry) {
		printf("  - vm: ");
		yaml_value("vm", json_object_get(entry, "vm"));
		vm_comment(json_integer_value(json_object_get(json_object_get(entry, "vm"), "pid")),
			   stale[i]);
		printf("    regions:\n");
		json_array_foreach(json_object_get(entry, "regions"), j, region) {
			first = true;
			json_object_foreach(region, key, v) {
				printf("      %c %s: ", first ? '-' : ' ', key);
				yaml_value(key, v);
				printf("\n");
				first = false;
			}
		}
	}
}

static int do_show(struct cli *cli)
{
	bool stale[MMIOTRAP_MAX_REGIONS] = {};
	struct mmiotrap *mt;
	json_t *vms;
	int err;

	if (cli->argc)
		return cli_error(cli, "unexpected argument '%s'", cli_next(cli));
	if (cli_open(cli, &mt))
		return 1;
	vms = json_array();
	err = live_policy(cli, mt, vms, stale);
	mmiotrap_close(mt);
	if (!err && cli->json)
		cli_json(cli, json_pack("{s:O}", "vms", vms));
	else if (!err)
		print_yaml(cli, vms, stale);
	json_decref(vms);
	return err;
}

int do_policy(struct cli *cli)
{
	static const struct cmd cmds[] = {
		{ "validate",	do_validate,	false },
		{ "apply",	do_apply,	true },
		{ "show",	do_show,	true },
		{}
	};

	return cli_dispatch(cli, cmds, "policy");
}
