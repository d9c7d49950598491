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
#include <time.h>
#include <unistd.h>

#include "mmiotrap.h"
#include "emulator.h"
#include "go.h"
#include "kvm_vm.h"
#include "script.h"
#include "testvmm_fds.h"
#include "testvmm_irq.h"

#define PROG		"mmiotrap-testvmm"
#define USAGE		PROG " [-j] [--go FIFO] [--pin-root DIR] [--fast|--slow|--ioeventfd REGION]... [--adopt] [--busy-poll] [--delay-us USEC] [--doorbell BUS:ADDR:LEN[:DATAMATCH]]... [--irqfd GSI[:resample]]... [--irq msi|line:GSI:EVERY:USEC] [--hold FIFO] [-name NAME] STEP..."
#define STEP_SYNTAX	"mmio:ADDR:WIDTH:COUNT[:START[:STEP]]"	\
			", pio:PORT:WIDTH:COUNT[:START[:STEP]]"	\
			" or outs:PORT:WIDTH:COUNT[:START[:STEP]]"
#define PAGE_SIZE	4096U
#define DESC_SIZE	128

/* Guest physical layout: code below the MMIO hole, the rest above it. */
#define GUEST_CODE_GPA	0x1000
#define SCRIPT_GPA	KVM_VM_HOLE_END
#define REP_BUF_GPA	0x20000
#define REP_BUF_END	0xf0000
#define GUEST_STACK_TOP	KVM_VM_RAM_SIZE

extern const uint8_t doorbell_guest_start[], doorbell_guest_end[];

struct stats {
	uint64_t exits_mmio;
	uint64_t exits_pio;
	uint64_t writes;	/* writes the script makes */
	uint64_t seen;		/* of those, writes verified so far */
	uint64_t mismatches;
	uint64_t ns;		/* the guest's run, wall clock */
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

	if (bus == BUS_PIO && width != 1 && width != 2 && width != 4)
		return bad_value(f, F_WIDTH, "width", " (want 1, 2 or 4)");
	if (width != 1 && width != 2 && width != 4 && width != 8)
		return bad_value(f, F_WIDTH, "width", " (want 1, 2, 4 or 8)");
	if (f->val[F_COUNT] == 0)
		return bad_value(f, F_COUNT, "count", " (want at least 1)");
	if (bus == BUS_PIO) {
		if (addr > 0xffff)
			return bad_value(f, F_ADDR, "port",
					 " (want at most 0xffff)");
		return true;
	}
	if (kvm_vm_is_ram(addr, width))
		return bad_value(f, F_ADDR, "address", " (inside guest RAM)");
	/* KVM splits such an access in two exits; this also stops wrapping. */
	if ((addr & (PAGE_SIZE - 1)) + width > PAGE_SIZE)
		return bad_value(f, F_ADDR, "address",
				 " (access crosses a 4 KiB page)");
	return true;
}

/* Parse "BUS:ADDR:WIDTH:COUNT[:START[:STEP]]"; outs is a rep step on pio. */
static bool parse_step(const char *arg, struct script_step *s)
{
	static const char *const names[NR_FIELDS] = {
		"address", "width", "count", "start", "step",
	};
	struct fields f = { .arg = arg, .val = { [F_STEP] = 1 } };
	const char *p = arg;
	size_t n = strcspn(p, ":");
	bool rep = n == 4 && !strncmp(p, "outs", 4);
	enum bus bus;
	int i;

	if (n == 4 && !strncmp(p, "mmio", 4))
		bus = BUS_MMIO;
	else if ((n == 3 && !strncmp(p, "pio", 3)) || rep)
		bus = BUS_PIO;
	else
		return bad_field("bus", p, n, arg, " (want mmio, pio or outs)");

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
		.rep = rep,
		.addr = f.val[F_ADDR],
		.count = f.val[F_COUNT],
		.start = f.val[F_START],
		.step = f.val[F_STEP],
	};
	return true;
}

/* "1,2,4" -> the OR of the widths. */
static bool parse_widths(const char *text, uint8_t *widths)
{
	const char *p = text;

	*widths = 0;
	do {
		if (!strchr("1248", *p) || !*p || (p[1] && p[1] != ','))
			return false;
		*widths |= *p - '0';
		p += p[1] ? 2 : 1;
	} while (*p);
	return true;
}

/* "BUS:ADDR:LEN[:WIDTHS[:FAST_WIDTHS]]" */
static void parse_region(const char *opt, const char *arg, enum emu_kind kind,
			 struct emu_config *cfg)
{
	struct emu_region *r = &cfg->regions[cfg->nregions];
	char buf[128], *f[5] = {}, *save, *end;
	int n = 0;

