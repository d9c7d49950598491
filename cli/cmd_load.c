// SPDX-License-Identifier: GPL-2.0
/* mmiotrap load | unload | status | doctor */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "cli.h"

static int no_args(struct cli *cli)
{
	const char *extra = cli_next(cli);

	return extra ? cli_error(cli, "unexpected argument '%s'", extra) : 0;
}

static int bpffs_error(const struct cli *cli, int err)
{
	const char *root = cli->opts.pin_root;

	if (err == -ENOTDIR)
		return cli_error(cli, "pin root %s is not on a bpf filesystem", root);
	return cli_error(cli, "bpffs is not mounted for %s and cannot be mounted at /sys/fs/bpf: %s",
			 root, strerror(-err));
}

static int parse_size(struct cli *cli, const char *word, const char *val, __u32 max, __u32 *size)
{
	__u64 n;

	if (cli_u64(cli, word, val, &n))
		return 1;
	if (!n || n > max)
		return cli_error(cli, "bad %s '%s': 1 to %u", word, val, max);
	*size = n;
	return 0;
}

/* load [--attach fentry|tp_btf|raw_tp] [--max-regions N] [--max-vms N] [--index-entries N] */
static int parse_load(struct cli *cli)
{
	const char *word, *val;
	int mode, err = 0;

	while (!err && (word = cli_next(cli))) {
		val = cli_next(cli);
		if (cli_is(word, "--max-regions")) {
			err = parse_size(cli, word, val, (1U << 24) - 1, &cli->opts.max_regions);
		} else if (cli_is(word, "--max-vms")) {
			err = parse_size(cli, word, val, 1U << 24, &cli->opts.max_vms);
		} else if (cli_is(word, "--index-entries")) {
			err = parse_size(cli, word, val, 1U << 26, &cli->opts.index_entries);
		} else if (cli_is(word, "--attach")) {
			for (mode = MMIOTRAP_ATTACH_NONE + 1; mode < MMIOTRAP_ATTACH_MAX; mode++)
				if (val && !strcmp(val, mmiotrap_attach_mode_str(mode)))
					break;
			if (mode == MMIOTRAP_ATTACH_MAX)
				return cli_error(cli, "bad --attach '%s': fentry, tp_btf or raw_tp",
						 val ? val : "");
			cli->opts.attach = mode;
		} else {
			return cli_error(cli, "unexpected argument '%s'", word);
		}
	}
	return err;
}

int do_load(struct cli *cli)
{
	const char *root = cli->opts.pin_root;
	struct mmiotrap *mt;
	const char *mode;
	int err, ret = 0;

	if (parse_load(cli))
		return 1;
	err = mmiotrap_prepare_bpffs(root);
	if (err)
		return bpffs_error(cli, err);
	err = mmiotrap_load(&cli->opts);
	if (err == -EUCLEAN)
		return cli_error(cli, "half an instance is pinned at %s (a crash's?): run 'mmiotrap unload' first",
				 root);
	if (err && err != -EEXIST) {
		if (err == -ENOTSUP)
			return cli_error(cli, "this kernel has no kvm:kvm_mmio and kvm:kvm_pio tracepoints in its BTF");
		if (cli->opts.attach)
			return cli_error(cli, "cannot load at %s with --attach %s: %s", root,
					 mmiotrap_attach_mode_str(cli->opts.attach), strerror(-err));
		return cli_error(cli, "cannot load at %s: %s", root, strerror(-err));
	}
	if (cli_open(cli, &mt))
		return 1;
	/* From here on, the pin root as the library spells it. */
	root = mmiotrap_pin_root(mt);
	mode = mmiotrap_attach_mode_str(mmiotrap_attach_mode(mt));
	if (err && cli->opts.attach && cli->opts.attach != mmiotrap_attach_mode(mt))
		ret = cli_error(cli, "already loaded at %s with attach mode %s, not %s: unload first",
				root, mode, mmiotrap_attach_mode_str(cli->opts.attach));
	else if (cli->json)
		cli_json(cli, json_pack("{s:o, s:s, s:b}", "pin_root", cli_str(root),
					"attach_mode", mode, "changed", !err));
	else if (err)
		printf("already loaded at %s (attach mode %s); nothing changed\n", root, mode);
	else
		printf("loaded at %s (attach mode %s)\n", root, mode);
	mmiotrap_close(mt);
	return ret;
}

