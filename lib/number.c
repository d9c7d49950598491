// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The one number parser of the command line and policy files. strtoull
 * alone takes signs, blanks and wraps; its callers cut 64 bits to 32.
 * Here a number is all of its text and its caller says how large it may be.
 */
#include <errno.h>
#include "internal.h"

static int digit(char c, unsigned int base)
{
	int d;

	if (c >= '0' && c <= '9')
		d = c - '0';
	else if (c >= 'a' && c <= 'f')
		d = c - 'a' + 10;
	else if (c >= 'A' && c <= 'F')
		d = c - 'A' + 10;
	else
		return -1;
	return d < (int)base ? d : -1;
}

int mmiotrap_parse_u64(const char *s, __u64 max, __u64 *val)
{
	unsigned int base = 10;
	bool too_large = false;
	__u64 n = 0;
	int d;

	if (!s || !val || !*s)
		return -EINVAL;
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		s += 2;
		if (!*s)
			return -EINVAL;
	} else if (s[0] == '0' && s[1]) {
		/* YAML 1.1 reads 010 as octal, 1.2 as decimal: neither is guessed. */
		return -EINVAL;
	}
	for (; *s; s++) {
		d = digit(*s, base);
		if (d < 0)
			return -EINVAL;
		/* Every digit is read, so that "1x" past 64 bits is still not a number. */
		if (n > (~0ULL - d) / base)
			too_large = true;
		n = n * base + d;
	}
	if (too_large || n > max)
		return -ERANGE;
	*val = n;
	return 0;
}
