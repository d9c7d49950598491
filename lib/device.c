// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * A QEMU device, named by its id, QOM path or PCI address, turned into the region
 * its doorbells live in, asking the VM itself: query-pci for the BARs, the
 * device's registers and PCI config space read through the monitor as the
 * guest would read them (xp), qom-get for its queue count. Nothing is
 * guessed from QEMU's version: what the guest's firmware or driver
 * programmed is what is read.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "mmiotrap_decode.h"
#include "qmp.h"

#define PCI_CLASS_NVME		0x0108
#define PCI_VENDOR_VIRTIO	0x1af4
#define PCI_CAP_VNDR		0x09
#define VIRTIO_PCI_CAP_NOTIFY	2
#define VIRTIO_LEGACY_NOTIFY	0x10	/* QUEUE_NOTIFY in the legacy I/O BAR */
/* q35's MMCONFIG (its MCFG property), if the machine does not say. */
#define Q35_ECAM_BASE		0xb0000000ULL
/* QEMU's nvme max_ioqpairs default, when the device cannot be asked. */
#define QEMU_NVME_IOQPAIRS	64
/* Where -device ...,id=ID puts the device in the QOM tree. */
#define QOM_PERIPHERAL		"/machine/peripheral/"
/* Bridges behind bridges, from a QOM path up to a root bus: no machine has more. */
#define QOM_MAX_DEPTH		16

struct ctx {
	struct qmp *q;
	const char *id;
	json_t *dev;		/* its query-pci entry */
	char path[256];		/* its QOM path, for qom-get; "": not known */
	char *err;
	size_t size;
};

static __attribute__((format(printf, 3, 4)))
int fail(struct ctx *c, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->err, c->size, fmt, ap);
	va_end(ap);
	return err;
}

/* Property @prop of the object at QOM path @path (a new reference); NULL if it has none. */
static json_t *qom_get(struct ctx *c, const char *path, const char *prop)
{
	json_t *args = json_pack("{s:s,s:s}", "path", path, "property", prop), *ret;
	char err[128];

	ret = qmp_call(c->q, "qom-get", args, err, sizeof(err));
	json_decref(args);
	return ret;
}

/* A machine property; @dflt if it has none. */
static __u64 machine_u64(struct ctx *c, const char *path, const char *prop, __u64 dflt)
{
	json_t *ret = qom_get(c, path, prop);
	__u64 v = dflt;

	if (json_is_integer(ret))
		v = json_integer_value(ret);
	json_decref(ret);
	return v;
}

static json_int_t num(json_t *obj, const char *key)
{
	return json_integer_value(json_object_get(obj, key));
}

/* Is @dev the one @id names: its qdev id, or (@pci_too) "[BUS:]SLOT.FN" in hex? */
static bool is_device(json_t *dev, const char *id, bool pci_too)
{
	const char *qdev = json_string_value(json_object_get(dev, "qdev_id"));
	unsigned int bus = 0, slot, fn;
	char end;

	if (qdev && *qdev && !strcmp(qdev, id))
		return true;
	if (!pci_too)
		return false;
	if (sscanf(id, "%x:%x.%x%c", &bus, &slot, &fn, &end) != 3 &&
	    (bus = 0, sscanf(id, "%x.%x%c", &slot, &fn, &end) != 2))
		return false;
	return num(dev, "bus") == bus && num(dev, "slot") == slot && num(dev, "function") == fn;
}

/*
 * The devices behind a bridge: PciBridgeInfo's, beside its bus (QEMU lists
 * them once the firmware has given the bridge a secondary bus number).
 */
static json_t *behind(json_t *bridge)
{
	return json_object_get(json_object_get(bridge, "pci_bridge"), "devices");
}

static json_t *find_in(json_t *devices, const char *id, bool pci_too)
{
	json_t *dev, *found;
	size_t i;

	json_array_foreach(devices, i, dev) {
		if (is_device(dev, id, pci_too))
			return dev;
		found = find_in(behind(dev), id, pci_too);
		if (found)
			return found;
	}
	return NULL;
}

/* The device in slot and function @devfn of @devices; NULL if none. */
static json_t *at_devfn(json_t *devices, int devfn)
{
	json_t *dev;
	size_t i;

	json_array_foreach(devices, i, dev)
		if (num(dev, "slot") == devfn >> 3 && num(dev, "function") == (devfn & 7))
			return dev;
	return NULL;
}

/* Slot and function of the PCI device at QOM path @path (its addr property); -1: none. */
static int qom_devfn(struct ctx *c, const char *path)
{
	json_t *addr = qom_get(c, path, "addr");
	int devfn = json_is_integer(addr) ? json_integer_value(addr) : -1;

	json_decref(addr);
	return devfn >= 0 && devfn < 256 ? devfn : -1;
}

/*
 * The query-pci entry of the PCI device at QOM path @path, which has
 * slot and function @devfn. query-pci knows no QOM paths, so the device
 * is found from the top: its parent bus (a link, read as that bus's path)
 * hangs from the object above it in the tree, which is either a PCI
 * bridge, found the same way, the device among those behind it; or a
 * host bridge, no PCI device, the device on a root bus.
 */
static int find_at(struct ctx *c, json_t *buses, const char *path, int devfn, int depth,
		   json_t **dev)
{
	json_t *link = qom_get(c, path, "parent_bus"), *bus, *bridge;
	char above[256], *slash;
	int bdevfn, err, n = 0;
	size_t i;

	snprintf(above, sizeof(above), "%s", json_string_value(link) ?: "");
	json_decref(link);
	slash = strrchr(above, '/');
	if (!slash || slash == above)
		return fail(c, -ENODEV, "device '%s': %s has no PCI bus", c->id, path);
	*slash = '\0';
	bdevfn = qom_devfn(c, above);
	if (bdevfn >= 0) {
		if (depth == QOM_MAX_DEPTH)
			return fail(c, -ELOOP, "device '%s': more than %d bridges above it", c->id,
				    QOM_MAX_DEPTH);
		err = find_at(c, buses, above, bdevfn, depth + 1, &bridge);
		if (err)
			return err;
		*dev = at_devfn(behind(bridge), devfn);
		if (!*dev)
			return fail(c, -EAGAIN, "device '%s': not in query-pci behind bridge %s (yet: the firmware numbers its bus)",
				    c->id, above);
		return 0;
	}
	/* Root buses are few, and are each a host bridge's: one with the slot is the one. */
	json_array_foreach(buses, i, bus) {
		if (at_devfn(json_object_get(bus, "devices"), devfn)) {
			*dev = at_devfn(json_object_get(bus, "devices"), devfn);
			n++;
		}
	}
	if (n > 1)
		return fail(c, -ENODEV, "device '%s': %d root buses have a device at %02x.%x: name it by id or PCI address",
			    c->id, n, devfn >> 3, devfn & 7);
	if (!n)
		return fail(c, -ENODEV, "device '%s': no device at %02x.%x of a root bus in query-pci",
			    c->id, devfn >> 3, devfn & 7);
	return 0;
}

/*
 * By QOM path: /machine/peripheral/ID is device ID; any other is asked
 * for its slot and function and found from its bus.
 */
static int find_by_path(struct ctx *c, json_t *buses)
{
	const char *id = c->id + strlen(QOM_PERIPHERAL);
	json_t *bus;
	size_t i;
	int devfn;

	snprintf(c->path, sizeof(c->path), "%s", c->id);
	if (!strncmp(c->id, QOM_PERIPHERAL, strlen(QOM_PERIPHERAL)) && *id && !strchr(id, '/')) {
		json_array_foreach(buses, i, bus) {
			c->dev = find_in(json_object_get(bus, "devices"), id, false);
			if (c->dev)
				return 0;
		}
		return fail(c, -ENODEV, "no device '%s' (by id %s) in query-pci", c->id, id);
	}
	devfn = qom_devfn(c, c->id);
	if (devfn < 0)
		return fail(c, -ENODEV, "device '%s': no PCI device at that QOM path (it has no addr)",
			    c->id);
	return find_at(c, buses, c->id, devfn, 0, &c->dev);
}

static int find_device(struct ctx *c, json_t *buses)
{
	const char *qdev;
	json_t *bus;
	size_t i;

	if (c->id[0] == '/')
		return find_by_path(c, buses);
	json_array_foreach(buses, i, bus) {
		c->dev = find_in(json_object_get(bus, "devices"), c->id, true);
		if (!c->dev)
			continue;
		qdev = json_string_value(json_object_get(c->dev, "qdev_id"));
		if (qdev && *qdev)
			snprintf(c->path, sizeof(c->path), QOM_PERIPHERAL "%s", qdev);
		return 0;
	}
	return fail(c, -ENODEV, "no device '%s' (by id or PCI address) in query-pci", c->id);
}