	if (!arg)
		usage_error("missing region after", opt);
	if (cfg->nregions == EMU_MAX_REGIONS || strlen(arg) >= sizeof(buf))
		usage_error("too many regions at", arg);
	strcpy(buf, arg);
	for (f[0] = strtok_r(buf, ":", &save); f[n] && n < 4; )
		f[++n] = strtok_r(NULL, ":", &save);
	r->kind = kind;
	if (n < 3 || strtok_r(NULL, ":", &save))
		usage_error("bad region (want BUS:ADDR:LEN[:WIDTHS[:FAST_WIDTHS]])", arg);
	if (strcmp(f[0], "mmio") && strcmp(f[0], "pio"))
		usage_error("bad bus in region", arg);
	r->bus = strcmp(f[0], "pio") ? BUS_MMIO : BUS_PIO;
	r->addr = strtoull(f[1], &end, 0);
	if (*end)
		usage_error("bad address in region", arg);
	r->len = strtoull(f[2], &end, 0);
	if (*end || !r->len)
		usage_error("bad length in region", arg);
	if (f[3] && !parse_widths(f[3], &r->widths))
		usage_error("bad widths in region", arg);
	if (f[4] && (kind != EMU_FAST || !parse_widths(f[4], &r->fast_widths)))
		usage_error("bad fast widths in region", arg);
	cfg->nregions++;
}

/* "pause:USEC": the guest tells the VMM to sleep, between bursts. */
static bool parse_pause(const char *arg, struct script_step *s)
{
	char *end;
	unsigned long usec = strtoul(arg + 6, &end, 0);

	if (!isdigit((unsigned char)arg[6]) || *end || usec > UINT32_MAX) {
		fprintf(stderr, PROG ": bad pause '%s' (want pause:USEC)\n", arg);
		return false;
	}
	*s = (struct script_step){
		.bus = BUS_PIO, .width = 4, .addr = PAUSE_PORT, .count = 1, .start = usec,
	};
	return true;
}

/* The rep steps' elements all fit in the guest's rep buffer. */
static void check_rep_room(const struct script *script)
{
	uint64_t bytes = 0;
	uint32_t i;

	for (i = 0; i < script->nsteps; i++)
		if (script->steps[i].rep)
			bytes += (uint64_t)script->steps[i].count * script->steps[i].width;
	if (bytes > REP_BUF_END - REP_BUF_GPA) {
		fprintf(stderr, PROG ": outs steps of %" PRIu64 " bytes in all"
			" (at most %u)\n", bytes, REP_BUF_END - REP_BUF_GPA);
		exit(2);
	}
}

struct options {
	bool json;
	const char *go;
	const char *hold;
	struct emu_config emu;
	struct vmm_fds fds;
	struct vmm_irq irq;
};

