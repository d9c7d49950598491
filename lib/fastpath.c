// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Fast-path regions. On a stock kernel BPF can watch a write but not
 * complete it; KVM completes a write in the kernel only when an in-kernel
 * device claims it. So a fast-path region is an ioeventfd at the exact
 * address and width (len > 0: a len 0 "fast MMIO" ioeventfd carries no
 * value) plus the trap's region, which captures the value.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <linux/kvm.h>
#include "internal.h"

#define MAX_IOEVENTFDS	64

struct mmiotrap_fast {
	struct mmiotrap *mt;
	int vm_fd;
	int efd;
	__u32 region;
	bool adopted;		/* the region is not ours to delete */
	int n;
	struct kvm_ioeventfd io[MAX_IOEVENTFDS];
};

/* One ioeventfd for every fast width at every register (mmiotrap_fast_stride()). */
static int plan(struct mmiotrap_fast *f, enum mmiotrap_bus bus, __u64 addr, __u64 len, __u8 fast)
{
	__u64 stride = mmiotrap_fast_stride(fast), a;
	int w;

	for (w = 1; w <= 8; w <<= 1) {
		if (!(fast & w))
			continue;
		for (a = addr; a - addr + w <= len; a += stride) {
			if (f->n == MAX_IOEVENTFDS) {
				pr_warn("fast region at 0x%llx, len 0x%llx: more than %d ioeventfds\n",
					(unsigned long long)addr, (unsigned long long)len,
					MAX_IOEVENTFDS);
				return -E2BIG;
			}
			f->io[f->n++] = (struct kvm_ioeventfd) {
				.addr = a,
				.len = w,
				.fd = f->efd,
				.flags = bus == MMIOTRAP_BUS_PIO ? KVM_IOEVENTFD_FLAG_PIO : 0,
			};
		}
	}
	return 0;
}

/* A width wider than the region has nowhere to sit. */
static __u8 fitting(__u8 fast, __u64 len)
{
	while (fast && mmiotrap_fast_stride(fast) > len)
		fast &= ~mmiotrap_fast_stride(fast);
	return fast;
}

static struct mmiotrap_fast *fast_new(struct mmiotrap *mt, int vm_fd)
{
	struct mmiotrap_fast *f = calloc(1, sizeof(*f));

	if (!f)
		return NULL;
	f->mt = mt;
	f->vm_fd = vm_fd;
	f->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (f->efd < 0) {
		free(f);
		return NULL;
	}
	return f;
}

static void fast_free(struct mmiotrap_fast *f)
{
	close(f->efd);
	free(f);
}

static void deassign(struct mmiotrap_fast *f, int upto)
{
	int i;

	for (i = 0; i < upto; i++) {
		f->io[i].flags |= KVM_IOEVENTFD_FLAG_DEASSIGN;
		ioctl(f->vm_fd, KVM_IOEVENTFD, &f->io[i]);
		f->io[i].flags &= ~KVM_IOEVENTFD_FLAG_DEASSIGN;
	}
}

static int assign(struct mmiotrap_fast *f)
{
	int i, err;

	for (i = 0; i < f->n; i++) {
		if (ioctl(f->vm_fd, KVM_IOEVENTFD, &f->io[i])) {
			err = -errno;
			pr_warn("KVM_IOEVENTFD at 0x%llx, len %u on VM fd %d: %s\n",
				(unsigned long long)f->io[i].addr, f->io[i].len, f->vm_fd,
				err == -ENOTTY || err == -EBADF ? "not a KVM VM fd" :
				err == -EEXIST ? "an ioeventfd is there already" : strerror(-err));
			deassign(f, i);
			/* -EEXIST is a region's name taken: another ioeventfd is -EBUSY. */
			return err == -EEXIST ? -EBUSY : err;
		}
	}
	return 0;
}

