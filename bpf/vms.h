/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The records bpf/vms.bpf.c writes into its iterator's seq_file and
 * lib/vms.c reads: each the same size, so a read splits them without a
 * length. Internal to the library, not installed.
 */
#ifndef MMIOTRAP_VMS_H
#define MMIOTRAP_VMS_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

enum vms_rec_type {
	VMS_REC_VM = 1,		/* a KVM VM, held by the process that made it */
	VMS_REC_IOEVENTFD,	/* of the VM before it */
	VMS_REC_IRQFD,		/* of the VM before it */
	VMS_REC_EVENTFD,	/* any process's eventfd */
};

/* KVM's enum kvm_bus, unchanged since the fast MMIO bus came (Linux 4.1). */
enum vms_kvm_bus {
	VMS_KVM_MMIO_BUS,
	VMS_KVM_PIO_BUS,
	VMS_KVM_VIRTIO_CCW_NOTIFY_BUS,
	VMS_KVM_FAST_MMIO_BUS,
};

struct vms_rec {
	__u32 type;		/* enum vms_rec_type */
	__u32 tgid;		/* the process that holds the file */
	__s32 fd;		/* its fd: the VM's, or (VMS_REC_EVENTFD) the eventfd's */
	__s32 id;		/* the eventfd's id, as fdinfo's eventfd-id */
	union {
		struct {
			__u32 vcpus;	/* online */
		} vm;
		struct {
			__u64 addr;
			__u64 datamatch;	/* unless wildcard */
			__u32 len;
			__u8 bus;		/* enum vms_kvm_bus */
			__u8 wildcard;
		} ioeventfd;
		struct {
			__u32 gsi;
			__s32 resample_id;	/* the resamplefd's id; -1: none */
		} irqfd;
	};
};

#endif /* MMIOTRAP_VMS_H */