static void parse_args(int argc, char **argv, struct script *script, struct options *o)
{
	int i;

	for (i = 1; i < argc; i++) {
		const char *arg = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(arg, "-j")) {
			o->json = true;
		} else if (!strcmp(arg, "--go")) {
			if (!val)
				usage_error("missing FIFO after", arg);
			o->go = argv[++i];
		} else if (!strcmp(arg, "--pin-root")) {
			if (!val)
				usage_error("missing DIR after", arg);
			o->emu.pin_root = argv[++i];
		} else if (!strcmp(arg, "--fast") || !strcmp(arg, "--slow") ||
			   !strcmp(arg, "--ioeventfd")) {
			parse_region(arg, val, !strcmp(arg, "--fast") ? EMU_FAST :
				     !strcmp(arg, "--slow") ? EMU_SLOW : EMU_IOEVENTFD, &o->emu);
			i++;
		} else if (!strcmp(arg, "--doorbell") || !strcmp(arg, "--irqfd")) {
			if (!val)
				usage_error("missing value after", arg);
			if (!strcmp(arg, "--irqfd") ? !vmm_fds_parse_irqfd(&o->fds, val) :
			    !vmm_fds_parse_doorbell(&o->fds, val))
				usage_error("bad or too many", val);
			i++;
		} else if (!strcmp(arg, "--irq")) {
			if (!val || !vmm_irq_parse(&o->irq, val))
				usage_error("bad --irq (msi:EVERY:USEC or line:GSI:EVERY:USEC)",
					    val ? val : "");
			i++;
		} else if (!strcmp(arg, "-name")) {
			/* QEMU's: what 'mmiotrap vm show NAME' finds the VMM by, only that. */
			if (!val)
				usage_error("missing NAME after", arg);
			i++;
		} else if (!strcmp(arg, "--hold")) {
			if (!val)
				usage_error("missing FIFO after", arg);
			o->hold = argv[++i];
		} else if (!strcmp(arg, "--busy-poll")) {
			o->emu.busy_poll = true;
		} else if (!strcmp(arg, "--adopt")) {
			o->emu.adopt = true;
		} else if (!strcmp(arg, "--delay-us")) {
			if (!val)
				usage_error("missing USEC after", arg);
			o->emu.delay_us = strtoul(argv[++i], NULL, 0);
		} else if (!strcmp(arg, "-h") || !strcmp(arg, "--help")) {
			printf("usage: " USAGE "\nSTEP: " STEP_SYNTAX "\n");
			exit(0);
		} else if (arg[0] == '-') {
			usage_error("unknown option", arg);
		} else if (script->nsteps == MAX_STEPS) {
			fprintf(stderr, PROG ": too many steps at '%s'"
				" (at most %d)\n", arg, MAX_STEPS);
			exit(2);
		} else if (!strcmp(arg, "release")) {
			script->steps[script->nsteps++] = (struct script_step){
				.bus = BUS_PIO, .width = 1, .addr = RELEASE_PORT, .count = 1,
			};
		} else if (!strncmp(arg, "pause:", 6) ?
			   !parse_pause(arg, &script->steps[script->nsteps++]) :
			   !parse_step(arg, &script->steps[script->nsteps++])) {
			exit(2);
		}
	}
	if (!script->nsteps) {
		fprintf(stderr, PROG ": no STEP given (usage: " USAGE ")\n");
		exit(2);
	}
	check_rep_room(script);
}

/* Lay out the elements of every rep step, in order, at the rep buffer. */
static int fill_rep_buf(struct kvm_vm *vm, const struct script *script)
{
	uint32_t gpa = script->rep_buf, i;
	struct cursor c = { .script = script };
	struct access a;
	int ret = 0;

	for (i = 0; i < script->nsteps && !ret; i++) {
		if (!script->steps[i].rep)
			continue;
		c.step = i;
		for (c.i = 0; c.i < script->steps[i].count && !ret; c.i++) {
			cursor_expected(&c, &a);
			/* x86 is little-endian, like the host: the low bytes go first. */
			ret = kvm_vm_write(vm, gpa, &a.value, a.width);
			gpa += a.width;
		}
	}
	return ret;
}

