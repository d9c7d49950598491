// SPDX-License-Identifier: GPL-2.0
/*
 * mmiotrap-inject: doorbell writes without a VM, through the trap itself.
 *
 * BPF_PROG_TEST_RUN runs a raw_tp program on an argument array of our
 * making, in the calling thread: to the trap this process is the VMM and
 * the thread that runs the steps is its vCPU. So the trap can be tested
 * where there is no /dev/kvm. The instance must be loaded with
 * 'mmiotrap load --attach raw_tp'; its pinned links lead to the programs.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>

#include "mmiotrap.h"
#include "mmiotrap_abi.h"
#include "go.h"

#define PROG		"mmiotrap-inject"
#define USAGE		PROG " [-j] [--go FIFO] [--pin-root DIR] STEP..."
#define STEP_SYNTAX	"{mmio|pio|read|in}:ADDR:WIDTH:COUNT[:START[:STEP]], outs:PORT:WIDTH:N," \
			" fast:ADDR:COUNT[:STRIDE], msi:ADDR:DATA[:COUNT] or line:GSI:LEVEL[:COUNT]"
#define MAX_STEPS	64
/* kvm_mmio's type and kvm_pio's rw, as the kernel traces them. */
#define KVM_TRACE_MMIO_READ	1
#define KVM_TRACE_MMIO_WRITE	2
#define KVM_PIO_IN		0
#define KVM_PIO_OUT		1
/* More than the trap looks at, so that its cut-off is tested. */
#define OUTS_MAX		64

enum kind { MMIO_WRITE, MMIO_READ, PIO_OUT, PIO_IN, PIO_OUTS, FAST_MMIO, MSI, LINE };

struct step {
	const char *arg;
	enum kind kind;
	uint64_t addr;
	uint32_t width;
	uint32_t count;
	uint64_t start;
	uint64_t step;
};

struct injector {
	int mmio_fd;		/* raw_tp_mmio */
	int pio_fd;		/* raw_tp_pio */
	int fast_fd;		/* raw_tp_fast_mmio, where the kernel has it */
	int msi_fd;		/* raw_tp_msi, where the kernel has it */
	int line_fd;		/* raw_tp_line, where the kernel has it */
	bool mmio_val_is_ptr;	/* as the instance was loaded */
	struct step steps[MAX_STEPS];
	int nsteps;
	uint64_t runs;
	pid_t tid;
	int err;
};

static void usage_error(const char *msg, const char *arg)
{
	fprintf(stderr, PROG ": %s '%s' (usage: " USAGE ")\n", msg, arg);
	exit(2);
}

static const struct {
	const char *name;
	enum kind kind;
} kinds[] = {
	{ "mmio", MMIO_WRITE }, { "read", MMIO_READ }, { "pio", PIO_OUT },
	{ "in", PIO_IN }, { "outs", PIO_OUTS }, { "fast", FAST_MMIO },
	{ "msi", MSI }, { "line", LINE },
};

/* A whole field as a number; strtoull alone accepts signs and blanks. */
static bool parse_u64(const char *s, uint64_t *val)
{
	char *end;

	if (!isdigit((unsigned char)*s))
		return false;
	errno = 0;
	*val = strtoull(s, &end, 0);
	return !errno && end != s && (!*end || *end == ':');
}

