# SPDX-License-Identifier: GPL-2.0
#
# vmlinux.h -> trap.bpf.o -> trap.skel.h -> libmmiotrap -> mmiotrap
# Everything is built under $(OUTPUT). V=1 shows the commands.

# SANITIZE=1 builds everything with ASan and UBSan, under build-san.
# make check runs the tests that start no VM on such a build, $(SAN_OUTPUT).
ifeq ($(SANITIZE),1)
OUTPUT		?= build-san
SAN_FLAGS	:= -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
SAN_OUTPUT	:= $(OUTPUT)
else
OUTPUT		?= build
SAN_FLAGS	:=
SAN_OUTPUT	:= $(OUTPUT)-san
endif
PREFIX		?= /usr/local
LIBDIR		?= $(PREFIX)/lib
INCLUDEDIR	?= $(PREFIX)/include
BINDIR		?= $(PREFIX)/sbin
DESTDIR		?=

CC		?= cc
CLANG		?= clang
BPFTOOL		?= bpftool
AR		?= ar
VMLINUX_BTF	?= /sys/kernel/btf/vmlinux
ARCH		:= $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/')

VERSION		:= 0.1.0
SONAME		:= libmmiotrap.so.0

# What make deps installs from Debian when it is missing.
DEBS := make gcc libc6-dev linux-libc-dev clang llvm bpftool libbpf-dev libelf-dev \
	zlib1g-dev pkg-config libjansson-dev libyaml-dev bats bats-assert bats-support bats-file \
	jq python3 util-linux procps strace qemu-system-x86 libmicrohttpd-dev prometheus tmux curl \
	kmod

# CFLAGS and LDFLAGS are the user's (make CFLAGS=... replaces them); what
# the build needs is in ALL_CFLAGS, which a command line cannot drop.
CFLAGS		?= -O2 -g
LDFLAGS		?=
ALL_CFLAGS	:= -Wall -Wextra -Werror -std=gnu11 -Iinclude -I$(OUTPUT) -MMD -MP $(SAN_FLAGS) $(CFLAGS)
ALL_LDFLAGS	:= $(SAN_FLAGS) $(LDFLAGS)
BPF_CFLAGS	:= -g -O2 -Wall -target bpf -D__TARGET_ARCH_$(ARCH) -Iinclude -Ibpf -I$(OUTPUT) -MMD -MP
LIB_LDLIBS	:= -lbpf -lelf -lz -lyaml -ljansson -lpthread
CLI_LDLIBS	:= $(LIB_LDLIBS) -lmicrohttpd

