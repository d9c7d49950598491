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

/* A decoder's parameters, as JSON and as text; NULL and "" for raw. */
static json_t *params_json(const struct mmiotrap_region *r, char *text, size_t size)
{
	const union mmiotrap_decoder_params *p = &r->params;
	json_t *fields;
	size_t n = 0;
	int i;

	text[0] = '\0';
	switch (r->decoder) {
	case MMIOTRAP_DECODER_NVME:
		snprintf(text, size, "  nvme bar0 0x%llx dstrd %u queues %u",
			 (unsigned long long)p->nvme.bar0, p->nvme.dstrd, p->nvme.queues);
		return json_pack("{s:I, s:i, s:i}", "bar0", (json_int_t)p->nvme.bar0,
				 "dstrd", p->nvme.dstrd, "queues", p->nvme.queues);
	case MMIOTRAP_DECODER_VIRTIO_PCI:
		snprintf(text, size, "  virtio-pci notify-base 0x%llx multiplier %u queues %u%s%s",
			 (unsigned long long)p->virtio.notify_base, p->virtio.multiplier,
			 p->virtio.queues,
			 p->virtio.flags & MMIOTRAP_VIRTIO_NOTIFICATION_DATA ? " notification-data" : "",
			 p->virtio.flags & MMIOTRAP_VIRTIO_PACKED ? " packed" : "");
		return json_pack("{s:I, s:i, s:i, s:b, s:b}",
				 "notify_base", (json_int_t)p->virtio.notify_base,
				 "multiplier", p->virtio.multiplier, "queues", p->virtio.queues,
				 "notification_data",
				 !!(p->virtio.flags & MMIOTRAP_VIRTIO_NOTIFICATION_DATA),
				 "packed", !!(p->virtio.flags & MMIOTRAP_VIRTIO_PACKED));
	case MMIOTRAP_DECODER_VIRTIO_LEGACY:
		snprintf(text, size, "  virtio-legacy queues %u", p->legacy.queues);
		return json_pack("{s:i}", "queues", p->legacy.queues);
	case MMIOTRAP_DECODER_BITFIELD:
		fields = json_array();
		n = snprintf(text, size, "  bitfield");
		for (i = 0; i < MMIOTRAP_FIELDS; i++) {
			if (!p->bitfield.mask[i])
				continue;
			json_array_append_new(fields, json_pack("{s:s, s:I, s:i}",
				"name", p->bitfield.name[i], "mask", (json_int_t)p->bitfield.mask[i],
				"shift", p->bitfield.shift[i]));
			n += snprintf(text + n, size - n, " %s:0x%llx:%u", p->bitfield.name[i],
				      (unsigned long long)p->bitfield.mask[i], p->bitfield.shift[i]);
		}
		return json_pack("{s:o}", "fields", fields);
	default:
		return NULL;
	}
}

static json_t *region_fields_json(struct mmiotrap *mt, const struct mmiotrap_region *r)
{
	return json_pack("{s:i, s:s, s:I, s:s, s:I, s:I, s:o, s:o, s:o, s:s, s:s, s:b, s:b}",
			 "id", r->id, "name", r->name, "vm", (json_int_t)r->vm,
			 "bus", bus_str(r->bus), "addr", (json_int_t)r->addr,
			 "len", (json_int_t)r->len, "widths", widths_json(r->widths),
			 "fast_widths", widths_json(r->fast_widths),
			 "want_fast", widths_json(r->want_fast),
			 "decoder", mmiotrap_decoder_str(r->decoder),
			 "action", r->action & MMIOTRAP_ACTION_RING ? "ring" : "count",
			 "policy", !!(r->flags & MMIOTRAP_REGION_POLICY),
			 "stale", mmiotrap_region_stale(mt, r));
}

