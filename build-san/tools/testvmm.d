build-san/tools/testvmm.o: tools/testvmm.c tools/emulator.h \
 tools/script.h tools/kvm_vm.h
tools/emulator.h:
tools/script.h:
tools/kvm_vm.h:
