build-san/tools/script.o: tools/script.c tools/script.h
tools/script.h:
