build-san/tools/kvm_vm.o: tools/kvm_vm.c tools/kvm_vm.h
tools/kvm_vm.h:
