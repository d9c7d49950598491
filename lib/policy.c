// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Policy files, read with libyaml's document API and checked against the
 * schema of docs/policy.md. Every problem is kept with its line, so that
 * one run reports them all. Nothing here needs the kernel or root.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>
#include "policy.h"

#define BIT(n)		(1U << (n))
/* needed_by of a key every mapping of its kind must have. */
#define ALWAYS		(~0U)
#define PID_MAX		0x7fffffff

/*
 * The work a file can cause is bounded: its size, its nesting (libyaml's
 * scanner is quadratic in it), its aliases and what they expand to (an
 * 18 KB file of aliases made a million regions), and its regions, which
 * the instance holds no more of anyway.
 */
#define MAX_BYTES	(8 << 20)
#define MAX_DEPTH	32
#define MAX_ALIASES	256
#define MAX_NODES	(1 << 20)

/* What a node holds. A plain scalar is typed by its text, as YAML does. */
enum type { T_NULL, T_BOOL, T_NUMBER, T_STRING, T_LIST, T_MAPPING };

static const char *const type_names[] = {
	[T_NULL] = "null", [T_BOOL] = "a bool", [T_NUMBER] = "a number",
	[T_STRING] = "a string", [T_LIST] = "a list", [T_MAPPING] = "a mapping",
};

struct parser;

/* A key a mapping may have, and what parses its value into the mapping's object. */
struct key {
	const char *name;
	bool (*parse)(struct parser *ps, void *obj, const char *key, yaml_node_t *val);
	unsigned int decoders;	/* a parameter of these decoders only; 0: of any */
	unsigned int needed_by;	/* the decoders that need it, or ALWAYS */
};

struct parser {
	struct mmiotrap_policy *p;
	yaml_document_t doc;
	bool oom;
	bool full;	/* MMIOTRAP_POLICY_MAX_REGIONS parsed: said once */
	struct key region_keys[32];	/* region_keys, then the decoder table's; {} ends them */
};

/* One mapping being parsed against its keys. */
struct walk {
	const struct key *keys;
	void *obj;
	const char *what;	/* "a region": where an unknown key was found */
	const char *decoder;	/* a region's decoder; NULL: none or not known */
	unsigned int dec_bit;
	unsigned int parsed;	/* keys parsed before the walk */
	unsigned int given;	/* keys present, a bit each by their place in keys */
	unsigned int ok;	/* keys whose value parsed without a problem */
};

/*
 * *@arr of @n elements with room for one more, zeroed; NULL when out of
 * memory. The room doubles at each power of two: a realloc that always
 * copies, as ASan's does, would make a file of many regions quadratic.
 */
static void *grow_array(void *arr, int n, size_t size)
{
	char *a = arr;

	if (!(n & (n - 1))) {
		a = realloc(arr, (n ? 2 * (size_t)n : 1) * size);
		if (!a)
			return NULL;
	}
	memset(a + n * size, 0, size);
	return a;
}

static void *grow(struct parser *ps, void *arr, int n, size_t size)
{
	void *a = grow_array(arr, n, size);

	if (!a)
		ps->oom = true;
	return a;
}

struct mmiotrap_policy_problem *policy_vproblem(struct mmiotrap_policy *p, int line,
						const char *key, const char *fmt, va_list ap)
{
	struct mmiotrap_policy_problem *e;

	e = grow_array(p->problems, p->nproblems, sizeof(*e));
	if (!e)
		return NULL;
	p->problems = e;
	e += p->nproblems++;
	e->file = p->file;
	e->line = line;
	snprintf(e->key, sizeof(e->key), "%s", key);
	vsnprintf(e->message, sizeof(e->message), fmt, ap);
	return e;
}

static struct mmiotrap_policy_problem *verror(struct parser *ps, int line, const char *key,
					      const char *fmt, va_list ap)
{
	struct mmiotrap_policy_problem *e = policy_vproblem(ps->p, line, key, fmt, ap);

	ps->oom |= !e;
	return e;
}

static __attribute__((format(printf, 4, 5)))
void error_line(struct parser *ps, int line, const char *key, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	verror(ps, line, key, fmt, ap);
	va_end(ap);
}

/* Not valid YAML: no key to name. */
static __attribute__((format(printf, 3, 4)))
void syntax_error(struct parser *ps, int line, const char *fmt, ...)
{
	struct mmiotrap_policy_problem *e;
	va_list ap;

	va_start(ap, fmt);
	e = verror(ps, line, "", fmt, ap);
	va_end(ap);
	if (e)
		e->syntax = true;
}

static int line_of(const yaml_node_t *n)
{
	return n->start_mark.line + 1;
}

static __attribute__((format(printf, 4, 5)))
bool error_at(struct parser *ps, const yaml_node_t *n, const char *key, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	verror(ps, line_of(n), key, fmt, ap);
	va_end(ap);
	return false;
}

static yaml_node_t *node(struct parser *ps, int index)
{
	return yaml_document_get_node(&ps->doc, index);
}

static const char *text(const yaml_node_t *n)
{
	return (const char *)n->data.scalar.value;
}

static bool is_word(const char *s, const char *const *words)
{
	for (; *words; words++)
		if (!strcmp(s, *words))
			return true;
	return false;
}

/* What YAML would read as a number, even one mmiotrap refuses: "-1", "1.5", "010". */
static bool looks_numeric(const char *s)
{
	const char *digits = s + (*s == '-' || *s == '+');
	char *end;

	digits += *digits == '.';
	if (!isdigit((unsigned char)*digits))
		return false;
	strtod(s, &end);
	if (!*end)
		return true;
	strtoull(s, &end, 0);
	return !*end;
}

