// SPDX-License-Identifier: GPL-2.0
/*
 * mmiotrap vm list
 * mmiotrap vm show PID|NAME
 *
 * The KVM VMs running on this host, read from the kernel: each VM's
 * ioeventfds (its doorbells KVM completes in the kernel), its irqfds and
 * who holds each eventfd. No instance needs to be loaded; where one is,
 * each VM's regions are counted too.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "cli.h"

static json_t *fd_json(int fd)
{
	return fd < 0 ? json_null() : json_integer(fd);
}

static json_t *eventfd_json(const struct mmiotrap_vm_eventfd *e)
{
	json_t *holders = json_array();
	int i;

	for (i = 0; i < e->nholders; i++)
		json_array_append_new(holders, json_pack("{s:I, s:i}",
							 "pid", (json_int_t)e->holders[i].pid,
							 "fd", e->holders[i].fd));
	return json_pack("{s:i, s:o, s:o}", "id", e->id, "fd", fd_json(e->fd),
			 "holders", holders);
}

static json_t *ioeventfd_json(const struct mmiotrap_vm_ioeventfd *io)
{
	return json_pack("{s:s, s:o, s:i, s:o, s:b, s:s, s:o}", "bus", bus_str(io->bus),
			 "addr", cli_u64_json(io->addr), "len", (int)io->len,
			 "datamatch", io->wildcard ? json_null() : cli_u64_json(io->datamatch),
			 "fast_mmio_bus", io->fast_mmio_bus,
			 "trap_sees", io->address_only ? "address" : "value",
			 "eventfd", eventfd_json(&io->eventfd));
}

static json_t *irqfd_json(const struct mmiotrap_vm_irqfd *irq)
{
	return json_pack("{s:I, s:o, s:o}", "gsi", (json_int_t)irq->gsi,
			 "eventfd", eventfd_json(&irq->eventfd),
			 "resamplefd", irq->resample ? eventfd_json(&irq->resamplefd) : json_null());
}

static json_t *vm_json(const struct mmiotrap_vm_info *vm, bool details)
{
	const struct mmiotrap_vm_ioeventfd *io;
	const struct mmiotrap_vm_irqfd *irq;
	json_t *obj, *ios, *irqs;
	int i;

	obj = json_pack("{s:I, s:o, s:i, s:I}", "pid", (json_int_t)vm->pid,
			"name", cli_str(vm->name), "fd", vm->fd, "vcpus", (json_int_t)vm->vcpus);
	json_object_set_new(obj, "regions", vm->nregions < 0 ? json_null() :
			    json_integer(vm->nregions));
	if (!details) {
		json_object_set_new(obj, "ioeventfds", json_integer(vm->nioeventfds));
		json_object_set_new(obj, "irqfds", json_integer(vm->nirqfds));
		return obj;
	}
	ios = json_array();
	mmiotrap_vm_for_each_ioeventfd(io, vm, i)
		json_array_append_new(ios, ioeventfd_json(io));
	irqs = json_array();
	mmiotrap_vm_for_each_irqfd(irq, vm, i)
		json_array_append_new(irqs, irqfd_json(irq));
	json_object_set_new(obj, "ioeventfds", ios);
	json_object_set_new(obj, "irqfds", irqs);
	return obj;
}

/* "eventfd 7 (id 12)  holders 999:4,1000:3" */
static void print_eventfd(const char *what, const struct mmiotrap_vm_eventfd *e)
{
	int i;

	if (e->fd < 0)
		printf("  %s - (id %d)", what, e->id);
	else
		printf("  %s %d (id %d)", what, e->fd, e->id);
	for (i = 0; i < e->nholders; i++)
		printf("%s%u:%d", i ? "," : "  holders ", e->holders[i].pid, e->holders[i].fd);
}

