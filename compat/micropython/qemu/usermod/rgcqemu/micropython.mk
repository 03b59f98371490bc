# rgcqemu: hard interrupts with Python callbacks on the qemu port's MPS2 AN385 (modrgcqemu.c). Built into
# both qemu builds of scripts/micropython-qemu.sh: USER_C_MODULES=<rgc>/compat/micropython/qemu/usermod.
# On rgc (rgc.mk sets RGC_ROOT) callbacks run without gc_lock and may allocate; on stock py/gc.c they
# run with the heap locked, as MicroPython's hard IRQs do.
RGCQEMU_MOD_DIR := $(USERMOD_DIR)
SRC_USERMOD_C += $(RGCQEMU_MOD_DIR)/modrgcqemu.c
ifneq ($(RGC_ROOT),)
CFLAGS_USERMOD += -DRGCQEMU_RGC=1 -I$(RGC_ROOT)/include -I$(RGC_ROOT)/port/cortex-m
else
CFLAGS_USERMOD += -DRGCQEMU_RGC=0
endif