static int setup_vm(struct kvm_vm *vm, struct script *script, bool irqchip)
{
	int ret;

	script->rep_buf = REP_BUF_GPA;
	ret = kvm_vm_create(vm, irqchip);
	if (!ret)
		ret = kvm_vm_write(vm, GUEST_CODE_GPA, doorbell_guest_start,
				   doorbell_guest_end - doorbell_guest_start);
	if (!ret)
		ret = kvm_vm_write(vm, SCRIPT_GPA, script, sizeof(*script));
	if (!ret)
		ret = fill_rep_buf(vm, script);
	if (!ret)
		ret = kvm_vcpu_set_entry(vm, GUEST_CODE_GPA, GUEST_STACK_TOP,
					 SCRIPT_GPA);
	if (ret) {
		fprintf(stderr, PROG ": %s: %s\n", vm->err_op, strerror(-ret));
		kvm_vm_destroy(vm);
	}
	return ret;
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

static bool vmm_owns(const struct access *a, uint32_t step, const void *emu)
{
	return !emu || !emu_owns(a, step, emu);
}

/* Return 1 to keep running, 0 once the guest halted, -1 on a mismatch. */
static int handle_exit(const struct kvm_run *run, struct cursor *c,
		       struct emu *emu, struct stats *st, struct vmm_irq *irq, int vm_fd)
{
	struct access got, want;
	char buf[DESC_SIZE];
	int ret;

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
	/* The slow path of the emulator's regions: its callback checks them. */
	ret = emu ? emu_dispatch(emu, run) : 0;
	if (ret)
		return ret > 0 ? 1 : -1;
	if (!cursor_done(c)) {
		cursor_expected(c, &want);
		if (access_equal(&got, &want)) {
			if (got.bus == BUS_PIO && got.addr == PAUSE_PORT)
				usleep(got.value);
			if (got.bus == BUS_PIO && got.addr == RELEASE_PORT && emu &&
			    emu_release(emu))
				return -1;
			st->seen++;
			cursor_advance(c);
			ret = got.bus == BUS_MMIO ? vmm_irq_after_write(irq, vm_fd) : 0;
			if (ret) {
				fprintf(stderr, PROG ": cannot signal an interrupt: %s\n",
					strerror(-ret));
				return -1;
			}
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
static int run_guest(struct kvm_vm *vm, struct cursor *c, struct emu *emu,
		     struct stats *st, struct vmm_irq *irq)
{
	uint64_t start = mmiotrap_now_ns();
	int ret;

	do {
		ret = kvm_vcpu_run(vm);
		if (ret) {
			fprintf(stderr, PROG ": %s: %s\n", vm->err_op,
				strerror(-ret));
			return -1;
		}
		ret = handle_exit(vm->run, c, emu, st, irq, vm->vm_fd);
		/* Its hlt will not exit: the script's last write the VMM sees ends the run. */
		if (ret > 0 && vm->irqchip && cursor_done(c))
			ret = 0;
	} while (ret > 0);
	st->ns = mmiotrap_now_ns() - start;
	if (ret < 0)
		st->mismatches++;
	return ret;
}

static void print_stats(const struct stats *st, const struct emu *emu,
			const struct vmm_fds *fds, const struct vmm_irq *irq, bool json)
{
	if (!json) {
		printf("exits mmio=%" PRIu64 " pio=%" PRIu64 " writes=%" PRIu64
		       " mismatches=%" PRIu64 "\n",
		       st->exits_mmio, st->exits_pio, st->writes,
		       st->mismatches);
		return;
	}
	printf("{\"exits_mmio\":%" PRIu64 ",\"exits_pio\":%" PRIu64
	       ",\"writes\":%" PRIu64 ",\"mismatches\":%" PRIu64
	       ",\"ns_per_write\":%" PRIu64,
	       st->exits_mmio, st->exits_pio, st->writes, st->mismatches,
	       st->ns / st->writes);
	if (emu)
		emu_report(emu, stdout);
	if (irq->every)
		printf(",\"irqs\":%" PRIu64, irq->sent);
	vmm_fds_report(fds, stdout);
	printf("}\n");
}

/* The guest is done: every write must have reached the VMM or the emulator. */
static int check_done(const struct script *script, const struct stats *st, struct emu *emu)
{
	uint64_t vmm_writes = script_writes(script, vmm_owns, emu);
	int bad = 0;

	if (st->seen != vmm_writes) {
		fprintf(stderr, PROG ": guest halted after %" PRIu64 " of %"
			PRIu64 " writes\n", st->seen, vmm_writes);
		bad = 1;
	}
	/* Ten seconds is forever for a record: one still missing was stranded. */
	if (emu && emu_finish(emu, 10000))
		bad = 1;
	return bad;
}

int main(int argc, char **argv)
{
	struct script script = { 0 };
	struct options opts = {};
	struct emu *emu = NULL;
	struct stats st = { 0 };
	struct cursor c;
	struct kvm_vm vm;
	const char *op;
	int ret, err;

	parse_args(argc, argv, &script, &opts);
	st.writes = script_writes(&script, NULL, NULL);
	if (setup_vm(&vm, &script, opts.fds.nirqfds || opts.irq.every))
		return 2;
	if (opts.go && wait_for_go(PROG, opts.go)) {
		kvm_vm_destroy(&vm);
		return 2;
	}
	/* After the go: a policy may have asked for fast regions meanwhile. */
	if (opts.emu.nregions || opts.emu.adopt) {
		err = emu_start(&emu, &opts.emu, vm.vm_fd, &script);
		if (err) {
			fprintf(stderr, PROG ": emulator: %s\n", strerror(-err));
			emu_stop(emu);
			kvm_vm_destroy(&vm);
			return 2;
		}
	}
	err = vmm_fds_register(&opts.fds, vm.vm_fd, &op);
	if (err)
		fprintf(stderr, PROG ": %s: %s\n", op, strerror(-err));
	if (err || (opts.hold && vmm_fds_hold(&opts.fds, PROG, opts.hold))) {
		vmm_fds_close(&opts.fds);
		emu_stop(emu);
		kvm_vm_destroy(&vm);
		return 2;
	}
	cursor_init(&c, &script, vmm_owns, emu);
	ret = run_guest(&vm, &c, emu, &st, &opts.irq);
	if (!ret)
		ret = check_done(&script, &st, emu);
	print_stats(&st, emu, &opts.fds, &opts.irq, opts.json);
	vmm_fds_close(&opts.fds);
	emu_stop(emu);
	kvm_vm_destroy(&vm);
	return ret || st.mismatches;
}
