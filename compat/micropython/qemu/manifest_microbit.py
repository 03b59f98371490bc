# The MICROBIT board's frozen modules for scripts/micropython-qemu.sh: what the port's default manifest
# freezes for it (frozen_const.py; the nRF51 build has no Thumb-2 native emitter) and, for
# micropython-lib's unittest, rgc's small unittest.py.
freeze("$(PORT_DIR)/test-frzmpy", ("frozen_const.py",))
module("unittest.py")