/* unload [--force] */
int do_unload(struct cli *cli)
{
	const char *root = cli->opts.pin_root, *word = cli_next(cli);
	int err;

	if (word && cli_is(word, "--force"))
		cli->opts.force = true;
	else if (word)
		return cli_error(cli, "unexpected argument '%s'", word);
	if (no_args(cli))
		return 1;
	err = mmiotrap_unload(&cli->opts);
	if (err == -EBUSY)
		return cli_lib_error(cli, err, "cannot unload %s", root);
	if (err == -ENOENT)
		return cli_error(cli, "not loaded at %s", root);
	if (err == -ENOTEMPTY)
		return cli_error(cli, "unloaded, but %s holds files mmiotrap did not make: left it", root);
	if (err)
		return cli_error(cli, "cannot unload %s: %s", root, strerror(-err));
	if (cli->json)
		cli_json(cli, json_pack("{s:o}", "unloaded", cli_str(root)));
	else
		printf("unloaded %s\n", root);
	return 0;
}

static json_t *subscribers_json(const struct mmiotrap_subscriber *subs, int n)
{
	json_t *arr = json_array();
	int i;

	for (i = 0; i < n; i++)
		json_array_append_new(arr, json_pack("{s:i, s:i, s:i, s:i, s:b, s:s}",
						     "slot", subs[i].slot, "pid", subs[i].pid,
						     "vm", subs[i].vm, "region", subs[i].region,
						     "owner", subs[i].owner,
						     "wakeup", subs[i].batched ? "batch" : "record"));
	return arr;
}

static void print_status(const struct cli *cli, struct mmiotrap *mt, int regions, int stale,
			 const struct mmiotrap_subscriber *subs, int nsubs)
{
	const char *mode = mmiotrap_attach_mode_str(mmiotrap_attach_mode(mt));
	MMIOTRAP_OPTS(mmiotrap_limits, lim);
	int i;

	mmiotrap_limits(mt, &lim);
	if (cli->json) {
		cli_json(cli, json_pack("{s:o, s:b, s:s, s:i, s:i, s:o, s:{s:i, s:i, s:i, s:i}}",
					"pin_root", cli_str(mmiotrap_pin_root(mt)), "loaded", 1,
					"attach_mode", mode, "regions", regions,
					"stale_regions", stale,
					"subscribers", subscribers_json(subs, nsubs),
					"limits", "max_regions", lim.max_regions, "max_vms", lim.max_vms,
					"index_entries", lim.index_entries, "max_subs", lim.max_subs));
		return;
	}
	printf("loaded at %s\nattach mode: %s\nregions: %d (%d stale)\n",
	       mmiotrap_pin_root(mt), mode, regions, stale);
	printf("subscribers: %d\n", nsubs);
	for (i = 0; i < nsubs; i++)
		printf("  slot %u pid %u %s%s vm %u region %u\n", subs[i].slot, subs[i].pid,
		       subs[i].owner ? "owner" : "observer", subs[i].batched ? " batched" : "",
		       subs[i].vm, subs[i].region);
	printf("limits: %u regions, %u VMs, %u index entries, %u subscribers\n",
	       lim.max_regions, lim.max_vms, lim.index_entries, lim.max_subs);
}

int do_status(struct cli *cli)
{
	struct mmiotrap_subscriber subs[MMIOTRAP_MAX_SUBS];
	struct mmiotrap_region r;
	struct mmiotrap *mt;
	int regions = 0, stale = 0, nsubs, err;

	if (no_args(cli) || cli_open(cli, &mt))
		return 1;
	mmiotrap_for_each_region(&r, mt, err) {
		regions++;
		stale += mmiotrap_region_stale(mt, &r) > 0;
	}
	nsubs = err ? err : mmiotrap_subscribers(mt, subs, MMIOTRAP_MAX_SUBS);
	if (nsubs < 0) {
		mmiotrap_close(mt);
		return cli_error(cli, "cannot read the instance: %s", strerror(-nsubs));
	}
	print_status(cli, mt, regions, stale, subs, nsubs);
	mmiotrap_close(mt);
	return 0;
}

/* doctor: one check a line; a check that is not ok is what is missing. */
struct report {
	struct cli *cli;
	json_t *checks;
	bool ok;
};

