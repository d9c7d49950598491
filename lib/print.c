// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Why a call failed, for whoever wants to know: as libbpf_set_print(), one
 * process-wide callback, warnings to stderr until the program says otherwise.
 */
#include <stdarg.h>
#include <stdio.h>
#include "internal.h"

static int default_print(enum mmiotrap_print_level level, const char *fmt, va_list ap)
{
	if (level > MMIOTRAP_WARN)
		return 0;
	fputs("libmmiotrap: ", stderr);
	return vfprintf(stderr, fmt, ap);
}

static mmiotrap_print_fn_t print_fn = default_print;

mmiotrap_print_fn_t mmiotrap_set_print(mmiotrap_print_fn_t fn)
{
	mmiotrap_print_fn_t old = print_fn;

	print_fn = fn;
	return old;
}

void mmiotrap_print(enum mmiotrap_print_level level, const char *fmt, ...)
{
	mmiotrap_print_fn_t fn = print_fn;
	va_list ap;

	if (!fn)
		return;
	va_start(ap, fmt);
	fn(level, fmt, ap);
	va_end(ap);
}

bool opts_valid(const void *opts, size_t known, const char *type)
{
	const unsigned char *p = opts;
	size_t sz, i;

	if (!opts)
		return true;
	sz = *(const size_t *)opts;
	if (sz < sizeof(size_t)) {
		pr_warn("%s: sz %zu is too small\n", type, sz);
		return false;
	}
	for (i = known; i < sz; i++) {
		if (p[i]) {
			pr_warn("%s: unknown field at offset %zu is set (a newer header?)\n",
				type, i);
			return false;
		}
	}
	return true;
}
