/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the test VMM registers with KVM for others to find ('mmiotrap vm
 * show'): ioeventfds the guest does not write and irqfds, each on an
 * eventfd of its own, and the hold that lets a test look at them.
 */
#ifndef MMIOTRAP_TESTVMM_FDS_H
#define MMIOTRAP_TESTVMM_FDS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include "script.h"

#define FDS_MAX	8

struct vmm_fds {
	int ndoorbells;
	struct {
		enum bus bus;
		uint64_t addr;
		uint32_t len;
		bool datamatch;
		uint64_t value;
		int efd;
	} doorbells[FDS_MAX];
	int nirqfds;
	struct {
		uint32_t gsi;
		bool resample;		/* level-triggered, with a resamplefd */
		int efd;
		int resample_efd;
	} irqfds[FDS_MAX];
};

/* "BUS:ADDR:LEN[:DATAMATCH]" and "GSI[:resample]": false if malformed. */
bool vmm_fds_parse_doorbell(struct vmm_fds *f, const char *arg);
bool vmm_fds_parse_irqfd(struct vmm_fds *f, const char *arg);

/* Register them on @vm_fd (irqfds need its in-kernel irqchip): 0 or -errno, @op says what failed. */
int vmm_fds_register(struct vmm_fds *f, int vm_fd, const char **op);

/* As JSON members: ,"ioeventfds":[...],"irqfds":[...] */
void vmm_fds_report(const struct vmm_fds *f, FILE *out);

/*
 * Write {"pid":...,"ioeventfds":...,"irqfds":...} and a newline to the FIFO
 * at @path, then wait for a go on it: a test reads the line, looks at the
 * VMM, and lets it run.
 */
int vmm_fds_hold(const struct vmm_fds *f, const char *prog, const char *path);

void vmm_fds_close(struct vmm_fds *f);

#endif
