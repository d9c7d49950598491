// SPDX-License-Identifier: GPL-2.0
/*
 * mmiotrap region add --vm PID (--mmio ADDR | --pio PORT) --len BYTES
 *                     [--width 1,2,4,8] [--name NAME]
 * mmiotrap region del NAME|ID
 * mmiotrap region list
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"

static void widths_text(__u8 widths, char *buf, size_t size)
{
	size_t n = 0;
	int w;

	buf[0] = '\0';
	for (w = 1; w <= 8; w <<= 1)
		if (widths & w)
			n += snprintf(buf + n, size - n, "%s%d", n ? "," : "", w);
}

static json_t *fields_json(const struct mmiotrap_bitfield_params *b)
{
	json_t *arr = json_array();
	int i;

	for (i = 0; i < MMIOTRAP_FIELDS; i++)
		if (b->mask[i])
			json_array_append_new(arr, json_pack("{s:s, s:o, s:i}", "name", b->name[i],
							     "mask", cli_u64_json(b->mask[i]),
							     "shift", b->shift[i]));
	return arr;
}

json_t *params_json(const struct mmiotrap_region *r)
{
	const struct mmiotrap_decoder_info *info = mmiotrap_decoder_info(r->decoder);
	const struct mmiotrap_decoder_param *param;
	json_t *obj = json_object(), *v;
	__u64 n;
	int i;

	for (i = 0; info && i < info->nparams; i++) {
		param = &info->params[i];
		n = param->kind == MMIOTRAP_PARAM_FIELDS ? 0 : mmiotrap_decoder_get(&r->params, param);
		if (param->kind == MMIOTRAP_PARAM_FIELDS)
			v = fields_json(&r->params.bitfield);
		else if (param->kind == MMIOTRAP_PARAM_FLAG)
			v = json_boolean(n);
		else
			v = cli_u64_json(n);
		json_object_set_new(obj, param->name, v);
	}
	return obj;
}

/* The decoder and its parameters as "  nvme bar0 0xfebf0000 dstrd 0 queues 2". */
static void params_text(const struct mmiotrap_region *r, char *text, size_t size)
{
	const struct mmiotrap_decoder_info *info = mmiotrap_decoder_info(r->decoder);
	const struct mmiotrap_bitfield_params *b = &r->params.bitfield;
	const struct mmiotrap_decoder_param *param;
	size_t n = 0;
	__u64 v;
	int i, f;

	text[0] = '\0';
	if (!info || !info->nparams)
		return;
	n += snprintf(text + n, size - n, "  %s", info->name);
	for (i = 0; i < info->nparams && n < size; i++) {
		param = &info->params[i];
		if (param->kind == MMIOTRAP_PARAM_FIELDS) {
			for (f = 0; f < MMIOTRAP_FIELDS && n < size; f++)
				if (b->mask[f])
					n += snprintf(text + n, size - n, " %s:0x%llx:%u", b->name[f],
						      (unsigned long long)b->mask[f], b->shift[f]);
			continue;
		}
		v = mmiotrap_decoder_get(&r->params, param);
		if (param->kind == MMIOTRAP_PARAM_FLAG)
			n += snprintf(text + n, size - n, v ? " %s" : "", param->option);
		else
			n += snprintf(text + n, size - n, param->hex ? " %s 0x%llx" : " %s %llu",
				      param->option, (unsigned long long)v);
	}
}

static json_t *region_fields_json(struct mmiotrap *mt, const struct mmiotrap_region *r)
{
	return json_pack("{s:i, s:s, s:I, s:s, s:o, s:o, s:o, s:o, s:o, s:s, s:s, s:b, s:b}",
			 "id", r->id, "name", r->name, "vm", (json_int_t)r->vm,
			 "bus", bus_str(r->bus), "addr", cli_u64_json(r->addr),
			 "len", cli_u64_json(r->len), "widths", widths_json(r->widths),
			 "fast_widths", widths_json(r->fast_widths),
			 "want_fast", widths_json(r->want_fast),
			 "decoder", mmiotrap_decoder_str(r->decoder),
			 "action", r->action & MMIOTRAP_ACTION_RING ? "ring" : "count",
			 "policy", !!(r->flags & MMIOTRAP_REGION_POLICY),
			 "stale", mmiotrap_region_stale(mt, r) > 0);
}

