// SPDX-License-Identifier: GPL-2.0
/*
 * mmiotrap-costparts: where the trap's time goes. Each of the trap's parts
 * (tools/costparts.bpf.c) runs alone through BPF_PROG_TEST_RUN, with BPF
 * statistics on, as tools/trapcost.sh measures the whole trap; rounds
 * interleave the parts and the medians are printed, with and without the
 * floor (an empty program: the two clock reads of the statistics). The
 * lookups run twice: with one VM's entries, and with a full table
 * (MMIOTRAP_DEFAULT_VMS entries, MMIOTRAP_DEFAULT_REGIONS trie blocks).
 * Nothing is attached or pinned. docs/cost.md.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "mmiotrap_abi.h"
#include "costparts.skel.h"

#define PROG		"mmiotrap-costparts"
#define ROUNDS		5
#define DRAIN_EVERY	4096	/* records between drains: the 1 MiB ring holds 10,000 */
/* A pid for the watched VM that is not ours: ours is the unwatched one. */
#define VM_PID		4000000
#define VM_ADDR		0xfebf0000ULL

struct part {
	const char *name;
	const char *what;
	struct bpf_program *prog;
	bool full;		/* measured again with a full table */
	double ns[2][ROUNDS];
};

static int drain(void *ctx, void *data, size_t size)
{
	(void)ctx;
	(void)data;
	(void)size;
	return 0;
}