/* BAR @n's address, or an error if the guest has not mapped it. */
static int bar(struct ctx *c, int n, const char *type, __u64 *addr)
{
	json_t *r;
	size_t i;

	json_array_foreach(json_object_get(c->dev, "regions"), i, r) {
		if (num(r, "bar") != n)
			continue;
		if (strcmp(json_string_value(json_object_get(r, "type")) ?: "", type))
			break;
		*addr = num(r, "address");
		/* QEMU says -1 until the guest programs it and turns decoding on. */
		if (*addr == ~0ULL)
			return fail(c, -EAGAIN, "device '%s': BAR%d is not mapped (yet)", c->id, n);
		return 0;
	}
	return fail(c, -ENODEV, "device '%s' has no %s BAR%d", c->id, type, n);
}

/* @count 32-bit words of guest memory from @addr, through HMP's xp. */
static int read_words(struct ctx *c, __u64 addr, int count, __u32 *words)
{
	char cmdline[64], *s, *end;
	json_t *args, *out;
	int n = 0;

	snprintf(cmdline, sizeof(cmdline), "xp /%dwx 0x%llx", count, (unsigned long long)addr);
	args = json_pack("{s:s}", "command-line", cmdline);
	out = qmp_call(c->q, "human-monitor-command", args, c->err, c->size);
	json_decref(args);
	if (!out)
		return -EIO;
	/* "00000000b0020000: 0x1af41001 0x00100007 ...\r\n" per 4 words. */
	for (s = (char *)json_string_value(out); s && n < count; s = strchr(s, '\n')) {
		s = strchr(s, ':');
		if (!s)
			break;
		for (s++; n < count; s = end) {
			while (*s == ' ')
				s++;
			if (strncmp(s, "0x", 2))
				break;
			words[n++] = strtoul(s, &end, 16);
		}
	}
	json_decref(out);
	return n == count ? 0 : fail(c, -EIO, "device '%s': cannot read 0x%llx", c->id,
				     (unsigned long long)addr);
}

/* A property of the device; @dflt if it has none or its QOM path is not known. */
static __u64 qom_u64(struct ctx *c, const char *prop, __u64 dflt)
{
	return *c->path ? machine_u64(c, c->path, prop, dflt) : dflt;
}

/* NVMe: the doorbells of every queue pair, from BAR0 + 0x1000, CAP.DSTRD read. */
static int resolve_nvme(struct ctx *c, struct device_region *out)
{
	struct mmiotrap_nvme_params *p = &out->params.nvme;
	__u32 cap[2];
	int err;

	err = bar(c, 0, "memory", &p->bar0);
	if (!err)
		err = read_words(c, p->bar0, 2, cap);
	if (err)
		return err;
	p->dstrd = cap[1] & 0xf;
	p->queues = qom_u64(c, "max_ioqpairs", QEMU_NVME_IOQPAIRS) + 1;
	out->bus = MMIOTRAP_BUS_MMIO;
	out->addr = p->bar0 + MMIOTRAP_NVME_DOORBELLS;
	out->len = 2ULL * p->queues * (4ULL << p->dstrd);
	out->decoder = MMIOTRAP_DECODER_NVME;
	return 0;
}

static __u32 le32_at(const __u8 *b, int at)
{
	return b[at] | b[at + 1] << 8 | b[at + 2] << 16 | (__u32)b[at + 3] << 24;
}

