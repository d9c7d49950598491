/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The test VMM's answers: an interrupt a set time after every N-th MMIO
 * write it handles, so that the doorbell-to-interrupt pairs and their
 * lengths are known in advance.
 */
#ifndef TESTVMM_IRQ_H
#define TESTVMM_IRQ_H

#include <stdbool.h>
#include <stdint.h>

struct vmm_irq {
	uint32_t every;		/* 0: no interrupts */
	uint32_t usec;
	bool msi;		/* KVM_SIGNAL_MSI; else KVM_IRQ_LINE of gsi */
	uint32_t gsi;
	uint64_t writes;	/* MMIO writes handled so far */
	uint64_t sent;		/* interrupts signalled */
};

/* msi:EVERY:USEC or line:GSI:EVERY:USEC */
bool vmm_irq_parse(struct vmm_irq *irq, const char *arg);
/* One MMIO write handled: maybe wait and interrupt. 0 or -errno. */
int vmm_irq_after_write(struct vmm_irq *irq, int vm_fd);

#endif /* TESTVMM_IRQ_H */
