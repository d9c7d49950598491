// SPDX-License-Identifier: GPL-2.0
/*
 * Unit test of the doorbell decoders, both ways: every case is decoded by
 * the userspace build of include/mmiotrap_decode.h and by its BPF build
 * (bpf/decode_test.bpf.c, run with BPF_PROG_TEST_RUN), and both must give
 * the expected result. Prints "N passed, N failed".
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "mmiotrap_decode.h"
#include "decode_test.h"
#include "decode_test.skel.h"

#define BAR0	0xfebf0000ULL
#define NOTIFY	0xfe003000ULL

struct expect {
	const char *what;
	struct mmiotrap_region region;
	__u64 addr;
	__u64 value;
	struct mmiotrap_decoded want;
};

#define NVME(dstrd_, queues_) { .decoder = MMIOTRAP_DECODER_NVME, \
	.params.nvme = { .bar0 = BAR0, .dstrd = dstrd_, .queues = queues_ } }
#define VIRTIO(mult, queues_, flags_) { .decoder = MMIOTRAP_DECODER_VIRTIO_PCI, \
	.params.virtio = { .notify_base = NOTIFY, .multiplier = mult, .queues = queues_, \
			   .flags = flags_ } }
#define LEGACY(queues_) { .addr = 0xc050, .decoder = MMIOTRAP_DECODER_VIRTIO_LEGACY, \
	.params.legacy = { .queues = queues_ } }
#define ND	MMIOTRAP_VIRTIO_NOTIFICATION_DATA
#define PACKED	MMIOTRAP_VIRTIO_PACKED
#define K(kind_) .kind = MMIOTRAP_KIND_##kind_

static const struct expect cases[] = {
	{ "raw", { .decoder = MMIOTRAP_DECODER_RAW }, 0xd0000000, 42, { K(RAW) } },
	{ "nvme sq 0 tail", NVME(0, 4), BAR0 + 0x1000, 7, { K(SQ_TAIL), 0, { 7 } } },
	{ "nvme cq 0 head", NVME(0, 4), BAR0 + 0x1004, 3, { K(CQ_HEAD), 0, { 3 } } },
	{ "nvme sq 3 tail", NVME(0, 4), BAR0 + 0x1018, 63, { K(SQ_TAIL), 3, { 63 } } },
	{ "nvme cq 3 head", NVME(0, 4), BAR0 + 0x101c, 1, { K(CQ_HEAD), 3, { 1 } } },
	{ "nvme beyond the queues", NVME(0, 4), BAR0 + 0x1020, 1, { K(BAD_QUEUE), 4, { 1 } } },
	{ "nvme off the grid", NVME(0, 4), BAR0 + 0x1002, 1, { K(OFF_GRID), 0, { 1 } } },
	{ "nvme below the doorbells", NVME(0, 4), BAR0 + 0x14, 1, { K(OFF_GRID), 0, { 1 } } },
	{ "nvme dstrd 1: cq 1", NVME(1, 4), BAR0 + 0x1018, 9, { K(CQ_HEAD), 1, { 9 } } },
	{ "nvme dstrd 1: between", NVME(1, 4), BAR0 + 0x1004, 9, { K(OFF_GRID), 0, { 9 } } },
	{ "nvme dstrd 10: sq 1", NVME(10, 2), BAR0 + 0x1000 + 2 * 4096, 5, { K(SQ_TAIL), 1, { 5 } } },
	{ "virtio queue by address", VIRTIO(4, 8, 0), NOTIFY + 12, 3, { K(NOTIFY), 3 } },
	{ "virtio page per queue", VIRTIO(0x1000, 8, 0), NOTIFY + 0x2000, 2, { K(NOTIFY), 2 } },
	{ "virtio one address: queue from the value", VIRTIO(0, 8, 0), NOTIFY, 5, { K(NOTIFY), 5 } },
	{ "virtio off the grid", VIRTIO(4, 8, 0), NOTIFY + 2, 0, { K(OFF_GRID) } },
	{ "virtio one address, another address", VIRTIO(0, 8, 0), NOTIFY + 4, 1, { K(OFF_GRID) } },
	{ "virtio beyond the queues", VIRTIO(4, 8, 0), NOTIFY + 32, 8, { K(BAD_QUEUE), 8 } },
	{ "virtio queue 2^32 + 1 is not queue 1", VIRTIO(4, 8, 0), NOTIFY + 4 * 0x100000001ULL, 0,
	  { K(BAD_QUEUE), 0xffffffff } },
	{ "virtio notification data, split", VIRTIO(4, 8, ND), NOTIFY + 4, 0x80050001,
	  { K(NOTIFY), 1, { 5, 1, 0x8005 } } },
	{ "virtio notification data, packed", VIRTIO(4, 8, ND | PACKED), NOTIFY + 4, 0x7fff0001,
	  { K(NOTIFY), 1, { 0x7fff, 0, 0 } } },
	{ "virtio notification data, one address", VIRTIO(0, 8, ND | PACKED), NOTIFY, 0x80030006,
	  { K(NOTIFY), 6, { 3, 1, 0 } } },
	{ "legacy queue 1", LEGACY(2), 0xc050, 1, { K(NOTIFY), 1 } },
	{ "legacy beyond the queues", LEGACY(2), 0xc050, 2, { K(BAD_QUEUE), 2 } },
	{ "legacy only 16 bits", LEGACY(2), 0xc050, 0x10001, { K(NOTIFY), 1 } },
	{ "legacy another port", LEGACY(2), 0xc051, 1, { K(OFF_GRID), 1 } },
	{ "bitfield", { .decoder = MMIOTRAP_DECODER_BITFIELD, .params.bitfield = {
		.mask = { 0xffff, 0x7fff, 1, 0xff }, .shift = { 0, 16, 31, 56 } } },
	  0, 0xab000000fffe1234ULL, { K(FIELDS), 0, { 0x1234, 0x7ffe, 1, 0xab } } },
	{ "bitfield, unused fields", { .decoder = MMIOTRAP_DECODER_BITFIELD,
		.params.bitfield = { .mask = { 0xf }, .shift = { 4 } } },
	  0, 0xff, { K(FIELDS), 0, { 0xf } } },
};

#define NCASES	(sizeof(cases) / sizeof(cases[0]))

static bool same(const struct mmiotrap_decoded *a, const struct mmiotrap_decoded *b)
{
	return !memcmp(a, b, sizeof(*a));
}

static int check(const char *how, const struct expect *c, const struct mmiotrap_decoded *got)
{
	if (same(got, &c->want))
		return 0;
	printf("not ok: %s (%s): wanted kind %u queue %u fields %llu %llu %llu %llu, "
	       "got kind %u queue %u fields %llu %llu %llu %llu\n", c->what, how,
	       c->want.kind, c->want.queue, (unsigned long long)c->want.field[0],
	       (unsigned long long)c->want.field[1], (unsigned long long)c->want.field[2],
	       (unsigned long long)c->want.field[3], got->kind, got->queue,
	       (unsigned long long)got->field[0], (unsigned long long)got->field[1],
	       (unsigned long long)got->field[2], (unsigned long long)got->field[3]);
	return 1;
}

static int run_bpf(struct decode_test_bpf *skel)
{
	LIBBPF_OPTS(bpf_test_run_opts, opts);
	size_t i;

	for (i = 0; i < NCASES; i++) {
		skel->bss->cases[i].region = cases[i].region;
		skel->bss->cases[i].addr = cases[i].addr;
		skel->bss->cases[i].value = cases[i].value;
	}
	skel->bss->ncases = NCASES;
	return bpf_prog_test_run_opts(bpf_program__fd(skel->progs.decode_all), &opts);
}

int main(void)
{
	struct mmiotrap_decoded got;
	struct decode_test_bpf *skel;
	int failed = 0, err;
	size_t i;

	_Static_assert(NCASES <= DECODE_MAX_CASES, "more cases than the BPF side takes");
	for (i = 0; i < NCASES; i++) {
		mmiotrap_decode(&cases[i].region, cases[i].addr, cases[i].value, &got);
		failed += check("userspace", &cases[i], &got);
	}
	skel = decode_test_bpf__open_and_load();
	err = skel ? run_bpf(skel) : -1;
	if (err) {
		printf("not ok: cannot run the BPF decoders: %s\n", strerror(errno));
		decode_test_bpf__destroy(skel);
		return 2;
	}
	for (i = 0; i < NCASES; i++)
		failed += check("bpf", &cases[i], &skel->bss->results[i]);
	decode_test_bpf__destroy(skel);
	printf("decoders: %zu passed, %d failed\n", 2 * NCASES - failed, failed);
	return !!failed;
}