static const char *const bools[] = { "true", "True", "TRUE", "false", "False", "FALSE", NULL };

static enum type type_of(const yaml_node_t *n)
{
	static const char *const nulls[] = { "", "~", "null", "Null", "NULL", NULL };
	const char *s;

	if (n->type == YAML_SEQUENCE_NODE)
		return T_LIST;
	if (n->type == YAML_MAPPING_NODE)
		return T_MAPPING;
	if (n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return T_STRING;
	s = text(n);
	if (is_word(s, nulls))
		return T_NULL;
	if (is_word(s, bools))
		return T_BOOL;
	return looks_numeric(s) ? T_NUMBER : T_STRING;
}

/*
 * A value's type is the one its key wants, whatever its tag or quoting:
 * "0x10" is a number where a number is wanted, null a name where a name
 * is. Only the shape (scalar, list, mapping) must match.
 */
static bool want(struct parser *ps, const yaml_node_t *n, const char *key, enum type t)
{
	enum type got = type_of(n);

	if (got == t || (n->type == YAML_SCALAR_NODE && t != T_LIST && t != T_MAPPING))
		return true;
	return error_at(ps, n, key, "want %s, got %s", type_names[t], type_names[got]);
}

static bool get_number(struct parser *ps, const yaml_node_t *n, const char *key,
		       __u64 min, __u64 max, __u64 *val)
{
	const char *s = text(n);
	int err;

	if (!want(ps, n, key, T_NUMBER))
		return false;
	err = strlen(s) == n->data.scalar.length ? mmiotrap_parse_u64(s, ~0ULL, val) : -EINVAL;
	if (err == -EINVAL)
		return error_at(ps, n, key, "bad number '%s': want decimal or 0x hex, 0 or more", s);
	if (err)
		return error_at(ps, n, key, "%s does not fit in 64 bits", s);
	if (*val < min)
		return error_at(ps, n, key, "must be at least %llu", min);
	if (*val > max)
		return error_at(ps, n, key, max < 0x10000 ? "must be at most %llu" :
				"must be at most 0x%llx", max);
	return true;
}

static const char *get_string(struct parser *ps, const yaml_node_t *n, const char *key)
{
	if (!want(ps, n, key, T_STRING))
		return NULL;
	if (strlen(text(n)) != n->data.scalar.length) {
		error_at(ps, n, key, "holds a NUL character");
		return NULL;
	}
	return text(n);
}

/* One of @words, NULL-terminated, @list naming them; its place, or -1. */
static int get_choice(struct parser *ps, const yaml_node_t *n, const char *key,
		      const char *const *words, const char *list)
{
	const char *s = get_string(ps, n, key);
	int i;

	if (!s)
		return -1;
	for (i = 0; words[i]; i++)
		if (!strcmp(s, words[i]))
			return i;
	error_at(ps, n, key, "want %s, got '%s'", list, s);
	return -1;
}

static bool get_bool(struct parser *ps, const yaml_node_t *n, const char *key, bool *val)
{
	*val = false;
	if (n->type != YAML_SCALAR_NODE || !is_word(text(n), bools))
		return error_at(ps, n, key, "want a bool, got %s", type_names[type_of(n)]);
	*val = tolower((unsigned char)text(n)[0]) == 't';
	return true;
}

/* Names of regions and bitfield fields: what libmmiotrap accepts. */
static bool get_name(struct parser *ps, const yaml_node_t *n, const char *key,
		     char *buf, size_t size)
{
	const char *s = get_string(ps, n, key);

	if (!s)
		return false;
	if (strlen(s) >= size)
		return error_at(ps, n, key, "'%s' is longer than %zu characters", s, size - 1);
	if (!mmiotrap_valid_name(s))
		return error_at(ps, n, key,
				"bad name '%s': use letters, digits, '_', '.', '-', starting with a letter",
				s);
	strcpy(buf, s);
	return true;
}

static int find_key(const struct key *keys, const char *name)
{
	int i;

	for (i = 0; keys[i].name; i++)
		if (!strcmp(keys[i].name, name))
			return i;
	return -1;
}

static void walk_pair(struct parser *ps, struct walk *w, yaml_node_t *k, yaml_node_t *v)
{
	const struct key *key;
	const char *name;
	int i;

	if (k->type != YAML_SCALAR_NODE) {
		error_at(ps, k, "?", "a key must be a scalar, not %s", type_names[type_of(k)]);
		return;
	}
	name = text(k);
	i = find_key(w->keys, name);
	if (i < 0) {
		error_at(ps, k, name, "unknown key in %s", w->what);
		return;
	}
	key = &w->keys[i];
	if (w->given & BIT(i)) {
		error_at(ps, k, name, "given twice");
		return;
	}
	w->given |= BIT(i);
	if (key->decoders && !(key->decoders & w->dec_bit))
		error_at(ps, k, name, "not a parameter of decoder %s", w->decoder);
	else if (!(w->parsed & BIT(i)) && key->parse(ps, w->obj, name, v))
		w->ok |= BIT(i);
}

static void walk(struct parser *ps, yaml_node_t *map, struct walk *w)
{
	yaml_node_pair_t *pair;

	for (pair = map->data.mapping.pairs.start; pair < map->data.mapping.pairs.top; pair++)
		walk_pair(ps, w, node(ps, pair->key), node(ps, pair->value));
}

/* The keys @map needs that it lacks; @what names it. */
static void missing(struct parser *ps, yaml_node_t *map, const struct walk *w, const char *what)
{
	const struct key *k;

	for (k = w->keys; k->name; k++) {
		if (w->given & BIT(k - w->keys))
			continue;
		if (k->needed_by == ALWAYS)
			error_at(ps, map, k->name, "missing from %s", what);
		else if (w->decoder && (k->needed_by & w->dec_bit))
			error_at(ps, map, k->name, "missing from %s (decoder %s needs it)",
				 what, w->decoder);
	}
}

/* Region keys, by their place in region_keys. */
enum { K_NAME, K_BUS, K_ADDR, K_LEN, K_WIDTHS, K_MODE, K_DECODER, K_DEVICE, K_DOORBELLS };

static bool parse_name(struct parser *ps, void *obj, const char *key, yaml_node_t *v)
{
	struct policy_region *r = obj;

	r->name_line = line_of(v);
	return get_name(ps, v, key, r->name, sizeof(r->name));
}

static bool parse_bus(struct parser *ps, void *obj, const char *key, yaml_node_t *v)
{
	static const char *const buses[] = {
		[MMIOTRAP_BUS_MMIO] = "mmio", [MMIOTRAP_BUS_PIO] = "pio", NULL,
	};
	struct policy_region *r = obj;
	int bus = get_choice(ps, v, key, buses, "mmio or pio");

	if (bus < 0)
		return false;
	r->want.bus = bus;
	return true;
}

static bool parse_addr(struct parser *ps, void *obj, const char *key, yaml_node_t *v)
{
	struct policy_region *r = obj;

	r->addr_line = line_of(v);
	return get_number(ps, v, key, 0, ~0ULL, &r->want.addr);
}

static bool parse_len(struct parser *ps, void *obj, const char *key, yaml_node_t *v)
{
	struct policy_region *r = obj;

	r->len_line = line_of(v);
	return get_number(ps, v, key, 1, ~0ULL, &r->want.len);
}

static bool parse_widths(struct parser *ps, void *obj, const char *key, yaml_node_t *v)
{
	struct policy_region *r = obj;
	yaml_node_item_t *it;
	yaml_node_t *n;
	char num[24];
	bool ok = true;
	__u8 one;
	__u64 w;

	if (!want(ps, v, key, T_LIST))
		return false;
	if (v->data.sequence.items.start == v->data.sequence.items.top)
		return error_at(ps, v, key, "want at least one of 1, 2, 4, 8");
	for (it = v->data.sequence.items.start; it < v->data.sequence.items.top; it++) {
		n = node(ps, *it);
		if (!get_number(ps, n, key, 0, ~0ULL, &w))
			ok = false;
		else if (snprintf(num, sizeof(num), "%llu", (unsigned long long)w),
			 mmiotrap_parse_widths(num, &one, NULL))
			ok = error_at(ps, n, key, "%llu is not a width: want 1, 2, 4 or 8", w);
		else if (r->want.widths & w)
			ok = error_at(ps, n, key, "width %llu given twice", w);
		else
			r->want.widths |= w;
	}
	return ok;
}

static bool parse_mode(struct parser *ps, void *obj, const char *key, yaml_node_t *v)
{
	static const char *const modes[] = { "slow", "fast", NULL };
	struct policy_region *r = obj;
	int mode = get_choice(ps, v, key, modes, "slow or fast");

	r->fast = mode == 1;
	return mode >= 0;
}

static bool parse_decoder(struct parser *ps, void *obj, const char *key, yaml_node_t *v)
{
	struct policy_region *r = obj;
	const char *s = get_string(ps, v, key);
	int d;

	if (!s)
		return false;
	d = mmiotrap_decoder_by_name(s);
	if (d < 0)
		return error_at(ps, v, key,
				"want raw, nvme, virtio-pci, virtio-legacy or bitfield, got '%s'", s);
	r->want.decoder = d;
	return true;
}

static bool parse_device(struct parser *ps, void *obj, const char *key, yaml_node_t *v)
{
	struct policy_region *r = obj;
	const char *s = get_string(ps, v, key);

	if (!s)
		return false;
	if (!*s)
		return error_at(ps, v, key, "empty");
	r->device = strdup(s);
	ps->oom |= !r->device;
	return r->device;
}

/* Where a region's doorbells come from: only what discovery finds, for now. */
static bool parse_doorbells(struct parser *ps, void *obj, const char *key, yaml_node_t *v)
{
	static const char *const sources[] = { "ioeventfds", NULL };
	struct policy_region *r = obj;

	r->ioeventfds = get_choice(ps, v, key, sources, "ioeventfds") == 0;
	return r->ioeventfds;
}

/* A decoder's number or flag, by its row in the decoder table. */
static bool parse_param(struct parser *ps, void *obj, const char *key, yaml_node_t *v)
{
	struct policy_region *r = obj;
	const struct mmiotrap_decoder_param *param = mmiotrap_decoder_param(r->want.decoder, key);
	char msg[128];
	bool on;
	__u64 n;

	if (!param)
		return false;
	if (param->kind == MMIOTRAP_PARAM_FLAG) {
		if (!get_bool(ps, v, key, &on))
			return false;
		n = on;
	} else if (!get_number(ps, v, key, 0, ~0ULL, &n)) {
		return false;
	}
	if (param_problem(param, n, msg, sizeof(msg)))
		return error_at(ps, v, key, "%s", msg);
	param_set(&r->want.params, param, n);
	return true;
}

struct field {
	struct mmiotrap_bitfield_params *b;
	int i;
};

static bool parse_field_name(struct parser *ps, void *obj, const char *key, yaml_node_t *v)
{
	struct field *f = obj;
	int j;

	if (!get_name(ps, v, key, f->b->name[f->i], sizeof(f->b->name[f->i])))
		return false;
	/* The fields are members of each event's JSON object: one each (decoder.c). */
	for (j = 0; j < f->i; j++)
		if (!strcmp(f->b->name[j], f->b->name[f->i]))
			return error_at(ps, v, key, "field '%s' given twice", f->b->name[j]);
	return true;
}

static bool parse_field_mask(struct parser *ps, void *obj, const char *key, yaml_node_t *v)
{
	struct field *f = obj;

	return get_number(ps, v, key, 1, ~0ULL, &f->b->mask[f->i]);
}

static bool parse_field_shift(struct parser *ps, void *obj, const char *key, yaml_node_t *v)
{
	struct field *f = obj;
	__u64 n;

	if (!get_number(ps, v, key, 0, 63, &n))
		return false;
	f->b->shift[f->i] = n;
	return true;
}

static const struct key field_keys[] = {
	{ "name",	parse_field_name,	0, ALWAYS },
	{ "mask",	parse_field_mask,	0, ALWAYS },
	{ "shift",	parse_field_shift,	0, 0 },
	{}
};

static bool parse_fields(struct parser *ps, void *obj, const char *key, yaml_node_t *v)
{
	struct policy_region *r = obj;
	struct field f = { .b = &r->want.params.bitfield };
	struct walk w = { .keys = field_keys, .obj = &f, .what = "a field", .dec_bit = ALWAYS };
	yaml_node_item_t *items;
	yaml_node_t *map;
	int n;

	if (!want(ps, v, key, T_LIST))
		return false;
	items = v->data.sequence.items.start;
	n = v->data.sequence.items.top - items;
	if (n < 1 || n > MMIOTRAP_FIELDS)
		return error_at(ps, v, key, "want 1 to %d fields, got %d", MMIOTRAP_FIELDS, n);
	for (f.i = 0; f.i < n; f.i++) {
		map = node(ps, items[f.i]);
		if (!want(ps, map, key, T_MAPPING))
			continue;
		w.given = w.ok = 0;
		walk(ps, map, &w);
		missing(ps, map, &w, "a field");
	}
	return true;
}

static const struct key region_keys[] = {
	[K_NAME]	= { "name",		parse_name,		0, ALWAYS },
	[K_BUS]		= { "bus",		parse_bus,		0, 0 },
	[K_ADDR]	= { "addr",		parse_addr,		0, ALWAYS },
	[K_LEN]		= { "len",		parse_len,		0, ALWAYS },
	[K_WIDTHS]	= { "widths",		parse_widths,		0, 0 },
	[K_MODE]	= { "mode",		parse_mode,		0, 0 },
	[K_DECODER]	= { "decoder",		parse_decoder,		0, 0 },
	[K_DEVICE]	= { "device",		parse_device,		0, 0 },
	[K_DOORBELLS]	= { "doorbells",	parse_doorbells,	0, 0 },
};

#define NR_REGION_KEYS	(sizeof(region_keys) / sizeof(region_keys[0]))

/* The keys of the decoders' parameters, from the decoder table, after region_keys. */
static void add_param_keys(struct parser *ps)
{
	const struct mmiotrap_decoder_info *info;
	const struct mmiotrap_decoder_param *param;
	struct key *k;
	int d, i, j, n;

	memcpy(ps->region_keys, region_keys, sizeof(region_keys));
	n = NR_REGION_KEYS;
	for (d = 0; (info = mmiotrap_decoder_info(d)); d++) {
		for (i = 0; i < info->nparams; i++) {
			param = &info->params[i];
			j = find_key(ps->region_keys, param->name);
			k = &ps->region_keys[j < 0 ? n++ : j];
			if (j < 0) {
				k->name = param->name;
				k->parse = param->kind == MMIOTRAP_PARAM_FIELDS ? parse_fields :
					   parse_param;
			}
			k->decoders |= BIT(d);
			k->needed_by |= param->required ? BIT(d) : 0;
		}
	}
}

/* The decoder's value: which parameters a region takes depends on it. */
static yaml_node_t *decoder_node(struct parser *ps, yaml_node_t *map)
{
	yaml_node_pair_t *pair;
	yaml_node_t *k;

	for (pair = map->data.mapping.pairs.start; pair < map->data.mapping.pairs.top; pair++) {
		k = node(ps, pair->key);
		if (k->type == YAML_SCALAR_NODE && !strcmp(text(k), "decoder"))
			return node(ps, pair->value);
	}
	return NULL;
}

/*
 * A range that leaves its bus is refused. A region without a valid range
 * gets len 0, so that no overlap is reported against it.
 */
static void check_range(struct parser *ps, struct policy_region *r, const struct walk *w)
{
	struct mmiotrap_region *o = &r->want;
	unsigned int need = BIT(K_ADDR) | BIT(K_LEN);
	char msg[128];

	if ((w->ok & need) != need || (w->given & ~w->ok & BIT(K_BUS))) {
		o->len = 0;
		return;
	}
	switch (range_problem(o->bus, o->addr, o->len, msg, sizeof(msg))) {
	case 0:
		return;
	case -EDOM:
		error_line(ps, r->addr_line, "addr", "%s", msg);
		break;
	default:
		error_line(ps, r->len_line, "len", "%s", msg);
	}
	o->len = 0;
}

/*
 * A region naming a device takes its range from the device, and the
 * decoder's parameters too: apply asks the VM. Those the file gives anyway
 * are refused, not silently overridden.
 */
static void device_keys(struct parser *ps, yaml_node_t *map, struct policy_region *r,
			const struct walk *w)
{
	int i;

	for (i = 0; w->keys[i].name; i++) {
		if (!(w->given & BIT(i)) || (i != K_ADDR && i != K_LEN && !w->keys[i].decoders))
			continue;
		error_at(ps, map, w->keys[i].name, "not with device: the device gives it");
	}
	if (!(w->given & BIT(K_NAME)))
		error_at(ps, map, "name", "missing from a region");
	if (r->decoder_given && r->want.decoder == MMIOTRAP_DECODER_BITFIELD)
		error_at(ps, map, "decoder", "a device gives no bitfield: want nvme, virtio-pci, virtio-legacy or raw");
	r->want.len = 0;
}

/*
 * A region of the VM's ioeventfds: apply finds them. addr and len, both or
 * neither, are the range they must lie in; bus, if given, their bus. They
 * are kept apart from want, which is the file's own range: the regions
 * apply makes are checked for overlap then.
 */
static void doorbells_keys(struct parser *ps, yaml_node_t *map, struct policy_region *r,
			   const struct walk *w, const char *what)
{
	unsigned int range = BIT(K_ADDR) | BIT(K_LEN);
	struct walk need = *w;

	r->bus_given = w->given & BIT(K_BUS);
	if ((w->given & range) && (w->given & range) != range)
		error_at(ps, map, w->given & BIT(K_ADDR) ? "len" : "addr",
			 "missing from %s (doorbells in a range need addr and len)", what);
	else if (w->given & range)
		check_range(ps, r, w);
	r->in_addr = r->want.addr;
	r->in_len = r->want.len;
	r->want.addr = 0;
	r->want.len = 0;
	/* The range is optional here; the decoder's parameters are not. */
	need.given |= range;
	missing(ps, map, &need, what);
}

static void parse_region(struct parser *ps, int vm, yaml_node_t *map)
{
	struct mmiotrap_policy *p = ps->p;
	struct policy_region *r;
	struct walk w = { .keys = ps->region_keys, .what = "a region", .dec_bit = ALWAYS };
	char what[64] = "a region";
	yaml_node_t *dec;

	if (p->nregions == MMIOTRAP_POLICY_MAX_REGIONS) {
		if (!ps->full)
			error_at(ps, map, "regions", "more than %d regions: a policy holds no more",
				 MMIOTRAP_POLICY_MAX_REGIONS);
		ps->full = true;
		return;
	}
	r = grow(ps, p->regions, p->nregions, sizeof(*r));
	if (!r)
		return;
	p->regions = r;
	r += p->nregions++;
	r->vm = vm;
	r->line = line_of(map);
	w.obj = r;
	dec = decoder_node(ps, map);
	w.parsed = dec ? BIT(K_DECODER) : 0;
	if (!dec || parse_decoder(ps, r, "decoder", dec)) {
		w.decoder = mmiotrap_decoder_str(r->want.decoder);
		w.dec_bit = BIT(r->want.decoder);
	}
	walk(ps, map, &w);
	if (*r->name)
		snprintf(what, sizeof(what), "region '%s'", r->name);
	r->decoder_given = w.given & BIT(K_DECODER);
	if (w.given & BIT(K_DEVICE)) {
		/* With doorbells: the ioeventfds in the device's region. */
		device_keys(ps, map, r, &w);
		return;
	}
	if (w.given & BIT(K_DOORBELLS)) {
		doorbells_keys(ps, map, r, &w, what);
		return;
	}
	missing(ps, map, &w, what);
	check_range(ps, r, &w);
}

static bool parse_vm_name(struct parser *ps, void *obj, const char *key, yaml_node_t *v)
{
	struct policy_vm *vm = obj;
	const char *s = get_string(ps, v, key);

	if (!s)
		return false;
	if (!*s)
		return error_at(ps, v, key, "empty");
	vm->name = strdup(s);
	ps->oom |= !vm->name;
	return vm->name;
}

static bool parse_vm_pid(struct parser *ps, void *obj, const char *key, yaml_node_t *v)
{
	struct policy_vm *vm = obj;
	__u64 n;

	if (!get_number(ps, v, key, 1, PID_MAX, &n))
		return false;
	vm->pid = n;
	return true;
}

static bool parse_vm_qmp(struct parser *ps, void *obj, const char *key, yaml_node_t *v)
{
	struct policy_vm *vm = obj;
	const char *s = get_string(ps, v, key);

	if (!s)
		return false;
	if (!*s)
		return error_at(ps, v, key, "empty");
	vm->qmp = strdup(s);
	ps->oom |= !vm->qmp;
	return vm->qmp;
}

static const struct key vm_keys[] = {
	{ "name",	parse_vm_name,	0, 0 },
	{ "pid",	parse_vm_pid,	0, 0 },
	{ "qmp",	parse_vm_qmp,	0, 0 },
	{}
};

/* The vm of a vms entry: its obj is the index of the VM. */
static bool parse_entry_vm(struct parser *ps, void *obj, const char *key, yaml_node_t *v)
{
	struct policy_vm *vm = &ps->p->vms[*(int *)obj];
	struct walk w = { .keys = vm_keys, .obj = vm, .what = "a vm", .dec_bit = ALWAYS };

	if (!want(ps, v, key, T_MAPPING))
		return false;
	vm->line = line_of(v);
	walk(ps, v, &w);
	/* Exactly one of name (bit 0) and pid (bit 1). */
	if (!(w.given & 3) || (w.given & 3) == (BIT(0) | BIT(1)))
		return error_at(ps, v, key, "give exactly one of name or pid");
	return w.ok == w.given;
}

static bool parse_entry_regions(struct parser *ps, void *obj, const char *key, yaml_node_t *v)
{
	yaml_node_item_t *it;
	yaml_node_t *map;

	if (!want(ps, v, key, T_LIST))
		return false;
	for (it = v->data.sequence.items.start; it < v->data.sequence.items.top; it++) {
		map = node(ps, *it);
		if (want(ps, map, key, T_MAPPING))
			parse_region(ps, *(int *)obj, map);
	}
	return true;
}

static const struct key entry_keys[] = {
	{ "vm",		parse_entry_vm,		0, ALWAYS },
	{ "regions",	parse_entry_regions,	0, ALWAYS },
	{}
};

static void parse_entry(struct parser *ps, yaml_node_t *map)
{
	struct mmiotrap_policy *p = ps->p;
	struct policy_vm *vm = grow(ps, p->vms, p->nvms, sizeof(*vm));
	int index = p->nvms;
	struct walk w = { .keys = entry_keys, .obj = &index, .what = "a vms entry",
			  .dec_bit = ALWAYS };

	if (!vm)
		return;
	p->vms = vm;
	p->nvms++;
	walk(ps, map, &w);
	missing(ps, map, &w, "a vms entry");
}

static bool parse_vms(struct parser *ps, void *obj, const char *key, yaml_node_t *v)
{
	yaml_node_item_t *it;
	yaml_node_t *map;

	(void)obj;
	if (!want(ps, v, key, T_LIST))
		return false;
	for (it = v->data.sequence.items.start; it < v->data.sequence.items.top; it++) {
		map = node(ps, *it);
		if (want(ps, map, key, T_MAPPING))
			parse_entry(ps, map);
	}
	return true;
}

static const struct key top_keys[] = {
	{ "vms",	parse_vms,	0, ALWAYS },
	{}
};

static void parse_document(struct parser *ps)
{
	yaml_node_t *root = yaml_document_get_root_node(&ps->doc);
	struct walk w = { .keys = top_keys, .what = "the file", .dec_bit = ALWAYS };

	if (!root) {
		error_line(ps, 1, "vms", "missing: the file is empty");
		return;
	}
	if (root->type != YAML_MAPPING_NODE) {
		error_at(ps, root, "vms", "the file must be a mapping with key 'vms', not %s",
			 type_names[type_of(root)]);
		return;
	}
	walk(ps, root, &w);
	missing(ps, root, &w, "the file");
}

/* The parser's problem. */
static void load_error(struct parser *ps, const yaml_parser_t *yp, const char *buf)
{
	int line = yp->problem_mark.line + 1;
	size_t i;

	/* A reader error (bad UTF-8) has no mark, only an offset. */
	if (yp->error == YAML_READER_ERROR)
		for (i = 0, line = 1; i < yp->problem_offset; i++)
			line += buf[i] == '\n';
	if (yp->error == YAML_MEMORY_ERROR)
		ps->oom = true;
	else
		syntax_error(ps, line, "syntax error: %s%s%s", yp->problem,
			     yp->context ? " " : "", yp->context ? yp->context : "");
}

/* A second document would be ignored: say so instead. */
static void no_more(struct parser *ps, yaml_parser_t *yp, const char *buf)
{
	yaml_node_t *root;

	if (!yaml_parser_load(yp, &ps->doc)) {
		load_error(ps, yp, buf);
		return;
	}
	root = yaml_document_get_root_node(&ps->doc);
	if (root)
		syntax_error(ps, line_of(root), "syntax error: a second document; a policy is one");
	yaml_document_delete(&ps->doc);
}

/*
 * Nesting and aliases, from the events, before libyaml builds a document
 * of them. A syntax error is left to the load, which says it with its line.
 */
static bool within_bounds(struct parser *ps, const char *buf, size_t len)
{
	int depth = 0, aliases = 0, line = 0;
	yaml_parser_t yp;
	yaml_event_t ev;
	bool done = false;

	if (!yaml_parser_initialize(&yp)) {
		ps->oom = true;
		return false;
	}
	yaml_parser_set_input_string(&yp, (const unsigned char *)buf, len);
	while (!done && !line && yaml_parser_parse(&yp, &ev)) {
		if (ev.type == YAML_SEQUENCE_START_EVENT || ev.type == YAML_MAPPING_START_EVENT)
			depth++;
		else if (ev.type == YAML_SEQUENCE_END_EVENT || ev.type == YAML_MAPPING_END_EVENT)
			depth--;
		aliases += ev.type == YAML_ALIAS_EVENT;
		done = ev.type == YAML_STREAM_END_EVENT;
		if (depth > MAX_DEPTH || aliases > MAX_ALIASES)
			line = ev.start_mark.line + 1;
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&yp);
	if (depth > MAX_DEPTH)
		syntax_error(ps, line, "nested deeper than %d levels", MAX_DEPTH);
	else if (aliases > MAX_ALIASES)
		syntax_error(ps, line, "more than %d aliases", MAX_ALIASES);
	return !line;
}

/*
 * Node @i as the walk sees it, aliases expanded: its count of nodes into
 * @size[i] (-1 while counting it, so that an alias of its own anchor shows).
 * Returns false past MAX_NODES or on such a cycle.
 */
static bool expanded(struct parser *ps, int i, long *size)
{
	yaml_node_t *n = node(ps, i);
	yaml_node_item_t *it;
	yaml_node_pair_t *pair;
	long sum = 1;

	if (size[i - 1] < 0)
		return false;
	if (size[i - 1])
		return true;
	size[i - 1] = -1;
	if (n->type == YAML_SEQUENCE_NODE) {
		for (it = n->data.sequence.items.start; it < n->data.sequence.items.top; it++) {
			if (!expanded(ps, *it, size))
				return false;
			sum += size[*it - 1];
			if (sum > MAX_NODES)
				return false;
		}
	} else if (n->type == YAML_MAPPING_NODE) {
		for (pair = n->data.mapping.pairs.start; pair < n->data.mapping.pairs.top; pair++) {
			if (!expanded(ps, pair->key, size) || !expanded(ps, pair->value, size))
				return false;
			sum += size[pair->key - 1] + size[pair->value - 1];
			if (sum > MAX_NODES)
				return false;
		}
	}
	size[i - 1] = sum;
	return true;
}

static bool small_enough(struct parser *ps)
{
	long nodes = ps->doc.nodes.top - ps->doc.nodes.start;
	long *size;
	bool ok;

	if (!nodes)
		return true;
	size = calloc(nodes, sizeof(*size));
	if (!size) {
		ps->oom = true;
		return false;
	}
	ok = expanded(ps, 1, size);
	free(size);
	if (!ok)
		syntax_error(ps, 1, "aliases expand it past %d nodes, or into themselves", MAX_NODES);
	return ok;
}

static void load(struct parser *ps, const char *buf, size_t len)
{
	yaml_parser_t yp;

	if (!within_bounds(ps, buf, len))
		return;
	if (!yaml_parser_initialize(&yp)) {
		ps->oom = true;
		return;
	}
	yaml_parser_set_input_string(&yp, (const unsigned char *)buf, len);
	if (yaml_parser_load(&yp, &ps->doc)) {
		if (small_enough(ps))
			parse_document(ps);
		yaml_document_delete(&ps->doc);
		no_more(ps, &yp, buf);
	} else {
		load_error(ps, &yp, buf);
	}
	yaml_parser_delete(&yp);
}

/*
 * All of @f: a policy file is small, and reading it whole gives bad bytes a
 * line. -EFBIG past MAX_BYTES: /dev/zero is no policy.
 */
static int read_all(FILE *f, char **buf, size_t *len)
{
	size_t size = 0, n;
	char *b = NULL, *more;

	*buf = NULL;
	*len = 0;
	do {
		if (*len > MAX_BYTES) {
			free(b);
			return -EFBIG;
		}
		if (*len == size) {
			size = size ? 2 * size : 4096;
			more = realloc(b, size);
			if (!more) {
				free(b);
				return -ENOMEM;
			}
			b = more;
		}
		n = fread(b + *len, 1, size - *len, f);
		*len += n;
	} while (n);
	if (ferror(f)) {
		free(b);
		return errno ? -errno : -EIO;
	}
	*buf = b;
	return 0;
}

static bool same_vm(const struct policy_vm *a, const struct policy_vm *b)
{
	if (a->name || b->name)
		return a->name && b->name && !strcmp(a->name, b->name);
	return a->pid && a->pid == b->pid;
}

/*
 * The checks across regions sort them, so that a file of many regions
 * costs n log n: names are global, ranges per VM and bus.
 */
struct order {
	const struct mmiotrap_policy *p;
	const int *vm;		/* each VM's first equal VM: one key for one VM */
};

static struct order order;

static int cmp_name(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;
	int c = strcmp(order.p->regions[x].name, order.p->regions[y].name);

	return c ? c : x - y;
}

static int cmp_range(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;
	const struct policy_region *r = &order.p->regions[x], *s = &order.p->regions[y];

	if (order.vm[r->vm] != order.vm[s->vm])
		return order.vm[r->vm] - order.vm[s->vm];
	if (r->want.bus != s->want.bus)
		return r->want.bus - s->want.bus;
	if (r->want.addr != s->want.addr)
		return r->want.addr < s->want.addr ? -1 : 1;
	return x - y;
}

/* Each later region of a name is said, naming the first. */
static void names_twice(struct parser *ps, int *idx, int n)
{
	struct mmiotrap_policy *p = ps->p;
	const struct policy_region *a, *first = NULL;
	int i;

	qsort(idx, n, sizeof(*idx), cmp_name);
	for (i = 0; i < n; i++) {
		a = &p->regions[idx[i]];
		if (!first || strcmp(a->name, first->name)) {
			first = a;
			continue;
		}
		if (*a->name)
			error_line(ps, a->name_line, "name",
				   "region '%s' is defined twice (first at line %d)", a->name,
				   first->name_line);
	}
}

static void ranges_overlap(struct parser *ps, int *idx, int n, bool *said)
{
	struct mmiotrap_policy *p = ps->p;
	const struct policy_region *a, *b;
	int i, far = -1;

	qsort(idx, n, sizeof(*idx), cmp_range);
	for (i = 0; i < n; i++) {
		a = &p->regions[idx[i]];
		if (!a->want.len)
			continue;
		b = far < 0 ? NULL : &p->regions[far];
		if (b && (order.vm[a->vm] != order.vm[b->vm] || a->want.bus != b->want.bus))
			b = NULL, far = -1;
		if (b && a->want.addr - b->want.addr < b->want.len) {
			const struct policy_region *late = idx[i] > far ? a : b, *early = late == a ? b : a;
			int at = late == a ? idx[i] : far;

			if (!said[at]) {
				error_line(ps, late->addr_line, "addr",
					   "%s 0x%llx len 0x%llx overlaps region '%s' (line %d) of the same vm",
					   bus_name(late->want.bus), (unsigned long long)late->want.addr,
					   (unsigned long long)late->want.len, early->name, early->line);
				said[at] = true;
			}
		}
		if (!b || a->want.addr + a->want.len - 1 > b->want.addr + b->want.len - 1)
			far = idx[i];
	}
}

static void cross_check(struct parser *ps)
{
	struct mmiotrap_policy *p = ps->p;
	int *idx = calloc(p->nregions + 1, sizeof(*idx));
	int *vm = calloc(p->nvms + 1, sizeof(*vm));
	bool *said = calloc(p->nregions + 1, sizeof(*said));
	int i, j;

	if (!idx || !vm || !said) {
		ps->oom = true;
		goto cleanup;
	}
	/* VMs are few beside their regions: pairwise is cheap here. */
	for (i = 0; i < p->nvms; i++)
		for (vm[i] = i, j = 0; j < i; j++)
			if (same_vm(&p->vms[i], &p->vms[j])) {
				vm[i] = vm[j];
				break;
			}
	order = (struct order){ .p = p, .vm = vm };
	for (i = 0; i < p->nregions; i++)
		idx[i] = i;
	names_twice(ps, idx, p->nregions);
	ranges_overlap(ps, idx, p->nregions, said);
cleanup:
	free(idx);
	free(vm);
	free(said);
}

static const struct mmiotrap_policy_problem *sort_problems;

static int cmp_pos(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;

	if (sort_problems[x].line != sort_problems[y].line)
		return sort_problems[x].line - sort_problems[y].line;
	return x - y;
}

/* By line, one line's problems in the order they were found. */
static void sort_errors(struct mmiotrap_policy *p)
{
	struct mmiotrap_policy_problem *copy;
	int *pos, i;

	if (p->nproblems < 2)
		return;
	copy = malloc((p->nproblems + 1) * sizeof(*copy));
	pos = malloc((p->nproblems + 1) * sizeof(*pos));
	if (copy && pos) {
		memcpy(copy, p->problems, p->nproblems * sizeof(*copy));
		/* qsort is not stable: sort where each problem is, then take them in that order. */
		for (i = 0; i < p->nproblems; i++)
			pos[i] = i;
		sort_problems = copy;
		qsort(pos, p->nproblems, sizeof(*pos), cmp_pos);
		for (i = 0; i < p->nproblems; i++)
			p->problems[i] = copy[pos[i]];
	}
	free(copy);
	free(pos);
}

static int policy_load(struct mmiotrap_policy *p, const char *file)
{
	struct parser ps = { .p = p };
	bool std = !strcmp(file, "-");
	size_t len;
	char *buf;
	FILE *f;
	int err, i;

	p->file = strdup(std ? "<stdin>" : file);
	if (!p->file)
		return -ENOMEM;
	f = std ? stdin : fopen(file, "re");
	if (!f)
		return -errno;
	errno = 0;
	err = read_all(f, &buf, &len);
	if (!std)
		fclose(f);
	if (err == -EFBIG) {
		syntax_error(&ps, 1, "larger than %d KiB: no policy is", MAX_BYTES >> 10);
		return ps.oom ? -ENOMEM : 0;
	}
	if (err)
		return err;
	add_param_keys(&ps);
	load(&ps, buf, len);
	free(buf);
	cross_check(&ps);
	for (i = 0; i < p->nregions; i++)
		strcpy(p->regions[i].want.name, p->regions[i].name);
	sort_errors(p);
	return ps.oom ? -ENOMEM : 0;
}

int mmiotrap_policy_read(struct mmiotrap_policy **pp, const char *file)
{
	struct mmiotrap_policy *p;
	int err;

	if (!pp || !file)
		return -EINVAL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	err = policy_load(p, file);
	if (err) {
		mmiotrap_policy_free(p);
		return err;
	}
	*pp = p;
	return 0;
}

void mmiotrap_policy_free(struct mmiotrap_policy *p)
{
	int i;

	if (!p)
		return;
	for (i = 0; i < p->nvms; i++) {
		free(p->vms[i].name);
		free(p->vms[i].qmp);
	}
	for (i = 0; i < p->nregions; i++)
		free(p->regions[i].device);
	free(p->vms);
	free(p->regions);
	free(p->problems);
	free((char *)p->file);
	free(p);
}

const char *mmiotrap_policy_file(const struct mmiotrap_policy *p)
{
	return p->file;
}

int mmiotrap_policy_vms(const struct mmiotrap_policy *p)
{
	return p->nvms;
}

int mmiotrap_policy_regions(const struct mmiotrap_policy *p)
{
	return p->nregions;
}

int mmiotrap_policy_problems(const struct mmiotrap_policy *p,
			     const struct mmiotrap_policy_problem **problems)
{
	*problems = p->problems;
	return p->nproblems;
}
