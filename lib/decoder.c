// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The decoder table: each decoder's parameters, their limits, and the
 * names of the fields it decodes. Command-line options, policy keys and
 * every printer read it; adding a decoder is its params struct, its decode
 * function in mmiotrap_decode.h and its row here.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "internal.h"

#define NUMBER(NAME, OPTION, TYPE, MEMBER, MIN, MAX, REQUIRED, HEX) {		\
	.name = NAME, .option = OPTION, .kind = MMIOTRAP_PARAM_NUMBER,		\
	.offset = offsetof(union mmiotrap_decoder_params, TYPE.MEMBER),	\
	.size = sizeof(((union mmiotrap_decoder_params *)0)->TYPE.MEMBER),	\
	.min = MIN, .max = MAX, .required = REQUIRED, .hex = HEX }

#define FLAG(NAME, OPTION, TYPE, MEMBER, BIT) {					\
	.name = NAME, .option = OPTION, .kind = MMIOTRAP_PARAM_FLAG,		\
	.offset = offsetof(union mmiotrap_decoder_params, TYPE.MEMBER),	\
	.size = sizeof(((union mmiotrap_decoder_params *)0)->TYPE.MEMBER),	\
	.bit = BIT }

#define ROW(NAME, PARAMS, ...) {						\
	.name = NAME, .params = PARAMS,						\
	.nparams = sizeof(PARAMS) / sizeof(PARAMS[0]), .fields = { __VA_ARGS__ } }

static const struct mmiotrap_decoder_param nvme_params[] = {
	NUMBER("bar0", "bar0", nvme, bar0, 0, ~0ULL, true, true),
	/* CAP.DSTRD is a 4-bit field. */
	NUMBER("dstrd", "dstrd", nvme, dstrd, 0, 15, false, false),
	NUMBER("queues", "queues", nvme, queues, 1, 0xffffffff, true, false),
};

static const struct mmiotrap_decoder_param virtio_params[] = {
	NUMBER("notify_base", "notify-base", virtio, notify_base, 0, ~0ULL, true, true),
	NUMBER("multiplier", "multiplier", virtio, multiplier, 0, 0xffffffff, false, false),
	NUMBER("queues", "queues", virtio, queues, 1, 0xffff, true, false),
	FLAG("notification_data", "notification-data", virtio, flags,
	     MMIOTRAP_VIRTIO_NOTIFICATION_DATA),
	FLAG("packed", "packed", virtio, flags, MMIOTRAP_VIRTIO_PACKED),
};

/* A 16-bit queue index: 0x10000 queues at most. */
static const struct mmiotrap_decoder_param legacy_params[] = {
	NUMBER("queues", "queues", legacy, queues, 1, 0x10000, true, false),
};

static const struct mmiotrap_decoder_param bitfield_params[] = {
	{ .name = "fields", .option = "field", .kind = MMIOTRAP_PARAM_FIELDS, .required = true,
	  .size = sizeof(struct mmiotrap_bitfield_params) },
};

static const struct mmiotrap_decoder_info decoders[MMIOTRAP_DECODER_MAX] = {
	[MMIOTRAP_DECODER_RAW]		 = { .name = "raw" },
	[MMIOTRAP_DECODER_NVME]		 = ROW("nvme", nvme_params),
	[MMIOTRAP_DECODER_VIRTIO_PCI]	 = ROW("virtio-pci", virtio_params,
					       "next_off", "next_wrap", "avail_idx"),
	[MMIOTRAP_DECODER_VIRTIO_LEGACY] = ROW("virtio-legacy", legacy_params),
	/* Its fields are named by its parameters. */
	[MMIOTRAP_DECODER_BITFIELD]	 = ROW("bitfield", bitfield_params),
};

const struct mmiotrap_decoder_info *mmiotrap_decoder_info(enum mmiotrap_decoder decoder)
{
	return (unsigned int)decoder < MMIOTRAP_DECODER_MAX ? &decoders[decoder] : NULL;
}

const struct mmiotrap_decoder_param *mmiotrap_decoder_param(enum mmiotrap_decoder decoder,
							    const char *name)
{
	const struct mmiotrap_decoder_info *info = mmiotrap_decoder_info(decoder);
	int i;

	for (i = 0; info && name && i < info->nparams; i++)
		if (!strcmp(info->params[i].name, name) || !strcmp(info->params[i].option, name))
			return &info->params[i];
	return NULL;
}

int mmiotrap_decoder_by_name(const char *name)
{
	int i;

	for (i = 0; i < MMIOTRAP_DECODER_MAX; i++)
		if (name && !strcmp(name, decoders[i].name))
			return i;
	return -EINVAL;
}

const char *mmiotrap_decoder_str(enum mmiotrap_decoder decoder)
{
	const struct mmiotrap_decoder_info *info = mmiotrap_decoder_info(decoder);

	return info ? info->name : "unknown";
}

/* The member a parameter is in, whole. */
static __u64 member(const union mmiotrap_decoder_params *p,
		    const struct mmiotrap_decoder_param *param)
{
	const char *at = (const char *)p + param->offset;

	switch (param->size) {
	case 1: return *(const __u8 *)at;
	case 2: return *(const __u16 *)at;
	case 4: return *(const __u32 *)at;
	default: return *(const __u64 *)at;
	}
}

__u64 mmiotrap_decoder_get(const union mmiotrap_decoder_params *p,
			   const struct mmiotrap_decoder_param *param)
{
	__u64 v = member(p, param);

	return param->kind == MMIOTRAP_PARAM_FLAG ? !!(v & param->bit) : v;
}

int param_problem(const struct mmiotrap_decoder_param *param, __u64 val, char *msg, size_t size)
{
	__u64 max = param->kind == MMIOTRAP_PARAM_FLAG ? 1 : param->max;

	if (param->kind == MMIOTRAP_PARAM_FIELDS) {
		snprintf(msg, size, "is a list of fields");
		return -EINVAL;
	}
	if (val < param->min)
		snprintf(msg, size, "must be at least %llu", (unsigned long long)param->min);
	else if (val > max)
		snprintf(msg, size, max < 0x10000 ? "must be at most %llu" : "must be at most 0x%llx",
			 (unsigned long long)max);
	else
		return 0;
	return -ERANGE;
}

void param_set(union mmiotrap_decoder_params *p, const struct mmiotrap_decoder_param *param,
	       __u64 val)
{
	char *at = (char *)p + param->offset;
	__u64 v = val;

	/* A flag is one bit among the member's others. */
	if (param->kind == MMIOTRAP_PARAM_FLAG)
		v = val ? member(p, param) | param->bit : member(p, param) & ~param->bit;
	switch (param->size) {
	case 1: *(__u8 *)at = v; break;
	case 2: *(__u16 *)at = v; break;
	case 4: *(__u32 *)at = v; break;
	default: *(__u64 *)at = v; break;
	}
}

int mmiotrap_decoder_set(union mmiotrap_decoder_params *p, enum mmiotrap_decoder decoder,
			 const char *name, __u64 val)
{
	const struct mmiotrap_decoder_param *param = mmiotrap_decoder_param(decoder, name);
	char msg[128];
	int err;

	if (!p || !param) {
		pr_warn("%s is no parameter of decoder %s\n", name ? name : "(null)",
			mmiotrap_decoder_str(decoder));
		return -ENOENT;
	}
	err = param_problem(param, val, msg, sizeof(msg));
	if (err) {
		pr_warn("%s\n", msg);
		return err;
	}
	param_set(p, param, val);
	return 0;
}

static int fields_problem(const struct mmiotrap_bitfield_params *b, char *msg, size_t size)
{
	int i, j, used = 0;

	for (i = 0; i < MMIOTRAP_FIELDS; i++) {
		if (!b->mask[i])
			continue;
		used++;
		if (b->shift[i] > 63)
			snprintf(msg, size, "field %d: shift %u is above 63", i, b->shift[i]);
		else if (strnlen(b->name[i], sizeof(b->name[i])) == sizeof(b->name[i]) ||
			 !mmiotrap_valid_name(b->name[i]))
			snprintf(msg, size, "field %d: bad name", i);
		else
			continue;
		return -EINVAL;
	}
	/* The names are keys of each event's JSON object: one each. */
	for (i = 0; i < MMIOTRAP_FIELDS; i++)
		for (j = 0; j < i; j++)
			if (b->mask[i] && b->mask[j] && !strcmp(b->name[i], b->name[j])) {
				snprintf(msg, size, "field '%s' given twice", b->name[i]);
				return -EINVAL;
			}
	if (used)
		return 0;
	snprintf(msg, size, "no field");
	return -EINVAL;
}

/* Parameters a decoder cannot work with are refused, not mis-decoded. */
int decoder_problem(enum mmiotrap_decoder decoder, const union mmiotrap_decoder_params *p,
		    char *msg, size_t size)
{
	const struct mmiotrap_decoder_info *info = mmiotrap_decoder_info(decoder);
	const struct mmiotrap_decoder_param *param = NULL;
	char why[96];
	__u64 flags = 0;
	int i;

	if (!info) {
		snprintf(msg, size, "no decoder %d", decoder);
		return -EINVAL;
	}
	for (i = 0; i < info->nparams; i++) {
		param = &info->params[i];
		if (param->kind == MMIOTRAP_PARAM_FIELDS) {
			if (fields_problem(&p->bitfield, why, sizeof(why)))
				break;
		} else if (param->kind == MMIOTRAP_PARAM_NUMBER) {
			if (param_problem(param, mmiotrap_decoder_get(p, param), why, sizeof(why)))
				break;
		} else {
			/* At a member's last flag: no bit the table does not know. */
			flags |= param->bit;
			if (i + 1 < info->nparams && info->params[i + 1].offset == param->offset)
				continue;
			if (member(p, param) & ~flags) {
				snprintf(why, sizeof(why), "has unknown bits 0x%llx",
					 (unsigned long long)(member(p, param) & ~flags));
				break;
			}
			flags = 0;
		}
	}
	if (i == info->nparams)
		return 0;
	snprintf(msg, size, "decoder %s: %s %s", info->name, param->name, why);
	return -EINVAL;
}

