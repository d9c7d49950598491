// SPDX-License-Identifier: GPL-2.0
/*
 * The decoders over any region, address and value: a decoded doorbell
 * names a queue in range, unused fields stay 0, and the BPF build (bpf/
 * decode_test.bpf.c through BPF_PROG_TEST_RUN, one run per input) says the
 * same as the userspace build. Without root or BPF only the invariants run.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "mmiotrap_decode.h"
#include "decode_test.h"
#include "decode_test.skel.h"

static struct decode_test_bpf *skel;

static int quiet(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	(void)level, (void)fmt, (void)ap;
	return 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	libbpf_set_print(quiet);
	skel = decode_test_bpf__open_and_load();
	fprintf(stderr, "fuzz-decode: %s\n", skel ? "comparing with the BPF build" :
		"no BPF here: invariants only");
	return 0;
}

static void check_invariants(const struct mmiotrap_region *r, const struct mmiotrap_decoded *d)
{
	__u64 queues = 0;

	switch (r->decoder) {
	case MMIOTRAP_DECODER_NVME:
		queues = r->params.nvme.queues;
		break;
	case MMIOTRAP_DECODER_VIRTIO_PCI:
		queues = r->params.virtio.queues;
		break;
	case MMIOTRAP_DECODER_VIRTIO_LEGACY:
		queues = r->params.legacy.queues;
		break;
	}
	if ((d->kind == MMIOTRAP_KIND_SQ_TAIL || d->kind == MMIOTRAP_KIND_CQ_HEAD ||
	     d->kind == MMIOTRAP_KIND_NOTIFY) && d->queue >= queues) {
		fprintf(stderr, "decoder %u: kind %u with queue %u of %llu\n", r->decoder,
			d->kind, d->queue, (unsigned long long)queues);
		abort();
	}
	if (d->kind > MMIOTRAP_KIND_FIELDS || (r->decoder == MMIOTRAP_DECODER_RAW &&
					       d->kind != MMIOTRAP_KIND_RAW))
		abort();
}

static void compare_bpf(const struct decode_case *c, const struct mmiotrap_decoded *want)
{
	LIBBPF_OPTS(bpf_test_run_opts, opts);
	const struct mmiotrap_decoded *got = &skel->bss->results[0];

	skel->bss->cases[0] = *c;
	skel->bss->ncases = 1;
	if (bpf_prog_test_run_opts(bpf_program__fd(skel->progs.decode_all), &opts))
		abort();
	if (memcmp(got, want, sizeof(*want))) {
		fprintf(stderr, "decoder %u: bpf kind %u queue %u, userspace kind %u queue %u\n",
			c->region.decoder, got->kind, got->queue, want->kind, want->queue);
		abort();
	}
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	struct decode_case c = {};
	struct mmiotrap_decoded d;

	if (size < sizeof(c))
		return -1;
	memcpy(&c, data, sizeof(c));
	c.region.decoder %= MMIOTRAP_DECODER_MAX;
	mmiotrap_decode(&c.region, c.addr, c.value, &d);
	check_invariants(&c.region, &d);
	if (skel)
		compare_bpf(&c, &d);
	return 0;
}