static json_t *region_json(struct mmiotrap *mt, const struct mmiotrap_region *r)
{
	json_t *obj = region_fields_json(mt, r);

	if (r->decoder != MMIOTRAP_DECODER_RAW)
		json_object_set_new(obj, "params", params_json(r));
	return obj;
}

static void print_region(struct mmiotrap *mt, const struct mmiotrap_region *r)
{
	char widths[16], params[160];
	char fast[24] = "";

	widths_text(r->widths, widths, sizeof(widths));
	if (r->fast_widths || r->want_fast) {
		strcpy(fast, r->fast_widths ? "  fast " : "  wants fast ");
		widths_text(r->fast_widths ?: r->want_fast, fast + strlen(fast),
			    sizeof(fast) - strlen(fast));
	}
	params_text(r, params, sizeof(params));
	printf("%u: name %s  vm %u  %s 0x%llx len 0x%llx  widths %s%s%s%s%s\n", r->id,
	       *r->name ? r->name : "-", r->vm, bus_str(r->bus), (unsigned long long)r->addr,
	       (unsigned long long)r->len, widths, fast, params,
	       r->flags & MMIOTRAP_REGION_POLICY ? "  policy" : "",
	       mmiotrap_region_stale(mt, r) > 0 ? "  stale" : "");
}

/* "1,2,4" -> the OR of the widths. */
static int parse_widths(const struct cli *cli, const char *arg, __u8 *widths)
{
	const char *bad;

	if (!arg)
		return cli_error(cli, "--width needs a value");
	if (!mmiotrap_parse_widths(arg, widths, &bad))
		return 0;
	if (!*bad || *bad == ',')
		return cli_error(cli, "bad --width '%s'", arg);
	return cli_error(cli, "bad width '%.*s' in --width '%s': widths are 1, 2, 4 or 8",
			 (int)strcspn(bad, ","), bad, arg);
}

/* Is @word --OPTION of a parameter of some decoder? */
static const char *decoder_option(const char *word)
{
	int d;

	if (!word || strncmp(word, "--", 2))
		return NULL;
	for (d = 0; d < MMIOTRAP_DECODER_MAX; d++)
		if (mmiotrap_decoder_param(d, word + 2))
			return word + 2;
	return NULL;
}

/* The decoder options, kept until the decoder is known. */
struct decoder_args {
	int n;
	struct {
		const char *option;
		const char *val;
	} arg[32];
};

static int keep_decoder_option(struct cli *cli, const char *option, const char *val,
			       struct decoder_args *a)
{
	const struct mmiotrap_decoder_param *param;
	bool flag = false, fields = false;
	int d, i;

	if (a->n == (int)(sizeof(a->arg) / sizeof(a->arg[0])))
		return cli_error(cli, "too many decoder options");
	for (d = 0; d < MMIOTRAP_DECODER_MAX; d++) {
		param = mmiotrap_decoder_param(d, option);
		flag |= param && param->kind == MMIOTRAP_PARAM_FLAG;
		fields |= param && param->kind == MMIOTRAP_PARAM_FIELDS;
	}
	/* Only fields come one option each; a second value of any other is an error. */
	for (i = 0; i < a->n && !fields; i++)
		if (!strcmp(a->arg[i].option, option))
			return cli_error(cli, "--%s given twice", option);
	/* A flag takes no value: give the word back. */
	if (flag && val) {
		cli->argc++;
		cli->argv--;
	}
	a->arg[a->n].option = option;
	a->arg[a->n++].val = flag ? NULL : val;
	return 0;
}

static int set_decoder_option(const struct cli *cli, enum mmiotrap_decoder d,
			      const struct mmiotrap_decoder_param *param, const char *val,
			      union mmiotrap_decoder_params *p)
{
	const char *msg;
	char what[48];
	__u64 n = 1;
	int err;