bool mmiotrap_decoded_fields(const struct mmiotrap_region *r, const char *names[MMIOTRAP_FIELDS])
{
	const struct mmiotrap_decoder_info *info = mmiotrap_decoder_info(r->decoder);
	const union mmiotrap_decoder_params *p = &r->params;
	int i;

	for (i = 0; i < MMIOTRAP_FIELDS; i++)
		names[i] = info ? info->fields[i] : NULL;
	switch (r->decoder) {
	case MMIOTRAP_DECODER_VIRTIO_PCI:
		/* The driver says more than the queue only with NOTIFICATION_DATA. */
		if (!(p->virtio.flags & MMIOTRAP_VIRTIO_NOTIFICATION_DATA))
			names[0] = names[1] = names[2] = NULL;
		if (p->virtio.flags & MMIOTRAP_VIRTIO_PACKED)
			names[2] = NULL;
		return false;
	case MMIOTRAP_DECODER_BITFIELD:
		for (i = 0; i < MMIOTRAP_FIELDS; i++)
			names[i] = p->bitfield.mask[i] ? p->bitfield.name[i] : NULL;
		return true;
	default:
		return false;
	}
}

/* The first @len characters of @s, a number by mmiotrap_parse_u64(). */
static bool parse_number(const char *s, size_t len, __u64 *val)
{
	char buf[32];

	if (len >= sizeof(buf))
		return false;
	memcpy(buf, s, len);
	buf[len] = '\0';
	return !mmiotrap_parse_u64(buf, ~0ULL, val);
}

/* What is wrong with field "NAME:MASK:SHIFT", into @msg; its parts into @f. */
static int field_problem(const char *arg, struct mmiotrap_bitfield_params *f, char *msg,
			 size_t size)
{
	const char *mask_s = strchr(arg, ':'), *shift_s = mask_s ? strchr(mask_s + 1, ':') : NULL;
	size_t len = mask_s ? (size_t)(mask_s - arg) : 0;
	__u64 mask, shift;

	if (!shift_s || !len)
		snprintf(msg, size, "want NAME:MASK:SHIFT");
	else if (!parse_number(mask_s + 1, shift_s - mask_s - 1, &mask) || !mask)
		snprintf(msg, size, "want NAME:MASK:SHIFT, MASK not 0");
	else if (!parse_number(shift_s + 1, strlen(shift_s + 1), &shift) || shift > 63)
		snprintf(msg, size, "SHIFT is 0 to 63");
	else if (len >= sizeof(f->name[0]))
		snprintf(msg, size, "name longer than %zu characters", sizeof(f->name[0]) - 1);
	else if (memcpy(f->name[0], arg, len), f->name[0][len] = '\0',
		 !mmiotrap_valid_name(f->name[0]))
		snprintf(msg, size, "NAME is a letter, then letters, digits, '_', '.', '-'");
	else {
		f->mask[0] = mask;
		f->shift[0] = shift;
		return 0;
	}
	return -EINVAL;
}

int mmiotrap_bitfield_parse(struct mmiotrap_bitfield_params *b, const char *arg)
{
	struct mmiotrap_bitfield_params f = {};
	char msg[128];
	int i;

	if (!b || !arg)
		return -EINVAL;
	if (field_problem(arg, &f, msg, sizeof(msg))) {
		pr_warn("%s\n", msg);
		return -EINVAL;
	}
	/* The fields are members of each event's JSON object: one each. */
	for (i = 0; i < MMIOTRAP_FIELDS && b->mask[i]; i++) {
		if (!strcmp(b->name[i], f.name[0])) {
			pr_warn("field '%s' given twice\n", f.name[0]);
			return -EINVAL;
		}
	}
	if (i == MMIOTRAP_FIELDS) {
		pr_warn("%d fields at most\n", MMIOTRAP_FIELDS);
		return -E2BIG;
	}
	b->mask[i] = f.mask[0];
	b->shift[i] = f.shift[0];
	memcpy(b->name[i], f.name[0], sizeof(b->name[i]));
	return 0;
}