static bool parse_step(const char *arg, struct step *s)
{
	uint64_t f[5] = { [3] = 0, [4] = 1 };
	const char *p = strchr(arg, ':');
	size_t i, n = 0;

	*s = (struct step){ .arg = arg };
	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (p && strlen(kinds[i].name) == (size_t)(p - arg) &&
		    !strncmp(arg, kinds[i].name, p - arg))
			break;
	if (i == sizeof(kinds) / sizeof(kinds[0]))
		return false;
	s->kind = kinds[i].kind;
	for (; p && n < 5; p = strchr(p + 1, ':'))
		if (!parse_u64(p + 1, &f[n++]))
			return false;
	/* A fast MMIO write has an address and nothing else: COUNT of them, STRIDE apart. */
	if (s->kind == FAST_MMIO) {
		s->addr = f[0];
		s->count = f[1];
		s->step = n == 3 ? f[2] : 0;
		return !p && (n == 2 || n == 3) && s->count >= 1 && f[1] == s->count;
	}
	/* An interrupt: an MSI's address and data, or a line's GSI and level, COUNT times. */
	if (s->kind == MSI || s->kind == LINE) {
		s->addr = f[0];
		s->start = f[1];
		s->count = n == 3 ? f[2] : 1;
		return !p && (n == 2 || n == 3) && s->count >= 1 && (n == 2 || f[2] == s->count) &&
		       (s->kind == MSI || (s->addr <= UINT32_MAX && s->start <= INT32_MAX));
	}
	if (p || n < 3 || (s->kind == PIO_OUTS && n != 3))
		return false;
	s->addr = f[0];
	s->width = f[1];
	s->count = f[2];
	s->start = f[3];
	s->step = f[4];
	/* The trap must cope with any length the kernel could pass: up to 8. */
	if (s->width < 1 || s->width > 8 || f[1] != s->width)
		return false;
	if (s->kind == PIO_OUTS)
		return s->count >= 1 && s->count <= OUTS_MAX;
	return s->count >= 1 && f[2] == s->count &&
	       (s->kind == MMIO_WRITE || s->kind == MMIO_READ || s->addr <= 0xffff);
}

struct options {
	bool json;
	const char *go;
	const char *pin_root;
};

static void parse_args(int argc, char **argv, struct injector *inj, struct options *o)
{
	int i;

	o->pin_root = getenv("MMIOTRAP_PIN_ROOT");
	if (!o->pin_root || !*o->pin_root)
		o->pin_root = MMIOTRAP_PIN_ROOT_DEFAULT;
	for (i = 1; i < argc; i++) {
		const char *arg = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(arg, "-j")) {
			o->json = true;
		} else if (!strcmp(arg, "--go") || !strcmp(arg, "--pin-root")) {
			if (!val)
				usage_error("missing argument after", arg);
			*(strcmp(arg, "--go") ? &o->pin_root : &o->go) = argv[++i];
		} else if (!strcmp(arg, "-h") || !strcmp(arg, "--help")) {
			printf("usage: " USAGE "\nSTEP: " STEP_SYNTAX "\n");
			exit(0);
		} else if (arg[0] == '-') {
			usage_error("unknown option", arg);
		} else if (inj->nsteps == MAX_STEPS) {
			usage_error("too many steps at", arg);
		} else if (!parse_step(arg, &inj->steps[inj->nsteps++])) {
			fprintf(stderr, PROG ": bad step '%s' (want " STEP_SYNTAX
				", WIDTH 1 to 8, PORT at most 0xffff, N at most %d)\n",
				arg, OUTS_MAX);
			exit(2);
		}
	}
	if (!inj->nsteps)
		usage_error("no STEP given", "");
}

/* The program behind a pinned link. */
static int link_prog_of(const char *root, const char *name, bool quiet)
{
	struct bpf_link_info info = {};
	__u32 len = sizeof(info);
	char path[4096];
	int link, prog = -1;

	snprintf(path, sizeof(path), "%s/links/%s", root, name);
	link = bpf_obj_get(path);
	if (link < 0) {
		if (!quiet)
			fprintf(stderr, PROG ": %s: %s (load with 'mmiotrap load --attach raw_tp')\n",
				path, strerror(errno));
		return -1;
	}
	if (bpf_obj_get_info_by_fd(link, &info, &len))
		fprintf(stderr, PROG ": %s: link info: %s\n", path, strerror(errno));
	else if ((prog = bpf_prog_get_fd_by_id(info.prog_id)) < 0)
		fprintf(stderr, PROG ": %s: program %u: %s\n", path, info.prog_id,
			strerror(errno));
	close(link);
	return prog;
}

static int link_prog(const char *root, const char *name)
{
	return link_prog_of(root, name, false);
}

static int link_prog_quiet(const char *root, const char *name)
{
	return link_prog_of(root, name, true);
}

