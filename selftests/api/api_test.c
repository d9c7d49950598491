// SPDX-License-Identifier: GPL-2.0
/*
 * The public API's contract, against a real loaded instance (the pin root
 * in $MMIOTRAP_PIN_ROOT, loaded by the suite): opts from older and newer
 * headers, NULL handles, and the print callback saying why a call failed.
 * The regions belong to this process. Prints "N passed, N failed".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "mmiotrap.h"
#include "mmiotrap_rules.h"

static int passed, failed;
static char said[512];

static int keep(enum mmiotrap_print_level level, const char *fmt, va_list ap)
{
	if (level == MMIOTRAP_WARN)
		vsnprintf(said, sizeof(said), fmt, ap);
	return 0;
}

#define CHECK(what, got, want) check(what, (long long)(got), (long long)(want))

static void check(const char *what, long long got, long long want)
{
	if (got == want) {
		passed++;
		return;
	}
	failed++;
	printf("FAIL %s: wanted %lld, got %lld\n", what, want, got);
}

/* The call failed with @err and the library said something containing @part. */
static void check_said(const char *what, long long got, long long err, const char *part)
{
	check(what, got, err);
	if (strstr(said, part)) {
		passed++;
	} else {
		failed++;
		printf("FAIL %s: wanted a message with '%s', got '%s'\n", what, part, said);
	}
	said[0] = '\0';
}

static void opts_sizes(const char *root)
{
	struct {
		struct mmiotrap_opts o;
		char newer[16];
	} big = { .o = { .pin_root = root } };
	struct mmiotrap *mt = NULL;

	big.o.sz = sizeof(big);
	CHECK("a newer header's opts with a zero tail open", mmiotrap_open(&mt, &big.o), 0);
	mmiotrap_close(mt);
	big.newer[3] = 1;
	check_said("a newer header's field set is refused", mmiotrap_open(&mt, &big.o), -EINVAL,
		   "unknown field");
	big.o.sz = 4;
	check_said("a sz smaller than sz is refused", mmiotrap_open(&mt, &big.o), -EINVAL, "too small");
}

static void null_handles(void)
{
	struct mmiotrap_region r;
	struct mmiotrap_totals t;

	mmiotrap_close(NULL);
	mmiotrap_sub_free(NULL);
	CHECK("fast_del(NULL)", mmiotrap_fast_del(NULL), 0);
	CHECK("pin_root(NULL)", mmiotrap_pin_root(NULL) == NULL, 1);
	CHECK("attach_mode(NULL)", mmiotrap_attach_mode(NULL), MMIOTRAP_ATTACH_NONE);
	CHECK("fast_eventfd(NULL)", mmiotrap_fast_eventfd(NULL), -EINVAL);
	CHECK("fast_region(NULL)", mmiotrap_fast_region(NULL), 0);
	CHECK("sub_fd(NULL)", mmiotrap_sub_fd(NULL), -EINVAL);
	CHECK("sub_poll(NULL)", mmiotrap_sub_poll(NULL, 0), -EINVAL);
	CHECK("region_get(NULL)", mmiotrap_region_get(NULL, 1, &r), -EINVAL);
	CHECK("region_add(NULL)", mmiotrap_region_add(NULL, getpid(), MMIOTRAP_BUS_MMIO, 0, 1, NULL),
	      -EINVAL);
	CHECK("region_del(NULL)", mmiotrap_region_del(NULL, 1), -EINVAL);
	CHECK("totals(NULL)", mmiotrap_totals(NULL, &t), -EINVAL);
	CHECK("region_stale(NULL)", mmiotrap_region_stale(NULL, &r), -EINVAL);
}