static json_t *region_json(struct mmiotrap *mt, const struct mmiotrap_region *r)
{
	char text[160];
	json_t *obj, *params = params_json(r, text, sizeof(text));

	obj = region_fields_json(mt, r);
	if (params)
		json_object_set_new(obj, "params", params);
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
	json_decref(params_json(r, params, sizeof(params)));
	printf("%u: name %s  vm %u  %s 0x%llx len 0x%llx  widths %s%s%s%s%s\n", r->id,
	       *r->name ? r->name : "-", r->vm, bus_str(r->bus), (unsigned long long)r->addr,
	       (unsigned long long)r->len, widths, fast, params,
	       r->flags & MMIOTRAP_REGION_POLICY ? "  policy" : "",
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

/* "NAME:MASK:SHIFT" into the first free field. */
static int parse_field(const struct cli *cli, const char *arg, struct mmiotrap_bitfield_params *b)
{
	const char *mask_s, *shift_s;
	__u64 mask, shift;
	size_t name_len;
	int i;

	mask_s = arg ? strchr(arg, ':') : NULL;
	shift_s = mask_s ? strchr(mask_s + 1, ':') : NULL;
	if (!shift_s || mask_s == arg)
		return cli_error(cli, "bad --field '%s': want NAME:MASK:SHIFT", arg ? arg : "");
	if (!parse_u64(mask_s + 1, shift_s - mask_s - 1, &mask) || !mask)
		return cli_error(cli, "bad --field '%s': want NAME:MASK:SHIFT, MASK not 0", arg);
	if (!parse_u64(shift_s + 1, strlen(shift_s + 1), &shift) || shift > 63)
		return cli_error(cli, "bad --field '%s': SHIFT is 0 to 63", arg);
	name_len = mask_s - arg;
	if (!isalpha((unsigned char)*arg) || strcspn(arg, ":") != strspn(arg,
	    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-"))
		return cli_error(cli, "bad --field '%s': NAME is a letter, then letters, digits, '_', '.', '-'",
				 arg);
	if (name_len >= sizeof(b->name[0]))
		return cli_error(cli, "bad --field '%s': name longer than %zu characters", arg,
				 sizeof(b->name[0]) - 1);
	for (i = 0; i < MMIOTRAP_FIELDS && b->mask[i]; i++)
		;
	if (i == MMIOTRAP_FIELDS)
		return cli_error(cli, "too many --field: %d at most", MMIOTRAP_FIELDS);
	b->mask[i] = mask;
	b->shift[i] = shift;
	memcpy(b->name[i], arg, name_len);
	b->name[i][name_len] = '\0';
	return 0;
}

#define D(x)	(1U << MMIOTRAP_DECODER_##x)

/* The options of the decoders, and which decoders take each. */
enum { OPT_BAR0, OPT_DSTRD, OPT_QUEUES, OPT_NOTIFY_BASE, OPT_MULTIPLIER,
       OPT_NOTIFICATION_DATA, OPT_PACKED, OPT_FIELD, NR_DECODER_OPTS };

static const struct decoder_option {
	const char *name;
	__u32 decoders;
	bool flag;		/* takes no value */
} decoder_options[NR_DECODER_OPTS] = {
	[OPT_BAR0]		= { "--bar0", D(NVME) },
	[OPT_DSTRD]		= { "--dstrd", D(NVME) },
	[OPT_QUEUES]		= { "--queues", D(NVME) | D(VIRTIO_PCI) | D(VIRTIO_LEGACY) },
	[OPT_NOTIFY_BASE]	= { "--notify-base", D(VIRTIO_PCI) },
	[OPT_MULTIPLIER]	= { "--multiplier", D(VIRTIO_PCI) },
	[OPT_NOTIFICATION_DATA]	= { "--notification-data", D(VIRTIO_PCI), true },
	[OPT_PACKED]		= { "--packed", D(VIRTIO_PCI), true },
	[OPT_FIELD]		= { "--field", D(BITFIELD) },
};

/* What the decoder options said, before the decoder is known. */
struct decoder_args {
	__u32 given;		/* 1 << OPT_* */
	__u64 val[NR_DECODER_OPTS];
	struct mmiotrap_bitfield_params fields;
};

static int decoder_option(const char *word)
{
	int i;

	for (i = 0; i < NR_DECODER_OPTS; i++)
		if (cli_is(word, decoder_options[i].name))
			return i;
	return -1;
}

/* One decoder option; a flag gives back the word it did not take. */
static int parse_decoder_option(struct cli *cli, int opt, const char *val, struct decoder_args *a)
{
	a->given |= 1U << opt;
	if (decoder_options[opt].flag) {
		if (val) {
			cli->argc++;
			cli->argv--;
		}
		return 0;
	}
	if (opt == OPT_FIELD)
		return parse_field(cli, val, &a->fields);
	if (cli_u64(cli, decoder_options[opt].name, val, &a->val[opt]))
		return 1;
	if (opt != OPT_BAR0 && opt != OPT_NOTIFY_BASE && a->val[opt] > 0xffffffff)
		return cli_error(cli, "bad %s '%s': too large", decoder_options[opt].name, val);
	return 0;
}

/* The options of the decoder and no other; the ones it needs, and sane. */
static int check_decoder_args(const struct cli *cli, enum mmiotrap_decoder d,
			      const struct decoder_args *a)
{
	static const __u32 needs[MMIOTRAP_DECODER_MAX] = {
		[MMIOTRAP_DECODER_NVME]		 = 1U << OPT_BAR0 | 1U << OPT_QUEUES,
		[MMIOTRAP_DECODER_VIRTIO_PCI]	 = 1U << OPT_NOTIFY_BASE | 1U << OPT_QUEUES,
		[MMIOTRAP_DECODER_VIRTIO_LEGACY] = 1U << OPT_QUEUES,
		[MMIOTRAP_DECODER_BITFIELD]	 = 1U << OPT_FIELD,
	};
	const char *name = mmiotrap_decoder_str(d);
	int i;

	for (i = 0; i < NR_DECODER_OPTS; i++) {
		if ((a->given & 1U << i) && !(decoder_options[i].decoders & 1U << d))
			return cli_error(cli, "%s is no option of --decoder %s", decoder_options[i].name,
					 name);
		if ((needs[d] & 1U << i) && !(a->given & 1U << i))
			return cli_error(cli, "--decoder %s needs %s", name, decoder_options[i].name);
	}
	if ((a->given & 1U << OPT_QUEUES) &&
	    (!a->val[OPT_QUEUES] || a->val[OPT_QUEUES] > (d == MMIOTRAP_DECODER_VIRTIO_PCI ? 0xffff : 0x10000)))
		return cli_error(cli, "bad --queues %llu for --decoder %s",
				 (unsigned long long)a->val[OPT_QUEUES], name);
	if (a->val[OPT_DSTRD] > 15)
		return cli_error(cli, "bad --dstrd %llu: CAP.DSTRD is 0 to 15",
				 (unsigned long long)a->val[OPT_DSTRD]);
	return 0;
}

static void decoder_params(enum mmiotrap_decoder d, const struct decoder_args *a,
			   union mmiotrap_decoder_params *p)
{
	switch (d) {
	case MMIOTRAP_DECODER_NVME:
		p->nvme.bar0 = a->val[OPT_BAR0];
		p->nvme.dstrd = a->val[OPT_DSTRD];
		p->nvme.queues = a->val[OPT_QUEUES];
		break;
	case MMIOTRAP_DECODER_VIRTIO_PCI:
		p->virtio.notify_base = a->val[OPT_NOTIFY_BASE];
		p->virtio.multiplier = a->val[OPT_MULTIPLIER];
		p->virtio.queues = a->val[OPT_QUEUES];
		p->virtio.flags = (a->given & 1U << OPT_NOTIFICATION_DATA ?
				   MMIOTRAP_VIRTIO_NOTIFICATION_DATA : 0) |
				  (a->given & 1U << OPT_PACKED ? MMIOTRAP_VIRTIO_PACKED : 0);
		break;
	case MMIOTRAP_DECODER_VIRTIO_LEGACY:
		p->legacy.queues = a->val[OPT_QUEUES];
		break;
	case MMIOTRAP_DECODER_BITFIELD:
		p->bitfield = a->fields;
		break;
	default:
		break;
	}
}

static int parse_add(struct cli *cli, struct mmiotrap_region_opts *o)
{
	bool have_vm = false, have_addr = false, have_len = false;
	struct decoder_args dec = {};
	const char *word, *val;
	int d, opt;
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
		} else if (cli_is(word, "--decoder")) {
			d = mmiotrap_decoder_by_name(val);
			if (d < 0)
				return cli_error(cli, "bad --decoder '%s': raw, nvme, virtio-pci, virtio-legacy or bitfield",
						 val ? val : "");
			o->decoder = d;
		} else if ((opt = decoder_option(word)) >= 0) {
			if (parse_decoder_option(cli, opt, val, &dec))
				return 1;
		} else {
			return cli_error(cli, "unknown argument '%s' to region add", word);
		}
	}
	if (!have_vm || !have_addr || !have_len)
		return cli_error(cli, "region add needs --vm PID, --mmio ADDR or --pio PORT, and --len BYTES");
	if (check_decoder_args(cli, o->decoder, &dec))
		return 1;
	decoder_params(o->decoder, &dec, &o->params);
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
		if (o->name)
			return cli_error(cli, "bad --name '%s': use letters, digits, '_', '.', '-', starting with a letter",
					 o->name);
		return cli_error(cli, "bad region: %s", strerror(EINVAL));
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
	case -ENOBUFS:
		return cli_error(cli, "the address index is full (%d blocks)", MMIOTRAP_INDEX_ENTRIES);
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
	/* Its ioeventfds would go on completing writes that nobody then sees. */
	if (!err && r.fast_widths && !mmiotrap_region_stale(mt, &r))
		err = cli_error(cli, "region '%s' is fast: its VMM (pid %u) owns the ioeventfds and must let it go (mmiotrap_fast_del)",
				arg, r.vm);
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