/* Find @var in the instance's read-only data (map @map_id) and read its byte. */
static int rodata_byte(__u32 map_id, const char *var, bool *val)
{
	struct bpf_map_info info = {};
	const struct btf_var_secinfo *vs;
	const struct btf_type *sec;
	__u32 len = sizeof(info), zero = 0;
	struct btf *btf = NULL;
	int fd, i, ret = -ENOENT;
	char *data = NULL;

	fd = bpf_map_get_fd_by_id(map_id);
	if (fd < 0)
		return -errno;
	if (bpf_obj_get_info_by_fd(fd, &info, &len) || !info.btf_id ||
	    !strstr(info.name, ".rodata"))
		goto cleanup;
	btf = btf__load_from_kernel_by_id(info.btf_id);
	data = calloc(1, info.value_size);
	if (!btf || !data || bpf_map_lookup_elem(fd, &zero, data))
		goto cleanup;
	sec = btf__type_by_id(btf, info.btf_value_type_id);
	if (!sec || !btf_is_datasec(sec))
		goto cleanup;
	for (i = 0, vs = btf_var_secinfos(sec); i < btf_vlen(sec); i++, vs++) {
		const struct btf_type *v = btf__type_by_id(btf, vs->type);

		if (v && !strcmp(btf__name_by_offset(btf, v->name_off), var) &&
		    vs->offset < info.value_size) {
			*val = data[vs->offset];
			ret = 0;
		}
	}
cleanup:
	free(data);
	btf__free(btf);
	close(fd);
	return ret;
}

/* Old kernels trace the MMIO value itself: pass what the trap was loaded for. */
static int read_val_is_ptr(struct injector *inj)
{
	struct bpf_prog_info info = {};
	__u32 ids[16], len = sizeof(info), i;

	info.nr_map_ids = sizeof(ids) / sizeof(ids[0]);
	info.map_ids = (__u64)(unsigned long)ids;
	if (bpf_obj_get_info_by_fd(inj->mmio_fd, &info, &len))
		return -errno;
	for (i = 0; i < info.nr_map_ids && i < sizeof(ids) / sizeof(ids[0]); i++)
		if (!rodata_byte(ids[i], "mmio_val_is_ptr", &inj->mmio_val_is_ptr))
			return 0;
	return -ENOENT;
}

static int open_progs(struct injector *inj, const char *root)
{
	int err;

	inj->mmio_fd = link_prog(root, "raw_tp_mmio");
	inj->pio_fd = link_prog(root, "raw_tp_pio");
	if (inj->mmio_fd < 0 || inj->pio_fd < 0)
		return -1;
	/* Optional, as their tracepoints: a step without its program fails when it runs. */
	inj->fast_fd = link_prog_quiet(root, "raw_tp_fast_mmio");
	inj->msi_fd = link_prog_quiet(root, "raw_tp_msi");
	inj->line_fd = link_prog_quiet(root, "raw_tp_line");
	err = read_val_is_ptr(inj);
	if (err)
		fprintf(stderr, PROG ": raw_tp_mmio: cannot read mmio_val_is_ptr: %s\n",
			strerror(-err));
	return err;
}

/* One tracepoint hit: @args as the kernel would pass them. */
static int test_run(struct injector *inj, const struct step *s, int fd,
		    __u64 *args, size_t nargs)
{
	LIBBPF_OPTS(bpf_test_run_opts, opts, .ctx_in = args,
		    .ctx_size_in = nargs * sizeof(*args));

	if (bpf_prog_test_run_opts(fd, &opts)) {
		fprintf(stderr, PROG ": BPF_PROG_TEST_RUN of %s for step '%s' failed: %s\n",
			fd == inj->mmio_fd ? "raw_tp_mmio" : fd == inj->pio_fd ? "raw_tp_pio" :
			fd == inj->msi_fd ? "raw_tp_msi" : fd == inj->line_fd ? "raw_tp_line" :
			"raw_tp_fast_mmio", s->arg,
			strerror(errno));
		return -1;
	}
	inj->runs++;
	return 0;
}