static void regions(struct mmiotrap *mt)
{
	MMIOTRAP_OPTS(mmiotrap_region_opts, o, .widths = 4, .name = "api-a");
	struct mmiotrap_region r;
	int id, n = 0, err;

	check_said("a length of 0 is said", mmiotrap_region_add(mt, getpid(), MMIOTRAP_BUS_MMIO,
							       0xd0000000, 0, NULL),
		   -EINVAL, "length 0");
	check_said("a bus that is none is said", mmiotrap_region_add(mt, getpid(), 7, 0xd0000000, 4,
								     NULL),
		   -EINVAL, "no bus 7");
	id = mmiotrap_region_add(mt, getpid(), MMIOTRAP_BUS_MMIO, 0xd0000000, 0x100, &o);
	CHECK("a region with positional range and opts", id > 0, 1);
	check_said("an overlap names the region", mmiotrap_region_add(mt, getpid(), MMIOTRAP_BUS_MMIO,
								       0xd0000080, 4, NULL),
		   -EADDRINUSE, "overlaps region");
	CHECK("the same range on the other bus is no overlap",
	      mmiotrap_region_add(mt, getpid(), MMIOTRAP_BUS_PIO, 0x80, 4, NULL) > 0, 1);
	mmiotrap_for_each_region(&r, mt, err)
		n++;
	CHECK("for_each_region walks every region", n, 2);
	CHECK("for_each_region ends with 0", err, 0);
	CHECK("mmiotrap_region_find", mmiotrap_region_find(mt, "api-a", &r), 0);
	CHECK("this process's region is not stale", mmiotrap_region_stale(mt, &r), 0);
}

static void fast_refusals(struct mmiotrap *mt)
{
	MMIOTRAP_OPTS(mmiotrap_fast_opts, o, .widths = 4, .fast_widths = 2);
	struct mmiotrap_fast *f = NULL;
	struct mmiotrap_region r;
	int n = 0, err;

	check_said("fast widths that are not accepted widths",
		   mmiotrap_fast_add(&f, mt, -1, MMIOTRAP_BUS_MMIO, 0xd1000000, 4, &o), -EINVAL,
		   "not among its widths");
	o.fast_widths = 4;
	check_said("a fast width wider than the region",
		   mmiotrap_fast_add(&f, mt, -1, MMIOTRAP_BUS_MMIO, 0xd1000000, 2, &o), -EINVAL,
		   "no fast width fits");
	check_said("a VM fd that is no VM fd",
		   mmiotrap_fast_add(&f, mt, -1, MMIOTRAP_BUS_MMIO, 0xd1000000, 4, &o), -EBADF,
		   "not a KVM VM fd");
	mmiotrap_for_each_region(&r, mt, err)
		n += r.addr == 0xd1000000;
	CHECK("a refused fast region leaves no region behind", n, 0);
}

/* A route as the trap makes it, printed back as the injector's step names it. */
static void check_route(const char *what, __u64 route, const char *want)
{
	char buf[64];

	mmiotrap_irq_route_str(route, buf, sizeof(buf));
	if (!strcmp(buf, want)) {
		passed++;
		return;
	}
	failed++;
	printf("FAIL %s: wanted %s, got %s\n", what, want, buf);
}

static void routes(void)
{
	check_route("no route", 0, "none");
	check_route("an MSI", mmiotrap_msi_route(0xfee01000, 0x4022), "msi:0xfee01000:0x4022");
	/* x2APIC destination bits 23:8 in address_hi; data's reserved half and address bits 1:0 dropped. */
	check_route("an x2APIC MSI", mmiotrap_msi_route(0x00abcd00fee0200cULL, 0xffff4021),
		    "msi:0xabcd00fee0200c:0x4021");
	check_route("GSI 0 is a route", mmiotrap_line_route(0), "line:0");
	check_route("a line", mmiotrap_line_route(4294967295U), "line:4294967295");
	CHECK("an MSI's kind", MMIOTRAP_ROUTE_KIND(mmiotrap_msi_route(0xfee00000, 0)), MMIOTRAP_IRQ_MSI);
	CHECK("a line's kind", MMIOTRAP_ROUTE_KIND(mmiotrap_line_route(5)), MMIOTRAP_IRQ_LINE);
	CHECK("irq kind names", strcmp(mmiotrap_irq_kind_str(MMIOTRAP_IRQ_LINE), "line"), 0);
	CHECK("confirmed at 4", mmiotrap_route_confirmed(mmiotrap_line_route(0), 4), 1);
	CHECK("learning at 3", mmiotrap_route_confirmed(mmiotrap_line_route(0), 3), 0);
}

int main(void)
{
	MMIOTRAP_OPTS(mmiotrap_opts, opts, .pin_root = getenv("MMIOTRAP_PIN_ROOT"));
	struct mmiotrap *mt;
	int err;

	mmiotrap_set_print(keep);
	err = mmiotrap_open(&mt, &opts);
	if (err) {
		printf("cannot open %s: %s\n", opts.pin_root, strerror(-err));
		return 1;
	}
	opts_sizes(opts.pin_root);
	null_handles();
	regions(mt);
	fast_refusals(mt);
	routes();
	mmiotrap_close(mt);
	printf("%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
