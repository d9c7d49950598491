// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Discovery of the KVM VMs running on the host: bpf/vms.bpf.c iterates
 * over every process's files and writes a record for each VM, each of its
 * ioeventfds and irqfds, and each eventfd; here the records are read and
 * each eventfd a VM uses is joined, by its id, to the processes that hold it.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "internal.h"
#include "vms.h"
#include "vms.skel.h"

/* A VM and its ioeventfds and irqfds: the public part first, which callers see. */
struct vm_entry {
	struct mmiotrap_vm_info vm;
	struct mmiotrap_vm_ioeventfd *io;
	struct mmiotrap_vm_irqfd *irq;
};

struct mmiotrap_vms {
	int nr;
	struct vm_entry *vms;
	/* Every VM's eventfds' holders, each list a slice of this. */
	struct mmiotrap_eventfd_holder *holders;
};

/* The records, as read: the eventfds apart, sorted by id, for the join. */
struct records {
	struct vms_rec *rec;
	size_t nr;
	struct vms_rec *efd;
	size_t nefd;
};

static int libbpf_debug(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	char line[1024];

	(void)level;
	vsnprintf(line, sizeof(line), fmt, ap);
	pr_debug("%s", line);
	return 0;
}

/* Everything the iterator writes in one go; the program is gone after. */
static int read_iter(int fd, struct records *r)
{
	size_t size = 0, len = 0;
	char *buf = NULL, *grown;
	ssize_t n;

	for (;;) {
		if (size - len < 4096) {
			size = size ? 2 * size : 65536;
			grown = realloc(buf, size);
			if (!grown) {
				free(buf);
				return -ENOMEM;
			}
			buf = grown;
		}
		n = read(fd, buf + len, size - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += n;
	}
	if (n < 0) {
		n = -errno;
		free(buf);
		return n;
	}
	r->rec = (struct vms_rec *)buf;
	r->nr = len / sizeof(struct vms_rec);
	return 0;
}

static int run_iter(__u32 pid, struct records *r)
{
	libbpf_print_fn_t old = libbpf_set_print(libbpf_debug);
	struct bpf_link *link = NULL;
	struct vms_bpf *skel;
	int fd, err;

	skel = vms_bpf__open();
	if (!skel) {
		err = -errno;
		goto out;
	}
	skel->rodata->target_tgid = pid;
	err = vms_bpf__load(skel);
	if (!err) {
		link = bpf_program__attach_iter(skel->progs.vms, NULL);
		err = link ? 0 : -errno;
	}
	if (err) {
		pr_warn("cannot load the VM iterator: %s%s\n", strerror(-err),
			err == -EPERM ? " (root?)" : "");
		goto out;
	}
	fd = bpf_iter_create(bpf_link__fd(link));
	err = fd < 0 ? -errno : read_iter(fd, r);
	if (fd >= 0)
		close(fd);
	if (err == -E2BIG)
		pr_warn("a VM has more ioeventfds and irqfds than one read of the iterator holds\n");
	else if (err)
		pr_warn("cannot read the VM iterator: %s\n", strerror(-err));
out:
	bpf_link__destroy(link);
	vms_bpf__destroy(skel);
	libbpf_set_print(old);
	return err;
}

static int cmp_efd(const void *a, const void *b)
{
	const struct vms_rec *x = a, *y = b;

	if (x->id != y->id)
		return x->id < y->id ? -1 : 1;
	if (x->tgid != y->tgid)
		return x->tgid < y->tgid ? -1 : 1;
	return (x->fd > y->fd) - (x->fd < y->fd);
}

/* Move the eventfd records to an array of their own, by id. */
static int split_eventfds(struct records *r)
{
	size_t i, n = 0;

	for (i = 0; i < r->nr; i++)
		n += r->rec[i].type == VMS_REC_EVENTFD;
	r->efd = calloc(n ?: 1, sizeof(*r->efd));
	if (!r->efd)
		return -ENOMEM;
	for (i = 0; i < r->nr; i++)
		if (r->rec[i].type == VMS_REC_EVENTFD)
			r->efd[r->nefd++] = r->rec[i];
	qsort(r->efd, r->nefd, sizeof(*r->efd), cmp_efd);
	/*
	 * Once each: the iterator visits every thread of a process whose
	 * leader has exited, each with the same files.
	 */
	for (i = 1, n = r->nefd ? 1 : 0; i < r->nefd; i++)
		if (cmp_efd(&r->efd[i], &r->efd[n - 1]))
			r->efd[n++] = r->efd[i];
	r->nefd = n;
	return 0;
}

/* The holders of eventfd @id: [*first, return value). */
static size_t holders_of(const struct records *r, int id, size_t *first)
{
	size_t lo = 0, hi = r->nefd, mid, end;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (r->efd[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (end = lo; end < r->nefd && r->efd[end].id == id; end++)
		;
	*first = lo;
	return end;
}

/* @e's fd in the VMM @pid and every other holder, from the pool at *@used. */
static void join_eventfd(const struct records *r, __u32 pid, struct mmiotrap_vm_eventfd *e,
			 struct mmiotrap_eventfd_holder *pool, size_t *used)
{
	size_t i, first, end;

	e->fd = -1;
	e->nholders = 0;
	e->holders = pool + *used;
	if (e->id < 0)
		return;
	end = holders_of(r, e->id, &first);
	for (i = first; i < end; i++) {
		if (r->efd[i].tgid == pid && e->fd < 0) {
			e->fd = r->efd[i].fd;
			continue;
		}
		pool[*used + e->nholders++] = (struct mmiotrap_eventfd_holder){
			.pid = r->efd[i].tgid, .fd = r->efd[i].fd,
		};
	}
	*used += e->nholders;
}

/* How many holders eventfd @id has: the pool's share of one reference. */
static size_t holders_count(const struct records *r, int id)
{
	size_t first;

	return id < 0 ? 0 : holders_of(r, id, &first) - first;
}

/*
 * KVM lists a length-0 MMIO ioeventfd twice, on the MMIO bus and on the
 * fast MMIO bus: the second is a flag of the first.
 */
static bool fold_fast(struct vm_entry *v, const struct vms_rec *rec)
{
	struct mmiotrap_vm_ioeventfd *io;
	int i;

	if (rec->ioeventfd.bus != VMS_KVM_FAST_MMIO_BUS)
		return false;
	for (i = 0; i < v->vm.nioeventfds; i++) {
		io = &v->io[i];
		if (io->bus == MMIOTRAP_BUS_MMIO && io->addr == rec->ioeventfd.addr &&
		    io->len == rec->ioeventfd.len && io->eventfd.id == rec->id &&
		    io->wildcard == !!rec->ioeventfd.wildcard && !io->fast_mmio_bus) {
			io->fast_mmio_bus = true;
			return true;
		}
	}
	return false;
}

static void add_ioeventfd(struct vm_entry *v, const struct vms_rec *rec, bool fast_host)
{
	struct mmiotrap_vm_ioeventfd *io;

	if (fold_fast(v, rec))
		return;
	io = &v->io[v->vm.nioeventfds++];
	*io = (struct mmiotrap_vm_ioeventfd){
		.bus = rec->ioeventfd.bus == VMS_KVM_PIO_BUS ? MMIOTRAP_BUS_PIO : MMIOTRAP_BUS_MMIO,
		.addr = rec->ioeventfd.addr,
		.len = rec->ioeventfd.len,
		.wildcard = rec->ioeventfd.wildcard,
		.datamatch = rec->ioeventfd.wildcard ? 0 : rec->ioeventfd.datamatch,
		.fast_mmio_bus = rec->ioeventfd.bus == VMS_KVM_FAST_MMIO_BUS,
		.eventfd.id = rec->id,
	};
	io->address_only = fast_host && !io->len && io->bus == MMIOTRAP_BUS_MMIO;
}

static void add_irqfd(struct vm_entry *v, const struct vms_rec *rec)
{
	v->irq[v->vm.nirqfds++] = (struct mmiotrap_vm_irqfd){
		.gsi = rec->irqfd.gsi,
		.eventfd.id = rec->id,
		.resample = rec->irqfd.resample_id >= 0,
		.resamplefd.id = rec->irqfd.resample_id,
	};
}

/* How many records after the VM record at @at are its own: up to the next VM or eventfd. */
static size_t vm_records(const struct records *r, size_t at)
{
	size_t i;

	for (i = at + 1; i < r->nr; i++)
		if (r->rec[i].type == VMS_REC_VM || r->rec[i].type == VMS_REC_EVENTFD)
			break;
	return i - at - 1;
}

/* Each VM with its ioeventfds and irqfds, their eventfds' ids only; the holders' pool size. */
static int build_vms(struct mmiotrap_vms *vms, const struct records *r, size_t *pool)
{
	struct mmiotrap_host host = { .sz = sizeof(host) };
	const struct vms_rec *rec;
	struct vm_entry *v;
	size_t i, j, n, nv;

	mmiotrap_probe_host(&host);
	for (i = 0; i < r->nr; i++)
		vms->nr += r->rec[i].type == VMS_REC_VM;
	vms->vms = calloc(vms->nr ?: 1, sizeof(*vms->vms));
	if (!vms->vms)
		return -ENOMEM;
	for (i = 0, nv = 0; i < r->nr; i++) {
		rec = &r->rec[i];
		if (rec->type != VMS_REC_VM)
			continue;
		v = &vms->vms[nv++];
		v->vm.pid = rec->tgid;
		v->vm.fd = rec->fd;
		v->vm.vcpus = rec->vm.vcpus;
		if (mmiotrap_vm_name(rec->tgid, v->vm.name, sizeof(v->vm.name)))
			v->vm.name[0] = '\0';
		n = vm_records(r, i);
		v->io = calloc(n ?: 1, sizeof(*v->io));
		v->irq = calloc(n ?: 1, sizeof(*v->irq));
		if (!v->io || !v->irq)
			return -ENOMEM;
		for (j = i + 1; j <= i + n; j++) {
			rec = &r->rec[j];
			if (rec->type == VMS_REC_IOEVENTFD)
				add_ioeventfd(v, rec, host.fast_mmio_bus);
			else
				add_irqfd(v, rec);
			*pool += holders_count(r, rec->id);
			if (rec->type == VMS_REC_IRQFD)
				*pool += holders_count(r, rec->irqfd.resample_id);
		}
	}
	return 0;
}

static int join_vms(struct mmiotrap_vms *vms, const struct records *r, size_t pool)
{
	struct vm_entry *v;
	size_t used = 0;
	int i, j;

	vms->holders = calloc(pool ?: 1, sizeof(*vms->holders));
	if (!vms->holders)
		return -ENOMEM;
	for (i = 0; i < vms->nr; i++) {
		v = &vms->vms[i];
		for (j = 0; j < v->vm.nioeventfds; j++)
			join_eventfd(r, v->vm.pid, &v->io[j].eventfd, vms->holders, &used);
		for (j = 0; j < v->vm.nirqfds; j++) {
			join_eventfd(r, v->vm.pid, &v->irq[j].eventfd, vms->holders, &used);
			join_eventfd(r, v->vm.pid, &v->irq[j].resamplefd, vms->holders, &used);
		}
	}
	return 0;
}

/* Each VM's regions of @mt: a region is its process's, stale ones aside. */
static int count_regions(struct mmiotrap_vms *vms, struct mmiotrap *mt)
{
	struct mmiotrap_region r;
	int i, err;

	for (i = 0; i < vms->nr; i++)
		vms->vms[i].vm.nregions = mt ? 0 : -1;
	if (!mt)
		return 0;
	mmiotrap_for_each_region(&r, mt, err) {
		if (mmiotrap_region_stale(mt, &r) > 0)
			continue;
		for (i = 0; i < vms->nr; i++)
			vms->vms[i].vm.nregions += vms->vms[i].vm.pid == r.vm;
	}
	return err;
}

int mmiotrap_vms_scan(struct mmiotrap_vms **vmsp, const struct mmiotrap_vms_opts *opts)
{
	__u32 pid = OPTS_GET(opts, pid, 0);
	struct records r = {};
	struct mmiotrap_vms *vms;
	size_t pool = 0;
	int err;

	if (!vmsp || !OPTS_VALID(opts, struct mmiotrap_vms_opts))
		return -EINVAL;
	*vmsp = NULL;
	if (pid) {
		err = proc_check_vmm(pid);
		if (err)
			return err;
	}
	vms = calloc(1, sizeof(*vms));
	if (!vms)
		return -ENOMEM;
	err = run_iter(pid, &r);
	if (!err)
		err = split_eventfds(&r);
	if (!err)
		err = build_vms(vms, &r, &pool);
	if (!err)
		err = join_vms(vms, &r, pool);
	if (!err)
		err = count_regions(vms, OPTS_GET(opts, mt, NULL));
	free(r.rec);
	free(r.efd);
	if (err) {
		mmiotrap_vms_free(vms);
		return err;
	}
	*vmsp = vms;
	return 0;
}

void mmiotrap_vms_free(struct mmiotrap_vms *vms)
{
	int i;

	if (!vms)
		return;
	for (i = 0; i < vms->nr && vms->vms; i++) {
		free(vms->vms[i].io);
		free(vms->vms[i].irq);
	}
	free(vms->vms);
	free(vms->holders);
	free(vms);
}

int mmiotrap_vms_count(const struct mmiotrap_vms *vms)
{
	return vms ? vms->nr : 0;
}

const struct mmiotrap_vm_info *mmiotrap_vms_vm(const struct mmiotrap_vms *vms, int i)
{
	return vms && i >= 0 && i < vms->nr ? &vms->vms[i].vm : NULL;
}

static const struct vm_entry *entry_of(const struct mmiotrap_vm_info *vm)
{
	return (const struct vm_entry *)((const char *)vm - offsetof(struct vm_entry, vm));
}

const struct mmiotrap_vm_ioeventfd *mmiotrap_vm_ioeventfd(const struct mmiotrap_vm_info *vm, int i)
{
	return vm && i >= 0 && i < vm->nioeventfds ? &entry_of(vm)->io[i] : NULL;
}

const struct mmiotrap_vm_irqfd *mmiotrap_vm_irqfd(const struct mmiotrap_vm_info *vm, int i)
{
	return vm && i >= 0 && i < vm->nirqfds ? &entry_of(vm)->irq[i] : NULL;
}