static int run_step(struct injector *inj, const struct step *s)
{
	uint64_t mask = s->width == 8 ? ~0ULL : (1ULL << (8 * s->width)) - 1;
	uint64_t value, data[OUTS_MAX];
	uint32_t i;

	if (s->kind == FAST_MMIO) {
		for (i = 0; i < s->count; i++)
			if (test_run(inj, s, inj->fast_fd, (__u64[]){ s->addr + i * s->step }, 1))
				return -1;
		return 0;
	}
	/* kvm_msi_set_irq(address, data); kvm_set_irq(gsi, level, irq_source_id). */
	for (i = 0; s->kind == MSI && i < s->count; i++)
		if (test_run(inj, s, inj->msi_fd, (__u64[]){ s->addr, s->start }, 2))
			return -1;
	for (i = 0; s->kind == LINE && i < s->count; i++)
		if (test_run(inj, s, inj->line_fd, (__u64[]){ s->addr, s->start, 0 }, 3))
			return -1;
	if (s->kind == MSI || s->kind == LINE)
		return 0;
	if (s->kind == PIO_OUTS) {
		/* String I/O: one exit, COUNT elements of WIDTH bytes, values 1..N. */
		for (i = 0; i < s->count; i++)
			memcpy((char *)data + i * s->width, &(uint64_t){ i + 1 }, s->width);
		return test_run(inj, s, inj->pio_fd, (__u64[]){ KVM_PIO_OUT, s->addr,
				s->width, s->count, (__u64)(unsigned long)data }, 5);
	}
	for (i = 0; i < s->count; i++) {
		/* Little-endian, like the guest's bytes; the trap reads WIDTH of them. */
		value = (s->start + i * s->step) & mask;
		if ((s->kind == MMIO_WRITE || s->kind == MMIO_READ) &&
		    test_run(inj, s, inj->mmio_fd, (__u64[]){
				s->kind == MMIO_WRITE ? KVM_TRACE_MMIO_WRITE : KVM_TRACE_MMIO_READ,
				s->width, s->addr, inj->mmio_val_is_ptr ?
				(__u64)(unsigned long)&value : value }, 4))
			return -1;
		if ((s->kind == PIO_OUT || s->kind == PIO_IN) &&
		    test_run(inj, s, inj->pio_fd, (__u64[]){
				s->kind == PIO_OUT ? KVM_PIO_OUT : KVM_PIO_IN, s->addr,
				s->width, 1, (__u64)(unsigned long)&value }, 5))
			return -1;
	}
	return 0;
}

/* The "vCPU": a thread of its own, so that its tid is not the pid. */
static void *vcpu(void *arg)
{
	struct injector *inj = arg;
	int i;

	inj->tid = syscall(SYS_gettid);
	for (i = 0; i < inj->nsteps && !inj->err; i++)
		inj->err = run_step(inj, &inj->steps[i]);
	return NULL;
}

int main(int argc, char **argv)
{
	struct injector inj = {
		.mmio_fd = -1, .pio_fd = -1, .fast_fd = -1, .msi_fd = -1, .line_fd = -1,
	};
	struct options opts = {};
	pthread_t thread;
	int err;

	parse_args(argc, argv, &inj, &opts);
	/* Only after the go can a failure not leave the test blocked on the FIFO. */
	if (opts.go && wait_for_go(PROG, opts.go))
		return 2;
	if (open_progs(&inj, opts.pin_root))
		return 2;
	err = pthread_create(&thread, NULL, vcpu, &inj);
	if (err) {
		fprintf(stderr, PROG ": pthread_create: %s\n", strerror(err));
		return 2;
	}
	pthread_join(thread, NULL);
	if (opts.json)
		printf("{\"pid\":%d,\"vcpu_tid\":%d,\"runs\":%" PRIu64 ",\"ok\":%s}\n",
		       getpid(), inj.tid, inj.runs, inj.err ? "false" : "true");
	else
		printf("pid %d vcpu_tid %d runs %" PRIu64 "%s\n", getpid(), inj.tid,
		       inj.runs, inj.err ? " (failed)" : "");
	close(inj.mmio_fd);
	close(inj.pio_fd);
	if (inj.fast_fd >= 0)
		close(inj.fast_fd);
	if (inj.msi_fd >= 0)
		close(inj.msi_fd);
	if (inj.line_fd >= 0)
		close(inj.line_fd);
	return inj.err ? 1 : 0;
}