/* Modern virtio-pci: the notify capability, from the device's config space. */
static int virtio_notify_cap(struct ctx *c, struct device_region *out)
{
	struct mmiotrap_virtio_params *p = &out->params.virtio;
	__u64 ecam = machine_u64(c, "/machine/q35", "MCFG", Q35_ECAM_BASE) +
		     ((__u64)num(c->dev, "bus") << 20 | num(c->dev, "slot") << 15 |
		      num(c->dev, "function") << 12);
	__u32 words[64];
	__u8 cfg[256];
	int i, ptr, hops, err;
	__u64 base;

	err = read_words(c, ecam, 64, words);
	if (err)
		return err;
	for (i = 0; i < 64; i++) {
		cfg[4 * i] = words[i];
		cfg[4 * i + 1] = words[i] >> 8;
		cfg[4 * i + 2] = words[i] >> 16;
		cfg[4 * i + 3] = words[i] >> 24;
	}
	/* The same vendor and device as query-pci says: else this is not its config space. */
	if ((cfg[0] | cfg[1] << 8) != PCI_VENDOR_VIRTIO)
		return fail(c, -EIO, "device '%s': no virtio config space at 0x%llx", c->id,
			    (unsigned long long)ecam);
	for (ptr = cfg[0x34] & ~3, hops = 0; ptr >= 0x40 && ptr < 0xf0 && hops < 48;
	     ptr = cfg[ptr + 1] & ~3, hops++) {
		if (cfg[ptr] != PCI_CAP_VNDR || cfg[ptr + 3] != VIRTIO_PCI_CAP_NOTIFY)
			continue;
		err = bar(c, cfg[ptr + 4], "memory", &base);
		if (err)
			return err;
		p->notify_base = base + le32_at(cfg, ptr + 8);
		p->multiplier = le32_at(cfg, ptr + 16);
		return 1;
	}
	return 0;
}

static int resolve_virtio(struct ctx *c, int decoder, struct device_region *out)
{
	__u64 queues = qom_u64(c, "num-queues", 1);
	int err = 0;

	if (decoder != MMIOTRAP_DECODER_VIRTIO_LEGACY) {
		err = virtio_notify_cap(c, out);
		if (err < 0)
			return err;
		if (!err && decoder == MMIOTRAP_DECODER_VIRTIO_PCI)
			return fail(c, -ENODEV, "device '%s' has no virtio notify capability",
				    c->id);
	}
	if (err) {
		out->params.virtio.queues = queues;
		out->bus = MMIOTRAP_BUS_MMIO;
		out->addr = out->params.virtio.notify_base;
		/* Multiplier 0: every queue at one address, a 16-bit write. */
		out->len = out->params.virtio.multiplier ? queues * out->params.virtio.multiplier : 2;
		out->decoder = MMIOTRAP_DECODER_VIRTIO_PCI;
		return 0;
	}
	err = bar(c, 0, "io", &out->addr);
	if (err)
		return err;
	out->params.legacy.queues = queues;
	out->bus = MMIOTRAP_BUS_PIO;
	out->addr += VIRTIO_LEGACY_NOTIFY;
	out->len = 2;
	out->decoder = MMIOTRAP_DECODER_VIRTIO_LEGACY;
	return 0;
}

static int resolve(struct ctx *c, int decoder, struct device_region *out)
{
	json_t *buses;
	int err;

	buses = qmp_call(c->q, "query-pci", NULL, c->err, c->size);
	if (!buses)
		return -EIO;
	err = find_device(c, buses);
	if (!err && num(json_object_get(c->dev, "class_info"), "class") == PCI_CLASS_NVME)
		err = resolve_nvme(c, out);
	else if (!err && num(json_object_get(c->dev, "id"), "vendor") == PCI_VENDOR_VIRTIO)
		err = resolve_virtio(c, decoder, out);
	else if (!err)
		err = fail(c, -EOPNOTSUPP, "device '%s' is neither NVMe nor virtio-pci", c->id);
	json_decref(buses);
	return err;
}

int device_resolve(const char *path, const char *id, int decoder,
		   struct device_region *out, char *err, size_t size)
{
	struct ctx c = { .id = id, .err = err, .size = size };
	int ret;

	memset(out, 0, sizeof(*out));
	c.q = qmp_open(path);
	if (!c.q) {
		ret = -errno;
		snprintf(err, size, "cannot talk QMP on %s: %s", path, strerror(errno));
		return ret;
	}
	ret = resolve(&c, decoder, out);
	qmp_close(c.q);
	if (!ret && decoder >= 0 && decoder != (int)out->decoder &&
	    !(decoder == MMIOTRAP_DECODER_RAW || decoder == MMIOTRAP_DECODER_BITFIELD))
		ret = -EINVAL, snprintf(err, size, "device '%s' is not for decoder %s", id,
					mmiotrap_decoder_str(decoder));
	return ret;
}
