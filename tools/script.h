/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The doorbell script: what the guest (doorbell_guest.S) writes, and a
 * cursor that walks those writes in order, for whoever checks them.
 */
#ifndef MMIOTRAP_SCRIPT_H
#define MMIOTRAP_SCRIPT_H

#include <stdbool.h>
#include <stdint.h>

#define MAX_STEPS	16

/* A write to this port is a pause step: the VMM sleeps that many µs. */
#define PAUSE_PORT	0x80
/* A write to this port is a release step: the emulator lets its regions go. */
#define RELEASE_PORT	0x81

enum bus { BUS_MMIO, BUS_PIO };

/*
 * The layout is shared with the guest. A rep step is one rep outs of count
 * elements, read from the script's rep buffer; any other step is count
 * single writes. Either way write i has the value start + i * step (32-bit
 * arithmetic); an 8-byte MMIO write carries its complement in the top half,
 * so that each half is seen.
 */
struct script_step {
	uint8_t bus;
	uint8_t width;		/* 1, 2, 4; 8 for MMIO */
	uint8_t rep;		/* PIO only */
	uint8_t pad;
	uint32_t addr;
	uint32_t count;
	uint32_t start;
	uint32_t step;
};
_Static_assert(sizeof(struct script_step) == 20, "see doorbell_guest.S");

struct script {
	uint32_t nsteps;
	uint32_t rep_buf;	/* guest physical: the rep steps' elements, in order */
	struct script_step steps[MAX_STEPS];
};

/* One guest access: the next one the script makes, or one an exit reports. */
struct access {
	enum bus bus;
	bool write;
	uint64_t addr;
	uint32_t width;
	uint32_t count;		/* > 1 only for string port I/O */
	uint64_t value;
};

/*
 * Which writes a cursor walks: those @want says yes to. It decides by the
 * step and the bus, address and width alone, so for a whole step at once.
 */
typedef bool (*access_filter)(const struct access *a, uint32_t step, const void *ctx);

struct cursor {
	const struct script *script;
	uint32_t step;
	uint32_t i;
	access_filter want;
	const void *ctx;
};

void cursor_init(struct cursor *c, const struct script *s, access_filter want,
		 const void *ctx);
bool cursor_done(const struct cursor *c);
void cursor_expected(const struct cursor *c, struct access *a);
void cursor_advance(struct cursor *c);

/* How many writes a cursor with this filter walks. */
uint64_t script_writes(const struct script *s, access_filter want, const void *ctx);

#endif /* MMIOTRAP_SCRIPT_H */