static void print_vm(const struct mmiotrap_vm_info *vm, bool details)
{
	char name[4 * sizeof(vm->name)];
	const struct mmiotrap_vm_ioeventfd *io;
	const struct mmiotrap_vm_irqfd *irq;
	int i;

	cli_clean(vm->name, name, sizeof(name));
	printf("%u: name %s  vcpus %u  ioeventfds %d  irqfds %d", vm->pid, *name ? name : "-",
	       vm->vcpus, vm->nioeventfds, vm->nirqfds);
	if (vm->nregions >= 0)
		printf("  regions %d", vm->nregions);
	if (!details) {
		printf("\n");
		return;
	}
	printf("  vm fd %d\n", vm->fd);
	mmiotrap_vm_for_each_ioeventfd(io, vm, i) {
		printf("\tioeventfd %s 0x%llx len %u", bus_str(io->bus),
		       (unsigned long long)io->addr, io->len);
		if (io->wildcard)
			printf("  any value");
		else
			printf("  datamatch 0x%llx", (unsigned long long)io->datamatch);
		print_eventfd("eventfd", &io->eventfd);
		printf("%s  trap sees %s\n", io->fast_mmio_bus ? "  fast mmio bus" : "",
		       io->address_only ? "address only" : "value");
	}
	mmiotrap_vm_for_each_irqfd(irq, vm, i) {
		printf("\tirqfd gsi %u", irq->gsi);
		print_eventfd("eventfd", &irq->eventfd);
		if (irq->resample)
			print_eventfd("resamplefd", &irq->resamplefd);
		printf("\n");
	}
}

static int scan(const struct cli *cli, __u32 pid, const char *arg, struct mmiotrap_vms **vms)
{
	MMIOTRAP_OPTS(mmiotrap_vms_opts, o, .pid = pid);
	int err;

	/* Regions are counted where an instance is loaded; discovery needs none. */
	if (mmiotrap_open(&o.mt, &cli->opts))
		o.mt = NULL;
	err = mmiotrap_vms_scan(vms, &o);
	mmiotrap_close(o.mt);

	if (err == -ESRCH)
		return cli_error(cli, "no process '%s'", arg);
	if (err)
		return cli_lib_error(cli, err, "cannot read the VMs");
	if (pid && !mmiotrap_vms_count(*vms)) {
		mmiotrap_vms_free(*vms);
		return cli_error(cli, "process '%s' runs no KVM VM", arg);
	}
	return 0;
}

static int print_vms(struct cli *cli, __u32 pid, const char *arg, bool details)
{
	const struct mmiotrap_vm_info *vm;
	struct mmiotrap_vms *vms;
	json_t *arr;
	int i;

	if (scan(cli, pid, arg, &vms))
		return 1;
	arr = json_array();
	mmiotrap_for_each_vm(vm, vms, i) {
		if (cli->json)
			json_array_append_new(arr, vm_json(vm, details));
		else
			print_vm(vm, details);
	}
	if (cli->json)
		cli_json(cli, json_incref(arr));
	json_decref(arr);
	mmiotrap_vms_free(vms);
	return 0;
}

static int do_list(struct cli *cli)
{
	if (cli->argc)
		return cli_error(cli, "unexpected argument '%s'", cli_next(cli));
	return print_vms(cli, 0, NULL, false);
}

/* A pid, or a QEMU -name that one process has. */
static int vm_pid(const struct cli *cli, const char *arg, __u32 *pid)
{
	__u64 n;
	int err, found;

	if (!arg)
		return cli_error(cli, "which VM? give its pid or name");
	err = mmiotrap_parse_u64(arg, CLI_PID_MAX, &n);
	if (err == -ERANGE || (!err && !n))
		return cli_error(cli, "bad pid '%s'", arg);
	if (!err) {
		*pid = n;
		return 0;
	}
	found = mmiotrap_find_vm(arg, pid, 1);
	if (found < 0)
		return cli_error(cli, "cannot look for VM '%s': %s", arg, strerror(-found));
	if (!found)
		return cli_error(cli, "no VM named '%s'", arg);
	if (found > 1)
		return cli_error(cli, "%d processes are named '%s': give a pid", found, arg);
	return 0;
}

static int do_show(struct cli *cli)
{
	const char *arg = cli_next(cli);
	__u32 pid;

	if (vm_pid(cli, arg, &pid))
		return 1;
	if (cli->argc)
		return cli_error(cli, "unexpected argument '%s'", cli_next(cli));
	return print_vms(cli, pid, arg, true);
}

int do_vm(struct cli *cli)
{
	static const struct cmd cmds[] = {
		{ "list",	do_list,	true },
		{ "show",	do_show,	true },
		{}
	};

	return cli_dispatch(cli, cmds, "vm");
}