	snprintf(what, sizeof(what), "--%s", param->option);
	if (param->kind == MMIOTRAP_PARAM_FIELDS) {
		if (!val)
			return cli_error(cli, "%s needs a value", what);
		err = mmiotrap_bitfield_parse(&p->bitfield, val);
		msg = cli_lib_msg();
		if (err == -E2BIG)
			return cli_error(cli, "too many %s: %s", what, msg);
		return err ? cli_error(cli, "bad %s '%s': %s", what, val, msg) : 0;
	}
	if (param->kind == MMIOTRAP_PARAM_NUMBER && cli_u64(cli, what, val, &n))
		return 1;
	if (mmiotrap_decoder_set(p, d, param->name, n))
		return cli_error(cli, "bad %s '%s': %s", what, val, cli_lib_msg());
	return 0;
}

/* The options of the decoder and no other, the ones it needs, each sane. */
static int decoder_params(const struct cli *cli, enum mmiotrap_decoder d,
			  const struct decoder_args *a, union mmiotrap_decoder_params *p)
{
	const struct mmiotrap_decoder_info *info = mmiotrap_decoder_info(d);
	const struct mmiotrap_decoder_param *param;
	int i, j;

	for (i = 0; i < a->n; i++) {
		param = mmiotrap_decoder_param(d, a->arg[i].option);
		if (!param)
			return cli_error(cli, "--%s is no option of --decoder %s", a->arg[i].option,
					 info->name);
	}
	for (i = 0; i < info->nparams; i++) {
		for (j = 0; j < a->n; j++)
			if (mmiotrap_decoder_param(d, a->arg[j].option) == &info->params[i])
				break;
		if (info->params[i].required && j == a->n)
			return cli_error(cli, "--decoder %s needs --%s", info->name,
					 info->params[i].option);
	}
	for (i = 0; i < a->n; i++)
		if (set_decoder_option(cli, d, mmiotrap_decoder_param(d, a->arg[i].option),
				       a->arg[i].val, p))
			return 1;
	return 0;
}

/* region add's positional part, which the library takes as arguments, and its options. */
struct add_args {
	__u32 vm;
	enum mmiotrap_bus bus;
	__u64 addr;
	__u64 len;
	struct mmiotrap_region_opts o;
};

static int parse_add(struct cli *cli, struct add_args *a)
{
	struct mmiotrap_region_opts *o = &a->o;
	bool have_vm = false, have_addr = false, have_len = false;
	struct decoder_args dec = {};
	const char *word, *val, *opt;
	unsigned int seen = 0;
	int d;

	while ((word = cli_next(cli))) {
		val = cli_next(cli);
		if (cli_is(word, "--vm")) {
			if (cli_once(cli, word, &seen, 1) || cli_pid(cli, word, val, &a->vm))
				return 1;
			have_vm = true;
		} else if (cli_is(word, "--mmio") || cli_is(word, "--pio")) {
			if (have_addr)
				return cli_error(cli, "give one of --mmio or --pio, once");
			if (cli_u64(cli, word, val, &a->addr))
				return 1;
			a->bus = cli_is(word, "--pio") ? MMIOTRAP_BUS_PIO : MMIOTRAP_BUS_MMIO;
			have_addr = true;
		} else if (cli_is(word, "--len")) {
			if (cli_once(cli, word, &seen, 2) || cli_u64(cli, word, val, &a->len))
				return 1;
			have_len = true;
		} else if (cli_is(word, "--width")) {
			if (cli_once(cli, word, &seen, 4) || parse_widths(cli, val, &o->widths))
				return 1;
		} else if (cli_is(word, "--name")) {
			if (cli_once(cli, word, &seen, 8))
				return 1;
			if (!val)
				return cli_error(cli, "--name needs a value");
			o->name = val;
		} else if (cli_is(word, "--decoder")) {
			if (cli_once(cli, word, &seen, 16))
				return 1;
			d = mmiotrap_decoder_by_name(val);
			if (d < 0)
				return cli_error(cli, "bad --decoder '%s': raw, nvme, virtio-pci, virtio-legacy or bitfield",
						 val ? val : "");
			o->decoder = d;
		} else if ((opt = decoder_option(word))) {
			if (keep_decoder_option(cli, opt, val, &dec))
				return 1;
		} else {
			return cli_error(cli, "unknown argument '%s' to region add", word);
		}
	}
	if (!have_vm || !have_addr || !have_len)
		return cli_error(cli, "region add needs --vm PID, --mmio ADDR or --pio PORT, and --len BYTES");
	return decoder_params(cli, o->decoder, &dec, &o->params);
}

