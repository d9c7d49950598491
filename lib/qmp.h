/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * A QEMU VM's QMP monitor, to ask it where its devices are: qmp.c finds
 * the socket and talks to it, device.c turns a device into a region.
 */
#ifndef MMIOTRAP_QMP_H
#define MMIOTRAP_QMP_H

#include <jansson.h>
#include <linux/types.h>
#include "mmiotrap.h"

struct qmp;

/* The QMP socket QEMU process @pid was started with (-qmp, or -chardev + -mon). */
int qmp_socket_of(__u32 pid, char *buf, size_t size);
/* Connect and leave capabilities negotiation; NULL and errno on failure. */
struct qmp *qmp_open(const char *path);
void qmp_close(struct qmp *q);
/* @cmd's "return" (a new reference), or NULL: why in @err. @args may be NULL. */
json_t *qmp_call(struct qmp *q, const char *cmd, json_t *args, char *err, size_t size);

/* A region that a VM's device resolved to, and the decoder's parameters. */
struct device_region {
	enum mmiotrap_bus bus;
	__u64 addr;
	__u64 len;
	enum mmiotrap_decoder decoder;
	union mmiotrap_decoder_params params;
};

/*
 * Where device @id (a QEMU device id, or a PCI address "BUS:SLOT.FN") of
 * the VM behind QMP socket @path rings its doorbells: NVMe's doorbells in
 * BAR0, a virtio-pci device's notify region (modern if it has the notify
 * capability, else its legacy I/O BAR's notify register). @decoder is the
 * file's choice, or -1 to take the device's. 0, or
 * -errno and why in @err.
 */
int device_resolve(const char *path, const char *id, int decoder,
		   struct device_region *out, char *err, size_t size);

#endif /* MMIOTRAP_QMP_H */
