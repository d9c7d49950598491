// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * What this host offers the trap, probed rather than inferred from versions:
 * the KVM tracepoints' prototypes in BTF, the mounts, the lockdown level.
 * One exception, below: SVM's fast MMIO bus leaves no trace to probe.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/mount.h>
#include <sys/utsname.h>
#include <linux/magic.h>
#include <bpf/btf.h>
#include "internal.h"

#define LOCKDOWN	"/sys/kernel/security/lockdown"

/* The function prototype behind btf_trace_<tp>, from vmlinux or the kvm module. */
static const struct btf_type *tp_proto(struct btf *btf, const char *tp)
{
	char name[64];
	const struct btf_type *t;
	int id;

	snprintf(name, sizeof(name), "btf_trace_%s", tp);
	id = btf__find_by_name_kind(btf, name, BTF_KIND_TYPEDEF);
	if (id < 0)
		return NULL;
	t = btf__type_by_id(btf, btf__type_by_id(btf, id)->type);
	if (!t || !btf_is_ptr(t))
		return NULL;
	t = btf__type_by_id(btf, t->type);
	return t && btf_is_func_proto(t) ? t : NULL;
}

static void read_tracepoints(struct btf *btf, struct mmiotrap_tracepoints *tp)
{
	const struct btf_type *mmio = tp_proto(btf, "kvm_mmio");
	const struct btf_type *pio = tp_proto(btf, "kvm_pio");
	const struct btf_type *fast = tp_proto(btf, "kvm_fast_mmio");
	const struct btf_type *msi = tp_proto(btf, "kvm_msi_set_irq");
	const struct btf_type *line = tp_proto(btf, "kvm_set_irq");
	const struct btf_type *arg;

	/* (void *, address, data) and (void *, gsi, level, irq_source_id) */
	tp->kvm_irq = msi && btf_vlen(msi) == 3 && line && btf_vlen(line) == 4;
	/* (void *, gpa) */
	if (fast && btf_vlen(fast) == 2)
		tp->kvm_fast_mmio = true;
	if (mmio && btf_vlen(mmio) == 5) {
		tp->kvm_mmio = true;
		arg = btf__type_by_id(btf, btf_params(mmio)[4].type);
		tp->mmio_val_is_ptr = arg && btf_is_ptr(arg);
	}
	/* (void *, rw, port, size, count[, data]) */
	if (pio && btf_vlen(pio) >= 5) {
		tp->kvm_pio = true;
		tp->pio_has_data = btf_vlen(pio) >= 6;
	}
}

int mmiotrap_probe_tracepoints(struct mmiotrap_tracepoints *tp)
{
	struct btf *vmlinux, *kvm;
	size_t sz;

	if (!tp || tp->sz < offsetofend(struct mmiotrap_tracepoints, sz))
		return -EINVAL;
	sz = tp->sz < sizeof(*tp) ? tp->sz : sizeof(*tp);
	memset((char *)tp + sizeof(tp->sz), 0, sz - sizeof(tp->sz));
	vmlinux = btf__load_vmlinux_btf();
	if (!vmlinux)
		return -errno;
	read_tracepoints(vmlinux, tp);
	if (!tp->kvm_mmio) {
		kvm = btf__load_module_btf("kvm", vmlinux);
		if (kvm) {
			read_tracepoints(kvm, tp);
			btf__free(kvm);
		}
	}
	btf__free(vmlinux);
	return 0;
}

/* "[none] integrity confidentiality": the bracketed one is in force. */
static void read_lockdown(char *buf, size_t size)
{
	char line[128] = "", *l, *r;
	FILE *f;

	if (!fs_is("/sys/kernel/security", SECURITYFS_MAGIC) && !geteuid())
		mount("securityfs", "/sys/kernel/security", "securityfs", 0, NULL);
	f = fopen(LOCKDOWN, "re");
	if (!f) {
		snprintf(buf, size, "none");
		return;
	}
	if (!fgets(line, sizeof(line), f))
		line[0] = '\0';
	fclose(f);
	l = strchr(line, '[');
	r = l ? strchr(l, ']') : NULL;
	if (l && r)
		snprintf(buf, size, "%.*s", (int)(r - l - 1), l + 1);
}

static bool param_is(const char *path, char want)
{
	char c = 0;
	FILE *f = fopen(path, "re");

	if (!f)
		return false;
	if (fread(&c, 1, 1, f) != 1)
		c = 0;
	fclose(f);
	return c == want;
}

/* Linux 7.0 gave SVM the fast MMIO bus; its BTF and parameters show nothing. */
static bool svm_has_fast_mmio(void)
{
	struct utsname u;
	int major = 0;

	return !uname(&u) && sscanf(u.release, "%d", &major) == 1 && major >= 7;
}

/*
 * The fast MMIO bus is taken where MMIO SPTEs are cached: VMX with EPT,
 * or SVM from Linux 7.0; kvm_pvm emulates every MMIO write.
 */
static void read_kvm(struct mmiotrap_host *h)
{
	static const char *const modules[] = { "kvm_intel", "kvm_amd", "kvm_pvm" };
	char path[64];
	size_t i;

	for (i = 0; i < ARRAY_SIZE(modules); i++) {
		snprintf(path, sizeof(path), "/sys/module/%s", modules[i]);
		if (!access(path, F_OK)) {
			snprintf(h->kvm_module, sizeof(h->kvm_module), "%s", modules[i]);
			break;
		}
	}
	h->fast_mmio_bus = param_is("/sys/module/kvm/parameters/mmio_caching", 'Y') &&
			   ((!strcmp(h->kvm_module, "kvm_amd") && svm_has_fast_mmio()) ||
			    (!strcmp(h->kvm_module, "kvm_intel") &&
			     param_is("/sys/module/kvm_intel/parameters/ept", 'Y')));
}

int mmiotrap_probe_host(struct mmiotrap_host *h)
{
	MMIOTRAP_OPTS(mmiotrap_host, host);

	if (!h || !OPTS_VALID(h, struct mmiotrap_host))
		return -EINVAL;
	host.bpffs = fs_is("/sys/fs/bpf", BPF_FS_MAGIC);
	host.tracefs = fs_is("/sys/kernel/tracing", TRACEFS_MAGIC);
	host.kvm = !access("/dev/kvm", R_OK | W_OK);
	read_lockdown(host.lockdown, sizeof(host.lockdown));
	read_kvm(&host);
	memcpy((char *)h + sizeof(h->sz), (char *)&host + sizeof(host.sz),
	       (h->sz < sizeof(host) ? h->sz : sizeof(host)) - sizeof(h->sz));
	return 0;
}