int mmiotrap_fast_add(struct mmiotrap_fast **fp, struct mmiotrap *mt, int vm_fd,
		      enum mmiotrap_bus bus, __u64 addr, __u64 len,
		      const struct mmiotrap_fast_opts *opts)
{
	struct mmiotrap_region w = { .vm = getpid(), .bus = bus, .addr = addr, .len = len };
	struct mmiotrap_fast *f;
	__u8 fast;
	int id, err;

	if (!fp || !mt || !OPTS_VALID(opts, struct mmiotrap_fast_opts))
		return -EINVAL;
	w.widths = OPTS_GET(opts, widths, 0) ?: MMIOTRAP_WIDTHS_ALL;
	fast = OPTS_GET(opts, fast_widths, 0) ?: w.widths;
	if (fast & ~w.widths) {
		pr_warn("fast region: fast widths 0x%x are not among its widths 0x%x\n",
			fast, w.widths);
		return -EINVAL;
	}
	fast = fitting(fast, len);
	if (!fast) {
		pr_warn("fast region: no fast width fits its length 0x%llx\n",
			(unsigned long long)len);
		return -EINVAL;
	}
	err = region_describe(&w, OPTS_GET(opts, name, NULL),
			      OPTS_GET(opts, decoder, MMIOTRAP_DECODER_RAW),
			      opts && opts->sz >= offsetofend(struct mmiotrap_fast_opts, params) ?
			      &opts->params : NULL);
	if (err)
		return err;
	w.action = MMIOTRAP_ACTION_RING | MMIOTRAP_ACTION_QUIET;
	w.fast_widths = fast;
	f = fast_new(mt, vm_fd);
	if (!f)
		return -errno;
	err = plan(f, bus, addr, len, fast);
	if (err)
		goto cleanup;
	/* The region first: a write before the ioeventfd exits and is still seen. */
	id = region_add(mt, &w);
	if (id < 0) {
		err = id;
		goto cleanup;
	}
	f->region = id;
	err = assign(f);
	if (err) {
		region_del(mt, f->region, true);
		goto cleanup;
	}
	*fp = f;
	return 0;

cleanup:
	fast_free(f);
	return err;
}

int mmiotrap_fast_adopt(struct mmiotrap_fast **fp, struct mmiotrap *mt, int vm_fd, __u32 id)
{
	struct mmiotrap_region r;
	struct mmiotrap_fast *f;
	__u8 fast;
	int err;

	if (!fp || !mt)
		return -EINVAL;
	err = mmiotrap_region_get(mt, id, &r);
	if (err)
		return err;
	if (r.vm != (__u32)getpid()) {
		pr_warn("region %u is VM %u's, not this process's\n", id, r.vm);
		return -EPERM;
	}
	if (r.fast_widths) {
		pr_warn("region %u is fast already\n", id);
		return -EBUSY;
	}
	/*
	 * An earlier process with this pid: the trap counts its writes stale,
	 * so the ioeventfds would complete them for no one.
	 */
	err = mmiotrap_region_stale(mt, &r);
	if (err) {
		if (err > 0)
			pr_warn("region %u is of an earlier process with pid %u; apply the policy again\n",
				id, r.vm);
		return err > 0 ? -ESTALE : err;
	}
	fast = fitting(r.want_fast, r.len);
	if (!fast) {
		pr_warn("region %u wants no fast width that fits it\n", id);
		return -EINVAL;
	}
	f = fast_new(mt, vm_fd);
	if (!f)
		return -errno;
	f->region = id;
	f->adopted = true;
	err = plan(f, r.bus, r.addr, r.len, fast);
	if (!err)
		err = region_set_fast(mt, id, fast);
	if (!err) {
		err = assign(f);
		if (err)
			region_set_fast(mt, id, 0);
	}
	if (err) {
		fast_free(f);
		return err;
	}
	*fp = f;
	return 0;
}

int mmiotrap_fast_del(struct mmiotrap_fast *f)
{
	int err;

	if (!f)
		return 0;
	/* The ioeventfds first: from then on every write exits and is seen. */
	deassign(f, f->n);
	if (f->adopted)
		err = region_set_fast(f->mt, f->region, 0);
	else
		err = region_del(f->mt, f->region, true);
	fast_free(f);
	return err;
}

int mmiotrap_fast_eventfd(const struct mmiotrap_fast *f)
{
	return f ? f->efd : -EINVAL;
}

__u32 mmiotrap_fast_region(const struct mmiotrap_fast *f)
{
	return f ? f->region : 0;
}
