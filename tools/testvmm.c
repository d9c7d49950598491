// SPDX-License-Identifier: GPL-2.0
/*
 * mmiotrap-testvmm: a minimal KVM VMM whose guest rings doorbells.
 *
 * The steps on the command line become a script that the guest
 * (doorbell_guest.S) runs: a series of MMIO or port I/O writes. The VMM
 * handles every exit itself and checks each one against the next write
 * the script is expected to make, then prints how many exits it saw.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kvm_vm.h"

#define PROG		"mmiotrap-testvmm"
#define USAGE		PROG " [-j] [--go FIFO] STEP..."
#define STEP_SYNTAX	"mmio:ADDR:WIDTH:COUNT[:START[:STEP]]"	\
			" or pio:PORT:WIDTH:COUNT[:START[:STEP]]"
#define MAX_STEPS	16
#define PAGE_SIZE	4096U
#define DESC_SIZE	128

/* Guest physical layout. The guest uses no stack but gets a valid one. */
#define GUEST_CODE_GPA	0x1000
#define SCRIPT_GPA	0x10000
#define GUEST_STACK_TOP	KVM_VM_RAM_SIZE

enum bus { BUS_MMIO, BUS_PIO };

/* The script the guest interprets; the layout is shared with the guest. */
struct script_step {
	uint8_t bus;
	uint8_t width;
	uint16_t pad;
	uint32_t addr;
	uint32_t count;
	uint32_t start;
	uint32_t step;
};
_Static_assert(sizeof(struct script_step) == 20, "see doorbell_guest.S");

struct script {
	uint32_t nsteps;
	struct script_step steps[MAX_STEPS];
};

extern const uint8_t doorbell_guest_start[], doorbell_guest_end[];

/* One guest access: the next one the script makes, or one an exit reports. */
struct access {
	enum bus bus;
	bool write;
	uint64_t addr;
	uint32_t width;
	uint32_t count;		/* > 1 only for string port I/O */
	uint64_t value;
};

/* Where the guest is in the script, as far as the exits tell. */
struct cursor {
	const struct script *script;
	uint32_t step;
	uint32_t i;
};

struct stats {
	uint64_t exits_mmio;
	uint64_t exits_pio;
	uint64_t writes;	/* writes the script makes */
	uint64_t seen;		/* of those, writes verified so far */
	uint64_t mismatches;
};

static void usage_error(const char *msg, const char *arg)
{
	fprintf(stderr, PROG ": %s '%s' (usage: " USAGE ")\n", msg, arg);
	exit(2);
}

/* Complain about one field of a step, quoting it and the whole step. */
static bool bad_field(const char *what, const char *field, size_t len,
		      const char *arg, const char *hint)
{
	fprintf(stderr, PROG ": bad %s '%.*s' in '%s'%s\n",
		what, (int)len, field, arg, hint);
	return false;
}

/* Parse a whole field as a 32-bit number; strtoull alone accepts signs. */
static bool parse_u32(const char *s, size_t len, uint32_t *val)
{
	unsigned long long v;
	char *end;

	if (!isdigit((unsigned char)*s))
		return false;
	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end != s + len || v > UINT32_MAX)
		return false;
	*val = v;
	return true;
}

/* The numeric fields of a step, as parsed and as they appear in @arg. */
enum { F_ADDR, F_WIDTH, F_COUNT, F_START, F_STEP, NR_FIELDS };

struct fields {
	const char *arg;
	uint32_t val[NR_FIELDS];
	const char *text[NR_FIELDS];
	size_t len[NR_FIELDS];
};

static bool bad_value(const struct fields *f, int i, const char *what,
		      const char *hint)
{
	return bad_field(what, f->text[i], f->len[i], f->arg, hint);
}

