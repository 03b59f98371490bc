# rgcirq: hard interrupts for the unix port on rgc's interrupt simulator (compat/micropython/README.md).
# Built only into the rgc-irq build of scripts/micropython.sh: USER_C_MODULES=<rgc>/compat/micropython/usermod
RGCIRQ_MOD_DIR := $(USERMOD_DIR)
SRC_USERMOD += $(RGCIRQ_MOD_DIR)/modrgcirq.c
CFLAGS_USERMOD += -I$(RGCIRQ_MOD_DIR)/../../../../include -I$(RGCIRQ_MOD_DIR)/../../../../port/posix
