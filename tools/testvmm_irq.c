// SPDX-License-Identifier: GPL-2.0
/*
 * The test VMM's answers to doorbells. The interrupt comes from the vCPU
 * thread, the VMM process, as QEMU's do (KVM_SIGNAL_MSI, KVM_IRQ_LINE):
 * that is the thread the trap's interrupt tracepoints pair by.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <sys/ioctl.h>
#include <linux/kvm.h>

#include "testvmm_irq.h"

bool vmm_irq_parse(struct vmm_irq *irq, const char *arg)
{
	unsigned int a, b, c;
	char end;

	if (sscanf(arg, "msi:%u:%u%c", &a, &b, &end) == 2) {
		*irq = (struct vmm_irq){ .msi = true, .every = a, .usec = b };
	} else if (sscanf(arg, "line:%u:%u:%u%c", &c, &a, &b, &end) == 3 && c < 24) {
		*irq = (struct vmm_irq){ .gsi = c, .every = a, .usec = b };
	} else {
		return false;
	}
	return irq->every > 0;
}

/* Spin, not sleep: a sleep's wakeup would blur the buckets the tests expect. */
static void wait_usec(uint32_t usec)
{
	struct timespec start, now;
	long long ns;

	clock_gettime(CLOCK_MONOTONIC, &start);
	do {
		clock_gettime(CLOCK_MONOTONIC, &now);
		ns = (now.tv_sec - start.tv_sec) * 1000000000LL + now.tv_nsec - start.tv_nsec;
	} while (ns < usec * 1000LL);
}

static int signal_irq(const struct vmm_irq *irq, int vm_fd)
{
	/* The local APIC's address, fixed delivery to APIC 0, vector 0x30. */
	struct kvm_msi msi = { .address_lo = 0xfee00000, .data = 0x30 };
	struct kvm_irq_level line = { .irq = irq->gsi, .level = 1 };

	if (irq->msi)
		return ioctl(vm_fd, KVM_SIGNAL_MSI, &msi) < 0 ? -errno : 0;
	if (ioctl(vm_fd, KVM_IRQ_LINE, &line) < 0)
		return -errno;
	line.level = 0;
	return ioctl(vm_fd, KVM_IRQ_LINE, &line) < 0 ? -errno : 0;
}

int vmm_irq_after_write(struct vmm_irq *irq, int vm_fd)
{
	if (!irq->every || ++irq->writes % irq->every)
		return 0;
	wait_usec(irq->usec);
	irq->sent++;
	return signal_irq(irq, vm_fd);
}
