// SPDX-License-Identifier: GPL-2.0
/*
 * mmiotrap policy validate FILE
 * mmiotrap policy apply [--watch | --dry-run] FILE
 * mmiotrap policy show
 *
 * The library reads, checks and applies the file; this prints what it says.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "cli.h"

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

static int read_policy(const struct cli *cli, struct mmiotrap_policy **p, const char *file)
{
	int err = mmiotrap_policy_read(p, file);

	if (!err)
		return 0;
	return cli_error(cli, "cannot read %s: %s", file, strerror(-err));
}

static json_t *errors_json(const struct mmiotrap_policy *p)
{
	const struct mmiotrap_policy_problem *e;
	json_t *arr = json_array();
	int i, n = mmiotrap_policy_problems(p, &e);

	for (i = 0; i < n; i++)
		json_array_append_new(arr, json_pack("{s:i, s:o?, s:o}", "line", e[i].line,
						     "key", e[i].syntax ? NULL : cli_str(e[i].key),
						     "error", cli_str(e[i].message)));
	return arr;
}

static void print_errors(const struct mmiotrap_policy *p)
{
	const struct mmiotrap_policy_problem *e;
	char file[1024], key[4 * sizeof(e->key)], msg[4 * sizeof(e->message)];
	int i, n = mmiotrap_policy_problems(p, &e);

	/* One line each, whatever bytes the file's name, keys and values hold. */
	for (i = 0; i < n; i++) {
		cli_clean(e[i].file, file, sizeof(file));
		cli_clean(e[i].message, msg, sizeof(msg));
		if (e[i].syntax)
			fprintf(stderr, "%s:%d: %s\n", file, e[i].line, msg);
		else
			fprintf(stderr, "%s:%d: key '%s': %s\n", file, e[i].line,
				cli_clean(e[i].key, key, sizeof(key)), msg);
	}
}

static int do_validate(struct cli *cli)
{
	const char *file = file_arg(cli, "validate");
	const struct mmiotrap_policy_problem *e;
	struct mmiotrap_policy *p;
	int vms, regions;
	bool valid;

	if (!file || read_policy(cli, &p, file))
		return 1;
	valid = !mmiotrap_policy_problems(p, &e);
	vms = mmiotrap_policy_vms(p);
	regions = mmiotrap_policy_regions(p);
	file = mmiotrap_policy_file(p);
	if (cli->json && valid)
		cli_json(cli, json_pack("{s:o, s:b, s:i, s:i}", "file", cli_str(file), "valid", true,
					"vms", vms, "regions", regions));
	else if (cli->json)
		cli_json(cli, json_pack("{s:o, s:b, s:o}", "file", cli_str(file), "valid", false,
					"errors", errors_json(p)));
	else if (valid)
		printf("%s: valid, %d VM%s, %d region%s\n", file, vms, vms == 1 ? "" : "s",
		       regions, regions == 1 ? "" : "s");
	else
		print_errors(p);
	mmiotrap_policy_free(p);
	return !valid;
}

/* apply of a file validate refuses: its errors, and nothing done. */
static int invalid(const struct cli *cli, const struct mmiotrap_policy *p)
{
	if (cli->json)
		cli_json(cli, json_pack("{s:s, s:o, s:o}", "error", "not a valid policy: nothing applied",
					"file", cli_str(mmiotrap_policy_file(p)), "errors", errors_json(p)));
	else
		print_errors(p);
	return 1;
}

/* What stopped the apply: its last problem, one line naming the place in the file. */
static int apply_error(const struct cli *cli, const struct mmiotrap_policy *p, int err)
{
	const struct mmiotrap_policy_problem *e;
	int n = mmiotrap_policy_problems(p, &e);

	if (!n)
		return cli_error(cli, "cannot apply %s: %s", mmiotrap_policy_file(p), strerror(-err));
	e += n - 1;
	if (!e->line)
		return cli_error(cli, "%s", e->message);
	return cli_error(cli, "%s:%d: key '%s': %s", e->file, e->line, e->key, e->message);
}

