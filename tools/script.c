// SPDX-License-Identifier: GPL-2.0
/* Walking the writes of a doorbell script. */
#include "script.h"

static bool any(const struct access *a, uint32_t step, const void *ctx)
{
	(void)a;
	(void)step;
	(void)ctx;
	return true;
}

bool cursor_done(const struct cursor *c)
{
	return c->step == c->script->nsteps;
}

void cursor_expected(const struct cursor *c, struct access *a)
{
	const struct script_step *s = &c->script->steps[c->step];
	/* 32-bit arithmetic wraps just like the guest's. */
	uint32_t value = s->start + c->i * s->step;
	uint64_t wide = (uint64_t)(uint32_t)~value << 32 | value;

	*a = (struct access){
		.bus = s->bus,
		.write = true,
		.addr = s->addr,
		.width = s->width,
		.count = 1,
		.value = s->width == 8 ? wide : value & (uint32_t)((1ULL << (8 * s->width)) - 1),
	};
}

static void step_once(struct cursor *c)
{
	if (++c->i == c->script->steps[c->step].count) {
		c->i = 0;
		c->step++;
	}
}

/* Stop at the next write the filter wants, or at the end. */
static void skip_unwanted(struct cursor *c)
{
	struct access a;

	while (!cursor_done(c)) {
		cursor_expected(c, &a);
		if (c->want(&a, c->step, c->ctx))
			return;
		c->i = 0;
		c->step++;
	}
}

void cursor_init(struct cursor *c, const struct script *s, access_filter want,
		 const void *ctx)
{
	*c = (struct cursor){ .script = s, .want = want ? want : any, .ctx = ctx };
	skip_unwanted(c);
}

void cursor_advance(struct cursor *c)
{
	step_once(c);
	skip_unwanted(c);
}

uint64_t script_writes(const struct script *s, access_filter want, const void *ctx)
{
	struct access a;
	uint64_t n = 0;
	uint32_t i;

	for (i = 0; i < s->nsteps; i++) {
		struct cursor c = { .script = s, .step = i };

		/* A step writes one address at one width: one look decides. */
		cursor_expected(&c, &a);
		if (!want || want(&a, i, ctx))
			n += s->steps[i].count;
	}
	return n;
}
