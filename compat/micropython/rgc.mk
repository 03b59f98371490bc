# rgc.mk - build-time substitution of py/gc.c by compat/micropython/gc.c in a MicroPython port.
# Usage (from ports/<port>, after the port's own Makefile):
#   make -f Makefile -f <rgc>/compat/micropython/rgc.mk RGC_ROOT=<rgc> RGC_LIB_DIR=<dir of librgc.a> ...
# The explicit rule below takes precedence over the pattern rule that would compile $(TOP)/py/gc.c;
# the rest of the port is compiled exactly as in a stock build. qstr extraction still reads py/gc.c
# (it provides MP_QSTR___del__, the only qstr the compat layer uses).
RGC_ROOT ?= $(error set RGC_ROOT to the rgc source tree)
RGC_LIB_DIR ?= $(error set RGC_LIB_DIR to the directory holding librgc.a)
RGC_COMPAT_DIR ?= $(RGC_ROOT)/compat/micropython

$(BUILD)/py/gc.o: CFLAGS += -std=gnu11 -I$(RGC_ROOT)/include
$(BUILD)/py/gc.o: $(RGC_COMPAT_DIR)/gc.c $(RGC_ROOT)/include/rgc.h $(RGC_ROOT)/include/rgc_config.h
	$(call compile_c)

# The write barrier (MP_GC_WRITE, MP_GC_SHADE, MP_GC_SHADE_RANGE in py/obj.h; patches/ adds them to
# MicroPython) on rgc: gc_write_barrier.h. RGC_WRITE_BARRIER=0 builds without it (the negative control
# of tests/irq_torture.py: objects moved by hard IRQ callbacks during a collection get lost).
RGC_WRITE_BARRIER ?= 1
ifneq ($(RGC_WRITE_BARRIER),0)
CFLAGS += -DMICROPY_GC_WRITE_BARRIER=1 -I$(RGC_COMPAT_DIR) -I$(RGC_ROOT)/include
endif

# librgc.a after every object. RGC_LDLIBS: what librgc's port needs besides - pthreads for the posix
# port (the unix port); nothing on bare metal (a port that sets QEMU_ARCH or CROSS_COMPILE, e.g. qemu),
# which links with -nostdlib and has no libpthread.
ifneq ($(QEMU_ARCH)$(CROSS_COMPILE),)
RGC_BARE_METAL ?= 1
endif
ifeq ($(RGC_BARE_METAL),1)
RGC_LDLIBS ?=
# bare-metal ports link "$(LDFLAGS) -o $@ $(OBJ) $(LIBS)": a library in LDFLAGS would come before the
# objects that need it, so librgc.a goes first in LIBS (before libgcc, which rgc may call into)
LIBS := $(RGC_LIB_DIR)/librgc.a $(LIBS) $(RGC_LDLIBS)
else
RGC_LDLIBS ?= -lpthread
# the unix port links "$^ $(LDFLAGS)": after every object
LDFLAGS += -L$(RGC_LIB_DIR) -lrgc $(RGC_LDLIBS)
endif
# relink when librgc.a changes; the image's name differs between ports (unix: $(PROG), qemu: firmware.elf)
$(BUILD)/$(PROG) $(BUILD)/firmware.elf: $(RGC_LIB_DIR)/librgc.a