/* What an apply tells: the changes by kind (removed, changed, added), and the plan. */
struct told {
	json_t *changes[MMIOTRAP_POLICY_KEPT];
	json_t *plan;
};

static void collect(void *ctx, enum mmiotrap_policy_change change, const char *name)
{
	json_array_append_new(((struct told *)ctx)->changes[change], json_string(name));
}

static void print_names(json_t *names, const char *what)
{
	json_t *name;
	size_t i;

	json_array_foreach(names, i, name)
		printf("%s %s\n", what, json_string_value(name));
}

static void report(const struct cli *cli, json_t **changes)
{
	json_t *removed = changes[MMIOTRAP_POLICY_REMOVED];
	json_t *changed = changes[MMIOTRAP_POLICY_CHANGED];
	json_t *added = changes[MMIOTRAP_POLICY_ADDED];

	if (cli->json) {
		cli_json(cli, json_pack("{s:O, s:O, s:O}", "added", added, "removed", removed,
					"changed", changed));
		return;
	}
	print_names(removed, "removed");
	print_names(changed, "changed");
	print_names(added, "added");
	if (!json_array_size(removed) && !json_array_size(changed) && !json_array_size(added))
		printf("nothing to change\n");
}

static json_t *region_json(const struct mmiotrap_region *r);

static const char *const plan_words[] = {
	[MMIOTRAP_POLICY_REMOVED] = "remove", [MMIOTRAP_POLICY_CHANGED] = "change",
	[MMIOTRAP_POLICY_ADDED] = "add", [MMIOTRAP_POLICY_KEPT] = "keep",
};

/* Each region of the outcome, with what apply does to it: the plan, as JSON. */
static void collect_plan(void *ctx, enum mmiotrap_policy_change change,
			 const struct mmiotrap_region *r)
{
	json_t *obj = json_pack("{s:s, s:I}", "change", plan_words[change], "vm",
				(json_int_t)r->vm);

	json_object_update_new(obj, region_json(r));
	json_array_append_new(((struct told *)ctx)->plan, obj);
}

static void print_plan(const struct cli *cli, json_t *plan)
{
	json_t *r;
	size_t i;
	__u64 addr, len;

	if (cli->json) {
		cli_json(cli, json_pack("{s:b, s:O}", "dry_run", true, "plan", plan));
		return;
	}
	json_array_foreach(plan, i, r) {
		cli_u64_of(json_object_get(r, "addr"), &addr);
		cli_u64_of(json_object_get(r, "len"), &len);
		printf("%s %s  vm %lld  %s 0x%llx len 0x%llx  %s\n",
		       json_string_value(json_object_get(r, "change")),
		       json_string_value(json_object_get(r, "name")),
		       json_integer_value(json_object_get(r, "vm")),
		       json_string_value(json_object_get(r, "bus")), (unsigned long long)addr,
		       (unsigned long long)len, json_string_value(json_object_get(r, "decoder")));
	}
	if (!json_array_size(plan))
		printf("no region\n");
}

static int apply(const struct cli *cli, struct mmiotrap_policy *p, bool dry_run)
{
	struct told told = {
		.changes = { json_array(), json_array(), json_array() }, .plan = json_array(),
	};
	MMIOTRAP_OPTS(mmiotrap_policy_apply_opts, opts, .fn = collect, .ctx = &told,
		      .plan = dry_run ? collect_plan : NULL, .dry_run = dry_run);
	struct mmiotrap *mt = NULL;
	int err, i;

	if (cli_open(cli, &mt))
		err = 1;
	else if ((err = mmiotrap_policy_apply(mt, p, &opts)))
		err = apply_error(cli, p, err);
	else if (dry_run)
		print_plan(cli, told.plan);
	else
		report(cli, told.changes);
	if (mt)
		mmiotrap_close(mt);
	for (i = 0; i < MMIOTRAP_POLICY_KEPT; i++)
		json_decref(told.changes[i]);
	json_decref(told.plan);
	return err;
}

