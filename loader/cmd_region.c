// SPDX-License-Identifier: GPL-2.0
/*
 * mmiotrap region add --vm PID (--mmio ADDR | --pio PORT) --len BYTES
 *                     [--width 1,2,4,8] [--name NAME]
 * mmiotrap region del NAME|ID
 * mmiotrap region list
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "cli.h"

static json_t *widths_json(__u8 widths)
{
	json_t *arr = json_array();
	int w;

	for (w = 1; w <= 8; w <<= 1)
		if (widths & w)
			json_array_append_new(arr, json_integer(w));
	return arr;
}

static void widths_text(__u8 widths, char *buf, size_t size)
{
	size_t n = 0;
	int w;

	buf[0] = '\0';
	for (w = 1; w <= 8; w <<= 1)
		if (widths & w)
			n += snprintf(buf + n, size - n, "%s%d", n ? "," : "", w);
}

static json_t *region_json(struct mmiotrap *mt, const struct mmiotrap_region *r)
{
	return json_pack("{s:i, s:s, s:I, s:s, s:I, s:I, s:o, s:o, s:s, s:s, s:b}",
			 "id", r->id, "name", r->name, "vm", (json_int_t)r->vm,
			 "bus", bus_str(r->bus), "addr", (json_int_t)r->addr,
			 "len", (json_int_t)r->len, "widths", widths_json(r->widths),
			 "fast_widths", widths_json(r->fast_widths), "decoder", "raw",
			 "action", r->action & MMIOTRAP_ACTION_RING ? "ring" : "count",
			 "stale", mmiotrap_region_stale(mt, r));
}

static void print_region(struct mmiotrap *mt, const struct mmiotrap_region *r)
{
	char widths[16];
	char fast[24] = "";

	widths_text(r->widths, widths, sizeof(widths));
	if (r->fast_widths) {
		strcpy(fast, "  fast ");
		widths_text(r->fast_widths, fast + strlen(fast), sizeof(fast) - strlen(fast));
	}
	printf("%u: name %s  vm %u  %s 0x%llx len 0x%llx  widths %s%s%s\n", r->id,
	       *r->name ? r->name : "-", r->vm, bus_str(r->bus), (unsigned long long)r->addr,
	       (unsigned long long)r->len, widths, fast,
	       mmiotrap_region_stale(mt, r) ? "  stale" : "");
}

/* "1,2,4" -> the OR of the widths. */
static int parse_widths(const struct cli *cli, const char *arg, __u8 *widths)
{
	char buf[64], *tok, *save;

	if (!arg)
		return cli_error(cli, "--width needs a value");
	if (strlen(arg) >= sizeof(buf))
		return cli_error(cli, "bad --width '%s'", arg);
	strcpy(buf, arg);
	*widths = 0;
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (strlen(tok) != 1 || !strchr("1248", tok[0]))
			return cli_error(cli, "bad width '%s' in --width '%s': widths are 1, 2, 4 or 8",
					 tok, arg);
		*widths |= tok[0] - '0';
	}
	return *widths ? 0 : cli_error(cli, "bad --width '%s'", arg);
}

static int parse_add(struct cli *cli, struct mmiotrap_region_opts *o)
{
	bool have_vm = false, have_addr = false, have_len = false;
	const char *word, *val;
	__u64 n;

	while ((word = cli_next(cli))) {
		val = cli_next(cli);
		if (cli_is(word, "--vm")) {
			if (cli_u64(cli, word, val, &n))
				return 1;
			if (!n || n > 0x7fffffff)
				return cli_error(cli, "bad --vm '%s': not a pid", val);
			o->vm = n;
			have_vm = true;
		} else if (cli_is(word, "--mmio") || cli_is(word, "--pio")) {
			if (have_addr)
				return cli_error(cli, "give one of --mmio or --pio, once");
			if (cli_u64(cli, word, val, &o->addr))
				return 1;
			o->bus = cli_is(word, "--pio") ? MMIOTRAP_BUS_PIO : MMIOTRAP_BUS_MMIO;
			have_addr = true;
		} else if (cli_is(word, "--len")) {
			if (cli_u64(cli, word, val, &o->len))
				return 1;
			have_len = true;
		} else if (cli_is(word, "--width")) {
			if (parse_widths(cli, val, &o->widths))
				return 1;
		} else if (cli_is(word, "--name")) {
			if (!val)
				return cli_error(cli, "--name needs a value");
			o->name = val;
		} else {
			return cli_error(cli, "unknown argument '%s' to region add", word);
		}
	}
	if (!have_vm || !have_addr || !have_len)
		return cli_error(cli, "region add needs --vm PID, --mmio ADDR or --pio PORT, and --len BYTES");
	return 0;
}

