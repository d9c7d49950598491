// SPDX-License-Identifier: GPL-2.0
/*
 * The command line's number and text parsers: mmiotrap_parse_u64() takes
 * exactly decimal without a leading 0 or 0x hex that fits @max, with the
 * value strtoull gives; cli_clean() makes any bytes one line of UTF-8 that
 * jansson takes, within its buffer.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include "cli.h"

static void check_number(const char *s, __u64 max)
{
	__u64 val = 42, want;
	bool hex = (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'));
	const char *digits = hex ? s + 2 : s;
	size_t n = strspn(digits, hex ? "0123456789abcdefABCDEF" : "0123456789");
	bool syntax = n && !digits[n] && !(!hex && s[0] == '0' && s[1]);
	char *end;
	int err = mmiotrap_parse_u64(s, max, &val);

	errno = 0;
	want = syntax ? strtoull(s, &end, hex ? 16 : 10) : 0;
	if (!syntax && err != -EINVAL)
		abort();
	if (syntax && (errno == ERANGE || want > max) && err != -ERANGE)
		abort();
	if (syntax && !errno && want <= max && (err || val != want))
		abort();
	if (err && val != 42)
		abort();
}

static void check_clean(const char *s)
{
	char buf[64];
	json_t *str;
	size_t i;

	cli_clean(s, buf, sizeof(buf));
	if (strlen(buf) >= sizeof(buf))
		abort();
	for (i = 0; buf[i]; i++)
		if ((unsigned char)buf[i] < 0x20 || buf[i] == 0x7f)
			abort();
	str = json_string(buf);
	if (!str)
		abort();
	json_decref(str);
	str = cli_str(s);
	if (!str)
		abort();
	json_decref(str);
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	char *s;
	__u64 max = ~0ULL;

	if (size >= 8) {
		memcpy(&max, data, 8);
		data += 8;
		size -= 8;
	}
	s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	check_number(s, max);
	check_clean(s);
	free(s);
	return 0;
}