static void check(struct report *rep, const char *name, bool ok, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void check(struct report *rep, const char *name, bool ok, const char *fmt, ...)
{
	char detail[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	rep->ok &= ok;
	if (rep->cli->json)
		json_array_append_new(rep->checks, json_pack("{s:s, s:b, s:o}", "name", name,
							     "ok", ok, "detail", cli_str(detail)));
	else
		printf("%-16s %-8s %s\n", name, ok ? "ok" : "MISSING", detail);
}

static void check_tracepoints(struct report *rep)
{
	MMIOTRAP_OPTS(mmiotrap_tracepoints, tp);
	bool btf = !access("/sys/kernel/btf/vmlinux", R_OK);

	check(rep, "btf", btf, "/sys/kernel/btf/vmlinux%s", btf ? "" : " missing");
	if (!btf || mmiotrap_probe_tracepoints(&tp))
		tp.kvm_mmio = tp.kvm_pio = false;
	check(rep, "tp kvm_mmio", tp.kvm_mmio, "%s", !tp.kvm_mmio ? "not in BTF" :
	      tp.mmio_val_is_ptr ? "value by pointer" : "value by value");
	check(rep, "tp kvm_pio", tp.kvm_pio, "%s", !tp.kvm_pio ? "not in BTF" :
	      tp.pio_has_data ? "with data" : "without data: events carry no value");
	/* Not every architecture has it: its absence is no fault. */
	check(rep, "tp kvm_fast_mmio", true, "%s", tp.kvm_fast_mmio ?
	      "traced: length-0 ioeventfd writes, address only" : "not in BTF");
	check(rep, "tp kvm irq", true, "%s", tp.kvm_irq ?
	      "traced: kvm_msi_set_irq, kvm_set_irq (doorbell-to-interrupt latency)" :
	      "not in BTF: no doorbell-to-interrupt latency");
}

static void check_attach(struct report *rep)
{
	enum mmiotrap_attach_mode mode, chosen = MMIOTRAP_ATTACH_NONE;
	char name[32];
	int err;

	for (mode = MMIOTRAP_ATTACH_NONE + 1; mode < MMIOTRAP_ATTACH_MAX; mode++) {
		snprintf(name, sizeof(name), "attach %s", mmiotrap_attach_mode_str(mode));
		err = mmiotrap_probe_attach(mode);
		if (!err && !chosen)
			chosen = mode;
		/* A mode that does not load is no fault while another one does. */
		check(rep, name, true, "%s%s", err ? "does not load: " : "loads", err ? strerror(-err) : "");
	}
	check(rep, "attach mode", chosen, "%s", mmiotrap_attach_mode_str(chosen));
}

int do_doctor(struct cli *cli)
{
	struct report rep = { .cli = cli, .ok = true };
	MMIOTRAP_OPTS(mmiotrap_host, host);
	bool root = !geteuid();

	if (no_args(cli))
		return 1;
	mmiotrap_probe_host(&host);
	rep.checks = json_array();
	check(&rep, "root", root, "%s", root ? "yes" : "no: load, region and events need root");
	check(&rep, "kvm", host.kvm, "/dev/kvm%s", host.kvm ? "" : " cannot be opened read-write");
	check_tracepoints(&rep);
	check(&rep, "bpffs", true, "%s", host.bpffs ?
	      "mounted at /sys/fs/bpf" : "not mounted at /sys/fs/bpf; load mounts it");
	check(&rep, "tracefs", true, "%s", host.tracefs ?
	      "mounted at /sys/kernel/tracing" : "not mounted; load mounts it");
	check(&rep, "lockdown", host.lockdown[0] && strcmp(host.lockdown, "confidentiality"),
	      "%s", host.lockdown[0] ? host.lockdown : "cannot be read");
	check(&rep, "fast mmio bus", true, "%s (%s)", host.fast_mmio_bus ?
	      "used: length-0 ioeventfd writes carry no value" :
	      "not used: every MMIO write is decoded, value included",
	      host.kvm_module[0] ? host.kvm_module : "no KVM module");
	if (root)
		check_attach(&rep);
	if (cli->json)
		cli_json(cli, json_pack("{s:o, s:b}", "checks", rep.checks, "ok", rep.ok));
	else
		json_decref(rep.checks);
	return !rep.ok;
}
