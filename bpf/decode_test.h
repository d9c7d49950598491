/* SPDX-License-Identifier: GPL-2.0 */
/* Shared by bpf/decode_test.bpf.c and selftests/decode/decode_test.c. */
#ifndef MMIOTRAP_DECODE_TEST_H
#define MMIOTRAP_DECODE_TEST_H

#include "mmiotrap_abi.h"

#define DECODE_MAX_CASES	64

struct decode_case {
	struct mmiotrap_region region;
	__u64 addr;
	__u64 value;
};

#endif /* MMIOTRAP_DECODE_TEST_H */