static int do_apply(struct cli *cli)
{
	const struct mmiotrap_policy_problem *e;
	bool watch = false, dry_run = false;
	struct mmiotrap_policy *p;
	const char *file;
	int err;

	while (cli->argc && (cli_is(cli->argv[0], "--watch") || cli_is(cli->argv[0], "--dry-run"))) {
		if (cli_is(cli->argv[0], "--watch"))
			watch = true;
		else
			dry_run = true;
		cli_next(cli);
	}
	if (watch && dry_run)
		return cli_error(cli, "policy apply: --watch or --dry-run, not both");
	file = file_arg(cli, "apply");
	if (!file || read_policy(cli, &p, file))
		return 1;
	/* A file that is not valid now is not watched: its author is at hand. */
	if (watch && !mmiotrap_policy_problems(p, &e)) {
		mmiotrap_policy_free(p);
		return policy_watch(cli, file);
	}
	err = mmiotrap_policy_problems(p, &e) ? invalid(cli, p) : apply(cli, p, dry_run);
	mmiotrap_policy_free(p);
	return err;
}

/* A policy region as a region of a policy file. */
static json_t *region_json(const struct mmiotrap_region *r)
{
	json_t *obj, *params = params_json(r);

	obj = json_pack("{s:s, s:s, s:o, s:o, s:o, s:s, s:s}", "name", r->name,
			"bus", bus_str(r->bus), "addr", cli_u64_json(r->addr),
			"len", cli_u64_json(r->len), "widths", widths_json(r->widths),
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
	size_t i;
	int err;

	mmiotrap_for_each_region(&r, mt, err) {
		if (!(r.flags & MMIOTRAP_REGION_POLICY))
			continue;
		i = vm_entry(vms, r.vm);
		json_array_append_new(json_object_get(json_array_get(vms, i), "regions"),
				      region_json(&r));
		stale[i] |= mmiotrap_region_stale(mt, &r) > 0;
	}
	if (err)
		return cli_error(cli, "cannot read the regions: %s", strerror(-err));
	return 0;
}

/* Numbers that are addresses or masks read best in hex: the decoder table says which. */
static bool hex_key(const char *key)
{
	const struct mmiotrap_decoder_param *param;
	int d;

	if (!strcmp(key, "addr") || !strcmp(key, "len") || !strcmp(key, "mask"))
		return true;
	for (d = 0; d < MMIOTRAP_DECODER_MAX; d++) {
		param = mmiotrap_decoder_param(d, key);
		if (param && param->hex)
			return true;
	}
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
	__u64 n;
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
	case JSON_STRING:
		if (cli_u64_of(v, &n))
			printf(hex_key(key) ? "0x%llx" : "%llu", (unsigned long long)n);
		else
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
	} else if (!mmiotrap_vm_name(pid, name, sizeof(name))) {
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
	MMIOTRAP_OPTS(mmiotrap_limits, lim);
	struct mmiotrap *mt;
	bool *stale;
	json_t *vms;
	int err;

	if (cli->argc)
		return cli_error(cli, "unexpected argument '%s'", cli_next(cli));
	if (cli_open(cli, &mt))
		return 1;
	/* One per VM entry: there are no more VMs than regions. */
	mmiotrap_limits(mt, &lim);
	stale = calloc(lim.max_regions + 1, sizeof(*stale));
	if (!stale) {
		mmiotrap_close(mt);
		return cli_error(cli, "out of memory");
	}
	vms = json_array();
	err = live_policy(cli, mt, vms, stale);
	mmiotrap_close(mt);
	if (!err && cli->json)
		cli_json(cli, json_pack("{s:O}", "vms", vms));
	else if (!err)
		print_yaml(cli, vms, stale);
	json_decref(vms);
	free(stale);
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