static bool check_fields(enum bus bus, const struct fields *f)
{
	uint32_t addr = f->val[F_ADDR];
	uint32_t width = f->val[F_WIDTH];

	if (width != 1 && width != 2 && width != 4)
		return bad_value(f, F_WIDTH, "width", " (want 1, 2 or 4)");
	if (f->val[F_COUNT] == 0)
		return bad_value(f, F_COUNT, "count", " (want at least 1)");
	if (bus == BUS_PIO) {
		if (addr > 0xffff)
			return bad_value(f, F_ADDR, "port",
					 " (want at most 0xffff)");
		return true;
	}
	if (addr < KVM_VM_RAM_SIZE)
		return bad_value(f, F_ADDR, "address", " (inside guest RAM)");
	/* KVM splits such an access in two exits; this also stops wrapping. */
	if ((addr & (PAGE_SIZE - 1)) + width > PAGE_SIZE)
		return bad_value(f, F_ADDR, "address",
				 " (access crosses a 4 KiB page)");
	return true;
}

/* Parse "BUS:ADDR:WIDTH:COUNT[:START[:STEP]]". */
static bool parse_step(const char *arg, struct script_step *s)
{
	static const char *const names[NR_FIELDS] = {
		"address", "width", "count", "start", "step",
	};
	struct fields f = { .arg = arg, .val = { [F_STEP] = 1 } };
	const char *p = arg;
	size_t n = strcspn(p, ":");
	enum bus bus;
	int i;

	if (n == 4 && !strncmp(p, "mmio", 4))
		bus = BUS_MMIO;
	else if (n == 3 && !strncmp(p, "pio", 3))
		bus = BUS_PIO;
	else
		return bad_field("bus", p, n, arg, " (want mmio or pio)");

	for (i = 0; p[n] == ':' && i < NR_FIELDS; i++) {
		p += n + 1;
		n = strcspn(p, ":");
		f.text[i] = p;
		f.len[i] = n;
		if (!parse_u32(p, n, &f.val[i]))
			return bad_value(&f, i, i == F_ADDR && bus == BUS_PIO ?
					 "port" : names[i], "");
	}
	if (i <= F_COUNT || p[n] == ':') {
		fprintf(stderr, PROG ": bad step '%s' (want " STEP_SYNTAX ")\n",
			arg);
		return false;
	}
	if (!check_fields(bus, &f))
		return false;
	*s = (struct script_step){
		.bus = bus,
		.width = f.val[F_WIDTH],
		.addr = f.val[F_ADDR],
		.count = f.val[F_COUNT],
		.start = f.val[F_START],
		.step = f.val[F_STEP],
	};
	return true;
}

static void parse_args(int argc, char **argv, struct script *script,
		       bool *json, const char **go)
{
	int i;

	for (i = 1; i < argc; i++) {
		const char *arg = argv[i];

		if (!strcmp(arg, "-j")) {
			*json = true;
		} else if (!strcmp(arg, "--go")) {
			if (++i == argc)
				usage_error("missing FIFO after", arg);
			*go = argv[i];
		} else if (!strcmp(arg, "-h") || !strcmp(arg, "--help")) {
			printf("usage: " USAGE "\nSTEP: " STEP_SYNTAX "\n");
			exit(0);
		} else if (arg[0] == '-') {
			usage_error("unknown option", arg);
		} else if (script->nsteps == MAX_STEPS) {
			fprintf(stderr, PROG ": too many steps at '%s'"
				" (at most %d)\n", arg, MAX_STEPS);
			exit(2);
		} else if (!parse_step(arg, &script->steps[script->nsteps++])) {
			exit(2);
		}
	}
	if (!script->nsteps) {
		fprintf(stderr, PROG ": no STEP given (usage: " USAGE ")\n");
		exit(2);
	}
}

static int setup_vm(struct kvm_vm *vm, const struct script *script)
{
	int ret;

	ret = kvm_vm_create(vm);
	if (!ret)
		ret = kvm_vm_write(vm, GUEST_CODE_GPA, doorbell_guest_start,
				   doorbell_guest_end - doorbell_guest_start);
	if (!ret)
		ret = kvm_vm_write(vm, SCRIPT_GPA, script, sizeof(*script));
	if (!ret)
		ret = kvm_vcpu_set_entry(vm, GUEST_CODE_GPA, GUEST_STACK_TOP,
					 SCRIPT_GPA);
	if (ret) {
		fprintf(stderr, PROG ": %s: %s\n", vm->err_op, strerror(-ret));
		kvm_vm_destroy(vm);
	}
	return ret;
}