static int conflict(const struct cli *cli, struct mmiotrap *mt,
		    const struct mmiotrap_region_opts *o)
{
	struct mmiotrap_region r;
	__u32 id = 0;

	while (!mmiotrap_region_next(mt, id, &r)) {
		id = r.id;
		if (r.vm == o->vm && r.bus == o->bus && !mmiotrap_region_stale(mt, &r) &&
		    (o->addr - r.addr < r.len || r.addr - o->addr < o->len))
			return cli_error(cli, "%s 0x%llx len 0x%llx overlaps region %u (%s) of vm %u",
					 bus_str(o->bus), (unsigned long long)o->addr,
					 (unsigned long long)o->len, r.id, *r.name ? r.name : "-",
					 o->vm);
	}
	return cli_error(cli, "%s 0x%llx len 0x%llx overlaps a region of vm %u",
			 bus_str(o->bus), (unsigned long long)o->addr,
			 (unsigned long long)o->len, o->vm);
}

static int add_error(const struct cli *cli, struct mmiotrap *mt,
		     const struct mmiotrap_region_opts *o, int err)
{
	switch (err) {
	case -EINVAL:
		if (!o->len)
			return cli_error(cli, "bad --len 0: a region needs at least one byte");
		return cli_error(cli, "bad --name '%s': use letters, digits, '_', '.', '-', starting with a letter",
				 o->name);
	case -ERANGE:
		return cli_error(cli, "%s 0x%llx len 0x%llx runs past the end of the %s space",
				 bus_str(o->bus), (unsigned long long)o->addr,
				 (unsigned long long)o->len,
				 o->bus == MMIOTRAP_BUS_PIO ? "64 KiB port" : "address");
	case -ESRCH:
		return cli_error(cli, "bad --vm '%u': no such process", o->vm);
	case -EEXIST:
		return cli_error(cli, "a region named '%s' exists already", o->name);
	case -EADDRINUSE:
		return conflict(cli, mt, o);
	case -ENAMETOOLONG:
		return cli_error(cli, "bad --name '%s': longer than %d characters",
				 o->name, MMIOTRAP_NAME_LEN - 1);
	case -ENOSPC:
		return cli_error(cli, "no room for another region (%d at most)",
				 MMIOTRAP_MAX_REGIONS - 1);
	default:
		return cli_error(cli, "cannot add the region: %s", strerror(-err));
	}
}

static int do_add(struct cli *cli)
{
	struct mmiotrap_region_opts o = { .sz = sizeof(o) };
	struct mmiotrap_region r;
	struct mmiotrap *mt;
	int id;

	if (parse_add(cli, &o) || cli_open(cli, &mt))
		return 1;
	id = mmiotrap_region_add(mt, &o);
	if (id < 0) {
		add_error(cli, mt, &o, id);
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
			cli_error(cli, "cannot delete region '%s': %s", arg, strerror(-err));
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
	json_t *arr = json_array();
	struct mmiotrap_region r;
	struct mmiotrap *mt;
	__u32 id = 0;

	if (cli->argc)
		return cli_error(cli, "unexpected argument '%s'", cli_next(cli));
	if (cli_open(cli, &mt))
		return 1;
	while (!mmiotrap_region_next(mt, id, &r)) {
		if (cli->json)
			json_array_append_new(arr, region_json(mt, &r));
		else
			print_region(mt, &r);
		id = r.id;
	}
	if (cli->json)
		cli_json(cli, json_incref(arr));
	json_decref(arr);
	mmiotrap_close(mt);
	return 0;
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