/* The library names what an overlap or a name is taken by, and why a range does not fit. */
static int add_error(const struct cli *cli, const struct add_args *a, int err)
{
	const struct mmiotrap_region_opts *o = &a->o;

	switch (err) {
	case -EINVAL:
		if (!a->len)
			return cli_error(cli, "bad --len 0: a region needs at least one byte");
		if (o->name && *o->name && !mmiotrap_valid_name(o->name))
			return cli_error(cli, "bad --name '%s': use letters, digits, '_', '.', '-', starting with a letter",
					 o->name);
		return cli_lib_error(cli, err, "bad region");
	case -ESRCH:
		return cli_error(cli, "bad --vm '%u': no such process", a->vm);
	case -ENAMETOOLONG:
		return cli_error(cli, "bad --name '%s': longer than %d characters",
				 o->name, MMIOTRAP_NAME_LEN - 1);
	default:
		return cli_lib_error(cli, err, "cannot add the region");
	}
}

static int do_add(struct cli *cli)
{
	struct add_args a = { .o.sz = sizeof(a.o) };
	struct mmiotrap_region r;
	struct mmiotrap *mt;
	int id;

	if (parse_add(cli, &a) || cli_open(cli, &mt))
		return 1;
	id = mmiotrap_region_add(mt, a.vm, a.bus, a.addr, a.len, &a.o);
	if (id < 0) {
		add_error(cli, &a, id);
	} else if (!mmiotrap_region_get(mt, id, &r)) {
		if (cli->json)
			cli_json(cli, region_json(mt, &r));
		else
			print_region(mt, &r);
	}
	mmiotrap_close(mt);
	return id < 0;
}

static int do_del(struct cli *cli)
{
	const char *arg = cli_next(cli);
	struct mmiotrap_region r;
	struct mmiotrap *mt;
	int err;

	if (cli->argc)
		return cli_error(cli, "unexpected argument '%s'", cli_next(cli));
	if (cli_open(cli, &mt))
		return 1;
	err = cli_region(cli, mt, arg, &r);
	if (!err) {
		err = mmiotrap_region_del(mt, r.id);
		if (err)
			cli_lib_error(cli, err, "cannot delete region '%s'", arg);
		else if (cli->json)
			cli_json(cli, json_pack("{s:i}", "deleted", r.id));
		else
			printf("deleted region %u\n", r.id);
	}
	mmiotrap_close(mt);
	return !!err;
}

static int do_list(struct cli *cli)
{
	struct mmiotrap_region r;
	struct mmiotrap *mt;
	json_t *arr;
	int err;

	if (cli->argc)
		return cli_error(cli, "unexpected argument '%s'", cli_next(cli));
	if (cli_open(cli, &mt))
		return 1;
	arr = json_array();
	mmiotrap_for_each_region(&r, mt, err) {
		if (cli->json)
			json_array_append_new(arr, region_json(mt, &r));
		else
			print_region(mt, &r);
	}
	if (err)
		cli_error(cli, "cannot read the regions: %s", strerror(-err));
	else if (cli->json)
		cli_json(cli, json_incref(arr));
	json_decref(arr);
	mmiotrap_close(mt);
	return !!err;
}

int do_region(struct cli *cli)
{
	static const struct cmd cmds[] = {
		{ "add",	do_add,		true },
		{ "del",	do_del,		true },
		{ "list",	do_list,	true },
		{}
	};

	return cli_dispatch(cli, cmds, "region");
}