/*
 * Block until the test writes to (or just opens and closes) the FIFO,
 * so that it can attach to this process, which already owns a VM.
 */
static int wait_for_go(const char *path)
{
	ssize_t n;
	char c;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, PROG ": %s: %s\n", path, strerror(errno));
		return -1;
	}
	do {
		n = read(fd, &c, 1);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		fprintf(stderr, PROG ": %s: %s\n", path, strerror(errno));
	close(fd);
	return n < 0 ? -1 : 0;
}

static bool cursor_done(const struct cursor *c)
{
	return c->step == c->script->nsteps;
}

static void cursor_expected(const struct cursor *c, struct access *a)
{
	const struct script_step *s = &c->script->steps[c->step];
	/* 32-bit arithmetic wraps just like the guest's. */
	uint32_t value = s->start + c->i * s->step;

	*a = (struct access){
		.bus = s->bus,
		.write = true,
		.addr = s->addr,
		.width = s->width,
		.count = 1,
		.value = value & (uint32_t)((1ULL << (8 * s->width)) - 1),
	};
}

static void cursor_advance(struct cursor *c)
{
	if (++c->i == c->script->steps[c->step].count) {
		c->i = 0;
		c->step++;
	}
}

static void mmio_access(const struct kvm_run *run, struct access *a)
{
	uint32_t len = run->mmio.len;

	*a = (struct access){
		.bus = BUS_MMIO,
		.write = run->mmio.is_write,
		.addr = run->mmio.phys_addr,
		.width = len,
		.count = 1,
	};
	memcpy(&a->value, run->mmio.data, len < 8 ? len : 8);
}

static void pio_access(const struct kvm_run *run, struct access *a)
{
	uint32_t size = run->io.size;

	*a = (struct access){
		.bus = BUS_PIO,
		.write = run->io.direction == KVM_EXIT_IO_OUT,
		.addr = run->io.port,
		.width = size,
		.count = run->io.count,
	};
	/* For string I/O, only the first element is shown. */
	memcpy(&a->value, (const char *)run + run->io.data_offset,
	       size < 8 ? size : 8);
}

static bool access_equal(const struct access *a, const struct access *b)
{
	return a->bus == b->bus && a->write == b->write &&
	       a->addr == b->addr && a->width == b->width &&
	       a->count == b->count && a->value == b->value;
}

/* DESC_SIZE fits the longest description, so n never exceeds it. */
static void describe_access(char buf[DESC_SIZE], const struct access *a)
{
	int n;

	if (a->bus == BUS_MMIO)
		n = snprintf(buf, DESC_SIZE, "mmio %s addr=0x%" PRIx64 " len=%u",
			     a->write ? "write" : "read", a->addr, a->width);
	else
		n = snprintf(buf, DESC_SIZE, "pio %s port=0x%" PRIx64 " size=%u",
			     a->write ? "out" : "in", a->addr, a->width);
	/* A read's data is for the VMM to fill in; there is nothing to show. */
	if (a->write)
		n += snprintf(buf + n, DESC_SIZE - n, " value=0x%" PRIx64,
			      a->value);
	if (a->count != 1)
		snprintf(buf + n, DESC_SIZE - n, " count=%u", a->count);
}

static void describe_exit(char buf[DESC_SIZE], const struct kvm_run *run)
{
	switch (run->exit_reason) {
	case KVM_EXIT_SHUTDOWN:
		snprintf(buf, DESC_SIZE, "exit SHUTDOWN (guest triple fault)");
		break;
	case KVM_EXIT_FAIL_ENTRY:
		snprintf(buf, DESC_SIZE, "exit FAIL_ENTRY (reason 0x%llx)",
			 run->fail_entry.hardware_entry_failure_reason);
		break;
	case KVM_EXIT_INTERNAL_ERROR:
		snprintf(buf, DESC_SIZE, "exit INTERNAL_ERROR (suberror %u)",
			 run->internal.suberror);
		break;
	default:
		snprintf(buf, DESC_SIZE, "exit reason %u", run->exit_reason);
		break;
	}
}