LIB_SRCS	:= $(wildcard lib/*.c)
CLI_SRCS	:= $(wildcard cli/*.c)
VMM_SRCS	:= $(addprefix tools/,testvmm.c testvmm_fds.c testvmm_irq.c kvm_vm.c script.c emulator.c go.c)

LIB_OBJS	:= $(patsubst lib/%.c,$(OUTPUT)/lib/%.o,$(LIB_SRCS))
CLI_OBJS	:= $(patsubst cli/%.c,$(OUTPUT)/cli/%.o,$(CLI_SRCS))
VMM_OBJS	:= $(patsubst tools/%.c,$(OUTPUT)/tools/%.o,$(VMM_SRCS)) \
		   $(OUTPUT)/tools/doorbell_guest.o

PROGS		:= $(OUTPUT)/mmiotrap $(OUTPUT)/mmiotrap-testvmm $(OUTPUT)/mmiotrap-inject \
		   $(OUTPUT)/mmiotrap-costparts $(OUTPUT)/decode-test $(OUTPUT)/api-test
LIBS		:= $(OUTPUT)/libmmiotrap.a $(OUTPUT)/$(SONAME)

ifeq ($(V),1)
Q =
msg =
else
Q = @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

.DELETE_ON_ERROR:
.SECONDARY:
.PHONY: all deps demo check bench mutate install clean fuzz fuzz-build

all: $(LIBS) $(PROGS)

$(OUTPUT) $(OUTPUT)/lib $(OUTPUT)/cli $(OUTPUT)/tools:
	$(Q)mkdir -p $@

$(OUTPUT)/vmlinux.h: | $(OUTPUT)
	$(call msg,GEN,$@)
	$(Q)$(BPFTOOL) btf dump file $(VMLINUX_BTF) format c > $@

$(OUTPUT)/%.bpf.o: bpf/%.bpf.c $(OUTPUT)/vmlinux.h
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@

# The bench's measuring programs live beside their userspace.
$(OUTPUT)/%.bpf.o: tools/%.bpf.c $(OUTPUT)/vmlinux.h
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(OUTPUT)/%.skel.h: $(OUTPUT)/%.bpf.o
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name $*_bpf > $@

# Header dependencies come from the compiler (-MMD -MP); generated headers
# are named, since they must exist before the first compile finds them.
$(LIB_OBJS): $(OUTPUT)/trap.skel.h $(OUTPUT)/vms.skel.h

# -Ibpf: the library shares bpf/vms.h, its iterator's records, with no one else.
$(OUTPUT)/lib/%.o: lib/%.c | $(OUTPUT)/lib
	$(call msg,CC,$@)
	$(Q)$(CC) $(ALL_CFLAGS) -Ibpf -fPIC -c $< -o $@

$(OUTPUT)/cli/%.o: cli/%.c | $(OUTPUT)/cli
	$(call msg,CC,$@)
	$(Q)$(CC) $(ALL_CFLAGS) -c $< -o $@

$(OUTPUT)/tools/%.o: tools/%.c | $(OUTPUT)/tools
	$(call msg,CC,$@)
	$(Q)$(CC) $(ALL_CFLAGS) -Itools -c $< -o $@

$(OUTPUT)/tools/%.o: tools/%.S | $(OUTPUT)/tools
	$(call msg,AS,$@)
	$(Q)$(CC) -c $< -o $@

# The decoders' unit test runs their userspace and their BPF build.
$(OUTPUT)/decode-test: selftests/decode/decode_test.c $(OUTPUT)/decode_test.skel.h
	$(call msg,CC,$@)
	$(Q)$(CC) $(ALL_CFLAGS) -Ibpf $(ALL_LDFLAGS) -o $@ $< $(LIB_LDLIBS)

$(OUTPUT)/api-test: selftests/api/api_test.c $(OUTPUT)/libmmiotrap.a
	$(call msg,CC,$@)
	$(Q)$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $^ $(LIB_LDLIBS)

$(OUTPUT)/libmmiotrap.a: $(LIB_OBJS)
	$(call msg,AR,$@)
	$(Q)rm -f $@ && $(AR) rcs $@ $^

$(OUTPUT)/$(SONAME): $(LIB_OBJS) lib/libmmiotrap.map
	$(call msg,LD,$@)
	$(Q)$(CC) -shared -Wl,-soname,$(SONAME) -Wl,--version-script=lib/libmmiotrap.map \
		$(ALL_LDFLAGS) -o $@ $(LIB_OBJS) $(LIB_LDLIBS)

$(OUTPUT)/mmiotrap: $(CLI_OBJS) $(OUTPUT)/libmmiotrap.a
	$(call msg,LD,$@)
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(CLI_LDLIBS)

$(OUTPUT)/mmiotrap-testvmm: $(VMM_OBJS) $(OUTPUT)/libmmiotrap.a
	$(call msg,LD,$@)
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIB_LDLIBS)

# Drives the trap's raw_tp programs with BPF_PROG_TEST_RUN: no VM, no libmmiotrap.
$(OUTPUT)/mmiotrap-inject: $(OUTPUT)/tools/inject.o $(OUTPUT)/tools/go.o
	$(call msg,LD,$@)
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ -lbpf -lelf -lz -lpthread

# The trap's parts, each timed alone: where its time goes (docs/cost.md).
$(OUTPUT)/tools/costparts.o: $(OUTPUT)/costparts.skel.h

$(OUTPUT)/mmiotrap-costparts: $(OUTPUT)/tools/costparts.o
	$(call msg,LD,$@)
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ -lbpf -lelf -lz

# libFuzzer targets (selftests/fuzz): clang's, over a build of the library
# of their own. make fuzz runs each for FUZZ_SECONDS; the in-tree corpus
# seeds them, and what they find goes under $(FUZZ_DIR)/corpus.
FUZZ_TARGETS	:= policy decode number
FUZZ_SECONDS	?= 60
FUZZ_DIR	:= $(OUTPUT)/fuzz
FUZZ_FLAGS	:= -g -O1 -Wall -Wextra -Werror -std=gnu11 -Iinclude -I$(OUTPUT) -MMD -MP \
		   -fsanitize=address,undefined -fno-sanitize-recover=all
FUZZ_LIB_OBJS	:= $(patsubst lib/%.c,$(FUZZ_DIR)/lib/%.o,$(LIB_SRCS))
FUZZ_BINS	:= $(addprefix $(FUZZ_DIR)/fuzz-,$(FUZZ_TARGETS))

$(FUZZ_DIR)/lib:
	$(Q)mkdir -p $@

$(FUZZ_LIB_OBJS): $(OUTPUT)/trap.skel.h $(OUTPUT)/vms.skel.h

$(FUZZ_DIR)/lib/%.o: lib/%.c | $(FUZZ_DIR)/lib
	$(call msg,FUZZ-CC,$@)
	$(Q)$(CLANG) $(FUZZ_FLAGS) -Ibpf -fsanitize=fuzzer-no-link -c $< -o $@

$(FUZZ_DIR)/cli.o: cli/cli.c | $(FUZZ_DIR)/lib
	$(call msg,FUZZ-CC,$@)
	$(Q)$(CLANG) $(FUZZ_FLAGS) -fsanitize=fuzzer-no-link -c $< -o $@

$(FUZZ_DIR)/libmmiotrap.a: $(FUZZ_LIB_OBJS)
	$(call msg,AR,$@)
	$(Q)rm -f $@ && $(AR) rcs $@ $^

$(FUZZ_DIR)/fuzz-%: selftests/fuzz/fuzz_%.c $(FUZZ_DIR)/cli.o $(FUZZ_DIR)/libmmiotrap.a \
		    $(OUTPUT)/decode_test.skel.h
	$(call msg,FUZZ-LD,$@)
	$(Q)$(CLANG) $(FUZZ_FLAGS) -Icli -Ibpf -fsanitize=fuzzer -o $@ $< $(FUZZ_DIR)/cli.o \
		$(FUZZ_DIR)/libmmiotrap.a $(CLI_LDLIBS)

fuzz-build: $(FUZZ_BINS)

fuzz: deps
	$(Q)$(MAKE) --no-print-directory fuzz-build
	$(Q)for t in $(FUZZ_TARGETS); do \
		mkdir -p $(FUZZ_DIR)/corpus/$$t && \
		echo "  FUZZ    $$t for $(FUZZ_SECONDS)s" && \
		$(FUZZ_DIR)/fuzz-$$t -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
			-artifact_prefix=$(FUZZ_DIR)/ \
			-max_len=65536 $(FUZZ_DIR)/corpus/$$t selftests/fuzz/corpus/$$t 2>$(FUZZ_DIR)/$$t.log || \
			{ tail -40 $(FUZZ_DIR)/$$t.log; exit 1; }; \
	done

# Installs only what is missing; as root, as make demo and make check run.
deps:
	$(Q)missing=; for p in $(DEBS); do \
		dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || \
			missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
		echo "  DEPS    installing$$missing"; \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get update -qq && apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

demo: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)tools/demo.sh $(OUTPUT)

check: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)$(MAKE) --no-print-directory SANITIZE=1 OUTPUT=$(SAN_OUTPUT) all fuzz-build
	$(Q)selftests/run $(OUTPUT) $(SAN_OUTPUT)

bench: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)tools/bench.sh $(OUTPUT)

# Injected bugs, each in a copy of the tree: do the suites catch them?
mutate: deps
	$(Q)tools/mutate.sh

install: all
	$(call msg,INSTALL,$(DESTDIR)$(PREFIX))
	$(Q)install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(INCLUDEDIR)
	$(Q)install -m 0755 $(OUTPUT)/mmiotrap $(DESTDIR)$(BINDIR)/
	$(Q)install -m 0644 $(OUTPUT)/libmmiotrap.a $(DESTDIR)$(LIBDIR)/
	$(Q)install -m 0755 $(OUTPUT)/$(SONAME) $(DESTDIR)$(LIBDIR)/
	$(Q)ln -sf $(SONAME) $(DESTDIR)$(LIBDIR)/libmmiotrap.so
	$(Q)install -m 0644 $(wildcard include/*.h) $(DESTDIR)$(INCLUDEDIR)/
	$(Q)sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' \
		-e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' -e 's|@VERSION@|$(VERSION)|' \
		lib/libmmiotrap.pc.in > $(DESTDIR)$(LIBDIR)/pkgconfig/libmmiotrap.pc

clean:
	$(call msg,CLEAN,$(OUTPUT))
	$(Q)rm -rf $(OUTPUT)

-include $(wildcard $(OUTPUT)/*.d $(OUTPUT)/*/*.d $(FUZZ_DIR)/*.d $(FUZZ_DIR)/*/*.d)