/* ns per run of @fd over @runs test runs, from its statistics. */
static int measure(int fd, long runs, struct ring_buffer *rb, double *ns)
{
	struct bpf_prog_info a = {}, b = {};
	__u32 len = sizeof(a);
	__u64 args[1] = {};
	LIBBPF_OPTS(bpf_test_run_opts, opts, .ctx_in = args, .ctx_size_in = sizeof(args));
	long i;

	if (bpf_obj_get_info_by_fd(fd, &a, &len))
		return -errno;
	for (i = 0; i < runs; i++) {
		if (bpf_prog_test_run_opts(fd, &opts))
			return -errno;
		if (i % DRAIN_EVERY == DRAIN_EVERY - 1)
			ring_buffer__consume(rb);
	}
	ring_buffer__consume(rb);
	len = sizeof(b);
	if (bpf_obj_get_info_by_fd(fd, &b, &len))
		return -errno;
	if (b.run_cnt == a.run_cnt)
		return -ENODATA;
	*ns = (double)(b.run_time_ns - a.run_time_ns) / (b.run_cnt - a.run_cnt);
	return 0;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double median(double *v)
{
	qsort(v, ROUNDS, sizeof(*v), cmp);
	return v[ROUNDS / 2];
}

static int put_block(int fd, __u32 pid, __u64 addr, __u32 id)
{
	struct mmiotrap_index_key key = {
		.prefixlen = MMIOTRAP_INDEX_FIXED_BITS + 62,	/* a 4-byte block */
		.vm = pid,
		.addr_be = __builtin_bswap64(addr),
	};

	return bpf_map_update_elem(fd, &key, &id, BPF_ANY) ? -errno : 0;
}

/* The watched VM: 8 regions, the one the parts look up last. */
static int fill_one(struct costparts_bpf *skel)
{
	struct mmiotrap_region r = { .addr = VM_ADDR, .len = 4, .id = 1, .vm = VM_PID };
	struct mmiotrap_vm vm = { .regions = MMIOTRAP_VM_RANGES, .buses = 1 };
	__u32 pid = VM_PID, id = 1, i;
	int err;

	for (i = 0; i < MMIOTRAP_VM_RANGES; i++)
		vm.range[i] = (struct mmiotrap_vm_range){
			.addr = VM_ADDR - (MMIOTRAP_VM_RANGES - 1 - i) * 0x1000, .span = 3, .id = i + 1,
		};
	if (bpf_map__update_elem(skel->maps.vms, &pid, sizeof(pid), &vm, sizeof(vm), BPF_ANY) ||
	    bpf_map__update_elem(skel->maps.regions, &id, sizeof(id), &r, sizeof(r), BPF_ANY))
		return -errno;
	err = put_block(bpf_map__fd(skel->maps.addr_index), VM_PID, VM_ADDR, 1);
	return err;
}

/* The rest of a full table: more VMs, and their regions' blocks in the trie. */
static int fill_full(struct costparts_bpf *skel)
{
	int vms = bpf_map__fd(skel->maps.vms), index = bpf_map__fd(skel->maps.addr_index);
	struct mmiotrap_vm vm = { .regions = 4, .buses = 1 };
	__u32 pid, i;
	int err;

	for (i = 1; i < MMIOTRAP_DEFAULT_VMS; i++) {
		pid = VM_PID + i;
		if (bpf_map_update_elem(vms, &pid, &vm, BPF_ANY))
			return -errno;
	}
	for (i = 1; i < MMIOTRAP_DEFAULT_REGIONS; i++) {
		err = put_block(index, VM_PID + i % MMIOTRAP_DEFAULT_VMS, 0xc0000000ULL + i * 16, i);
		if (err)
			return err;
	}
	return 0;
}

int main(int argc, char **argv)
{
	long runs = argc > 1 ? strtol(argv[1], NULL, 0) : 20000;
	struct ring_buffer *rb = NULL;
	struct costparts_bpf *skel;
	int stats_fd = -1, err, t, k, n;
	double floor[2];

	if (argc > 2 || runs <= 0) {
		fprintf(stderr, "usage: " PROG " [RUNS]\n");
		return 2;
	}
	skel = costparts_bpf__open();
	if (!skel) {
		fprintf(stderr, PROG ": cannot open the BPF object: %s\n", strerror(errno));
		return 1;
	}
	skel->rodata->vm_pid = VM_PID;
	skel->rodata->vm_addr = VM_ADDR;
	err = costparts_bpf__load(skel);
	if (err) {
		fprintf(stderr, PROG ": cannot load the BPF object: %s\n", strerror(-err));
		goto out;
	}

#define PART(p, full, what)	{ #p, what, skel->progs.p, full, {} }
	struct part parts[] = {
		PART(empty, true, "an empty program: the floor, the statistics' two clock reads"),
		PART(pid_tgid, false, "bpf_get_current_pid_tgid()"),
		PART(ktime, false, "bpf_ktime_get_ns()"),
		PART(bit_test, false, "the pid's bit in vm_bits (an array lookup)"),
		PART(hash_miss, true, "vms lookup of an unwatched pid"),
		PART(hash_hit, true, "vms lookup of a watched pid"),
		PART(hash_scan8, true, "that, and a scan of its 8 ranges"),
		PART(trie_walk, true, "addr_index lookup (LPM trie)"),
		PART(array_lookup, false, "an array lookup (regions)"),
		PART(percpu_add, false, "a per-CPU counter's increment"),
		PART(atomic_add, false, "an atomic add on a shared counter"),
		PART(probe_read, false, "bpf_probe_read_kernel() of 4 bytes"),
		PART(ring_output, false, "bpf_ringbuf_output() of a record, no wakeup"),
	};
	n = sizeof(parts) / sizeof(parts[0]);

	rb = ring_buffer__new(bpf_map__fd(skel->maps.ring), drain, NULL, NULL);
	stats_fd = bpf_enable_stats(BPF_STATS_RUN_TIME);
	if (!rb || stats_fd < 0) {
		err = -errno;
		fprintf(stderr, PROG ": cannot %s: %s\n", rb ? "enable BPF statistics" :
			"open the ring", strerror(errno));
		goto out;
	}
	for (t = 0; t < 2; t++) {
		err = t ? fill_full(skel) : fill_one(skel);
		if (err) {
			fprintf(stderr, PROG ": cannot fill the maps: %s\n", strerror(-err));
			goto out;
		}
		for (int r = 0; r < ROUNDS; r++)
			for (k = 0; k < n; k++) {
				if (t && !parts[k].full)
					continue;
				err = measure(bpf_program__fd(parts[k].prog), runs, rb, &parts[k].ns[t][r]);
				if (err) {
					fprintf(stderr, PROG ": test run of %s failed: %s\n",
						parts[k].name, strerror(-err));
					goto out;
				}
			}
	}
	for (t = 0; t < 2; t++)
		floor[t] = median(parts[0].ns[t]);
	printf("the trap's parts (BPF stats, median of %d rounds of %ld runs; above: less the floor):\n",
	       ROUNDS, runs);
	printf("%-13s %9s %9s %11s %11s  %s\n", "part", "1 VM", "above", "full table", "above", "what");
	for (k = 0; k < n; k++) {
		double one = median(parts[k].ns[0]);

		printf("%-13s %6.0f ns %6.0f ns", parts[k].name, one, k ? one - floor[0] : 0);
		if (parts[k].full) {
			double full = median(parts[k].ns[1]);

			printf(" %8.0f ns %8.0f ns", full, k ? full - floor[1] : 0);
		} else {
			printf(" %11s %11s", "", "");
		}
		printf("  %s\n", parts[k].what);
	}
	err = 0;
out:
	if (stats_fd >= 0)
		close(stats_fd);
	ring_buffer__free(rb);
	costparts_bpf__destroy(skel);
	return err ? 1 : 0;
}