static void report_mismatch(const struct cursor *c, const char *got)
{
	struct access want;
	char wanted[DESC_SIZE];

	if (cursor_done(c)) {
		fprintf(stderr, PROG ": after the last write: wanted hlt,"
			" got %s\n", got);
		return;
	}
	cursor_expected(c, &want);
	describe_access(wanted, &want);
	fprintf(stderr, PROG ": step %u write i=%u: wanted %s, got %s\n",
		c->step + 1, c->i, wanted, got);
}

/* Return 1 to keep running, 0 once the guest halted, -1 on a mismatch. */
static int handle_exit(const struct kvm_run *run, struct cursor *c,
		       struct stats *st)
{
	struct access got, want;
	char buf[DESC_SIZE];

	switch (run->exit_reason) {
	case KVM_EXIT_HLT:
		return 0;
	case KVM_EXIT_MMIO:
		st->exits_mmio++;
		mmio_access(run, &got);
		break;
	case KVM_EXIT_IO:
		st->exits_pio++;
		pio_access(run, &got);
		break;
	default:
		describe_exit(buf, run);
		report_mismatch(c, buf);
		return -1;
	}
	if (!cursor_done(c)) {
		cursor_expected(c, &want);
		if (access_equal(&got, &want)) {
			st->seen++;
			cursor_advance(c);
			return 1;
		}
	}
	describe_access(buf, &got);
	report_mismatch(c, buf);
	return -1;
}

/*
 * Run the guest until it halts, checking each exit against the next
 * write of the script. Return 0 if it halted, -1 if a mismatch or an
 * error cut the run short.
 */
static int run_guest(struct kvm_vm *vm, struct cursor *c, struct stats *st)
{
	int ret;

	do {
		ret = kvm_vcpu_run(vm);
		if (ret) {
			fprintf(stderr, PROG ": %s: %s\n", vm->err_op,
				strerror(-ret));
			return -1;
		}
		ret = handle_exit(vm->run, c, st);
	} while (ret > 0);
	if (ret < 0)
		st->mismatches++;
	return ret;
}

static void print_stats(const struct stats *st, bool json)
{
	if (json)
		printf("{\"exits_mmio\":%" PRIu64 ",\"exits_pio\":%" PRIu64
		       ",\"writes\":%" PRIu64 ",\"mismatches\":%" PRIu64 "}\n",
		       st->exits_mmio, st->exits_pio, st->writes,
		       st->mismatches);
	else
		printf("exits mmio=%" PRIu64 " pio=%" PRIu64 " writes=%" PRIu64
		       " mismatches=%" PRIu64 "\n",
		       st->exits_mmio, st->exits_pio, st->writes,
		       st->mismatches);
}

int main(int argc, char **argv)
{
	struct script script = { 0 };
	struct cursor c = { .script = &script };
	struct stats st = { 0 };
	const char *go = NULL;
	bool json = false;
	struct kvm_vm vm;
	uint32_t i;
	int ret;

	parse_args(argc, argv, &script, &json, &go);
	for (i = 0; i < script.nsteps; i++)
		st.writes += script.steps[i].count;
	if (setup_vm(&vm, &script))
		return 2;
	if (go && wait_for_go(go)) {
		kvm_vm_destroy(&vm);
		return 2;
	}
	ret = run_guest(&vm, &c, &st);
	kvm_vm_destroy(&vm);
	if (!ret && st.seen != st.writes)
		fprintf(stderr, PROG ": guest halted after %" PRIu64 " of %"
			PRIu64 " writes\n", st.seen, st.writes);
	print_stats(&st, json);
	return ret || st.mismatches || st.seen != st.writes;
}
