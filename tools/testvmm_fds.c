// SPDX-License-Identifier: GPL-2.0
/* The test VMM's ioeventfds and irqfds of its own, for discovery tests. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <linux/kvm.h>
#include "go.h"
#include "testvmm_fds.h"

/* A whole number, 0x hex or decimal. */
static bool number(const char *s, uint64_t *val)
{
	char *end;

	if (!*s || *s == '-' || *s == '+')
		return false;
	errno = 0;
	*val = strtoull(s, &end, 0);
	return !errno && !*end;
}

bool vmm_fds_parse_doorbell(struct vmm_fds *f, const char *arg)
{
	char buf[128], *field[5] = {}, *save;
	uint64_t len;
	int n = 0;

	if (f->ndoorbells == FDS_MAX || strlen(arg) >= sizeof(buf))
		return false;
	strcpy(buf, arg);
	for (field[0] = strtok_r(buf, ":", &save); field[n] && n < 4; )
		field[++n] = strtok_r(NULL, ":", &save);
	if (n < 3 || field[4] || (strcmp(field[0], "mmio") && strcmp(field[0], "pio")))
		return false;
	f->doorbells[f->ndoorbells].bus = strcmp(field[0], "pio") ? BUS_MMIO : BUS_PIO;
	if (!number(field[1], &f->doorbells[f->ndoorbells].addr) || !number(field[2], &len) ||
	    (len != 0 && len != 1 && len != 2 && len != 4 && len != 8))
		return false;
	f->doorbells[f->ndoorbells].len = len;
	f->doorbells[f->ndoorbells].datamatch = field[3];
	if (field[3] && !number(field[3], &f->doorbells[f->ndoorbells].value))
		return false;
	f->doorbells[f->ndoorbells++].efd = -1;
	return true;
}

bool vmm_fds_parse_irqfd(struct vmm_fds *f, const char *arg)
{
	char buf[64], *colon;
	uint64_t gsi;

	if (f->nirqfds == FDS_MAX || strlen(arg) >= sizeof(buf))
		return false;
	strcpy(buf, arg);
	colon = strchr(buf, ':');
	if (colon)
		*colon++ = '\0';
	if (!number(buf, &gsi) || gsi > 1023 || (colon && strcmp(colon, "resample")))
		return false;
	f->irqfds[f->nirqfds].gsi = gsi;
	f->irqfds[f->nirqfds].resample = colon;
	f->irqfds[f->nirqfds].efd = -1;
	f->irqfds[f->nirqfds++].resample_efd = -1;
	return true;
}

static int add_doorbell(struct vmm_fds *f, int i, int vm_fd, const char **op)
{
	struct kvm_ioeventfd io = {
		.addr = f->doorbells[i].addr,
		.len = f->doorbells[i].len,
		.datamatch = f->doorbells[i].value,
		.flags = (f->doorbells[i].bus == BUS_PIO ? KVM_IOEVENTFD_FLAG_PIO : 0) |
			 (f->doorbells[i].datamatch ? KVM_IOEVENTFD_FLAG_DATAMATCH : 0),
	};

	*op = "eventfd";
	f->doorbells[i].efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (f->doorbells[i].efd < 0)
		return -errno;
	io.fd = f->doorbells[i].efd;
	*op = "KVM_IOEVENTFD";
	return ioctl(vm_fd, KVM_IOEVENTFD, &io) ? -errno : 0;
}

static int add_irqfd(struct vmm_fds *f, int i, int vm_fd, const char **op)
{
	struct kvm_irqfd irq = { .gsi = f->irqfds[i].gsi };

	*op = "eventfd";
	f->irqfds[i].efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (f->irqfds[i].efd < 0)
		return -errno;
	irq.fd = f->irqfds[i].efd;
	if (f->irqfds[i].resample) {
		f->irqfds[i].resample_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (f->irqfds[i].resample_efd < 0)
			return -errno;
		irq.resamplefd = f->irqfds[i].resample_efd;
		irq.flags = KVM_IRQFD_FLAG_RESAMPLE;
	}
	*op = "KVM_IRQFD";
	return ioctl(vm_fd, KVM_IRQFD, &irq) ? -errno : 0;
}

int vmm_fds_register(struct vmm_fds *f, int vm_fd, const char **op)
{
	int i, err = 0;

	for (i = 0; i < f->ndoorbells && !err; i++)
		err = add_doorbell(f, i, vm_fd, op);
	for (i = 0; i < f->nirqfds && !err; i++)
		err = add_irqfd(f, i, vm_fd, op);
	return err;
}

void vmm_fds_report(const struct vmm_fds *f, FILE *out)
{
	int i;

	fprintf(out, ",\"ioeventfds\":[");
	for (i = 0; i < f->ndoorbells; i++) {
		fprintf(out, "%s{\"bus\":\"%s\",\"addr\":%" PRIu64 ",\"len\":%u,\"fd\":%d,\"datamatch\":",
			i ? "," : "", f->doorbells[i].bus == BUS_PIO ? "pio" : "mmio",
			f->doorbells[i].addr, f->doorbells[i].len, f->doorbells[i].efd);
		if (f->doorbells[i].datamatch)
			fprintf(out, "%" PRIu64 "}", f->doorbells[i].value);
		else
			fprintf(out, "null}");
	}
	fprintf(out, "],\"irqfds\":[");
	for (i = 0; i < f->nirqfds; i++) {
		fprintf(out, "%s{\"gsi\":%u,\"fd\":%d,\"resamplefd\":", i ? "," : "",
			f->irqfds[i].gsi, f->irqfds[i].efd);
		if (f->irqfds[i].resample)
			fprintf(out, "%d}", f->irqfds[i].resample_efd);
		else
			fprintf(out, "null}");
	}
	fprintf(out, "]");
}

int vmm_fds_hold(const struct vmm_fds *f, const char *prog, const char *path)
{
	/* Opening the FIFO to write waits for the test to open it to read. */
	FILE *out = fopen(path, "we");

	if (!out) {
		fprintf(stderr, "%s: %s: %s\n", prog, path, strerror(errno));
		return -1;
	}
	fprintf(out, "{\"pid\":%d", getpid());
	vmm_fds_report(f, out);
	fprintf(out, "}\n");
	if (fclose(out)) {
		fprintf(stderr, "%s: %s: %s\n", prog, path, strerror(errno));
		return -1;
	}
	return wait_for_go(prog, path);
}

void vmm_fds_close(struct vmm_fds *f)
{
	int i;

	for (i = 0; i < f->ndoorbells; i++)
		if (f->doorbells[i].efd >= 0)
			close(f->doorbells[i].efd);
	for (i = 0; i < f->nirqfds; i++) {
		if (f->irqfds[i].efd >= 0)
			close(f->irqfds[i].efd);
		if (f->irqfds[i].resample_efd >= 0)
			close(f->irqfds[i].resample_efd);
	}
}
