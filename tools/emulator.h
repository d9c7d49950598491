/* SPDX-License-Identifier: GPL-2.0 */
/*
 * An example device emulator on libmmiotrap, living in the test VMM: it
 * registers doorbell regions on the VM, subscribes to their writes on a
 * thread of its own, and checks that every value the guest wrote reaches
 * it, in order, whichever path the write took.
 */
#ifndef MMIOTRAP_EMULATOR_H
#define MMIOTRAP_EMULATOR_H

#include <stdbool.h>
#include <stdio.h>
#include "script.h"

struct kvm_run;
struct emu;

enum emu_kind {
	EMU_FAST,	/* mmiotrap fast path: ioeventfd + trap */
	EMU_SLOW,	/* mmiotrap capture, the writes still exit */
	EMU_IOEVENTFD,	/* a bare ioeventfd, no mmiotrap: the value is lost */
	EMU_ADOPTED,	/* a region a policy asked to be fast, adopted */
	EMU_GIVEN,	/* a region someone else added for this VMM: it captures */
};

#define EMU_MAX_REGIONS	8

struct emu_region {
	enum emu_kind kind;
	enum bus bus;
	uint64_t addr;
	uint64_t len;
	uint8_t widths;		/* 0: all */
	uint8_t fast_widths;	/* EMU_FAST; 0: all accepted */
};

struct emu_config {
	const char *pin_root;	/* NULL: libmmiotrap's default */
	bool busy_poll;
	unsigned int delay_us;	/* per event: an overloaded subscriber */
	bool adopt;		/* take the regions added for us, adopt those wanting fast */
	int nregions;
	struct emu_region regions[EMU_MAX_REGIONS];
};

/* Register the regions on @vm_fd and start the subscriber thread. */
int emu_start(struct emu **e, const struct emu_config *cfg, int vm_fd,
	      const struct script *script);

/* Is @a, of script step @step, a write the emulator receives? */
bool emu_owns(const struct access *a, uint32_t step, const void *e);

/* An exit of the VMM: 1 if it was the emulator's write, else 0 or -errno. */
int emu_dispatch(struct emu *e, const struct kvm_run *run);

/*
 * The release step: once every write before it arrived, deregister the
 * regions, so that every later write exits to the VMM again.
 */
int emu_release(struct emu *e);

/* Wait until every write the emulator owns arrived; -ETIMEDOUT if not. */
int emu_finish(struct emu *e, unsigned int timeout_ms);

/* Its counts as JSON members (",\"events\":…"), for the VMM's report. */
void emu_report(const struct emu *e, FILE *out);

/* Deregister everything: afterwards every write exits again. */
void emu_stop(struct emu *e);

#endif /* MMIOTRAP_EMULATOR_H */
