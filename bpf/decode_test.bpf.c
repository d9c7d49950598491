// SPDX-License-Identifier: GPL-2.0
/*
 * The decoders as the trap runs them, for selftests/decode: a syscall
 * program decodes every case it is given, so that the test compares the
 * BPF build of include/mmiotrap_decode.h with the userspace one.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "mmiotrap_decode.h"
#include "decode_test.h"

struct decode_case cases[DECODE_MAX_CASES];
struct mmiotrap_decoded results[DECODE_MAX_CASES];
__u32 ncases;

SEC("syscall")
int decode_all(void *ctx)
{
	__u32 i;

	for (i = 0; i < DECODE_MAX_CASES && i < ncases; i++)
		mmiotrap_decode(&cases[i].region, cases[i].addr, cases[i].value, &results[i]);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
