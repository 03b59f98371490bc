# Frozen modules of the qemu port's builds (scripts/micropython-qemu.sh): what the port's default manifest
# freezes (test-frzmpy, used by MicroPython's frozen-module tests), and instead of micropython-lib's
# unittest - which Debian's source package drops and which 8 tests import - rgc's small unittest.py.
freeze("$(PORT_DIR)/test-frzmpy", ("frozen_asm_thumb.py", "frozen_const.py", "frozen_viper.py", "native_frozen_align.py"))
module("unittest.py")
