# Toolchain file for building librgc.a for Cortex-M with arm-none-eabi-gcc:
#   cmake -S rgc -B build-m4 -DCMAKE_TOOLCHAIN_FILE=rgc/cmake/arm-none-eabi.cmake \
#         -DRGC_CPU=cortex-m4 -DRGC_PORT=cortex-m
# (examples and tests are host programs: they are off in a cross build)
set(CMAKE_SYSTEM_NAME Generic)
set(CMAKE_SYSTEM_PROCESSOR arm)
set(CMAKE_C_COMPILER arm-none-eabi-gcc)
set(CMAKE_TRY_COMPILE_TARGET_TYPE STATIC_LIBRARY)
set(RGC_CPU "cortex-m3" CACHE STRING "-mcpu for the Cortex-M build")
set(CMAKE_C_FLAGS_INIT "-mcpu=${RGC_CPU} -mthumb -ffunction-sections -fdata-sections")
set(RGC_BUILD_TESTS OFF CACHE BOOL "" FORCE)
set(RGC_BUILD_EXAMPLES OFF CACHE BOOL "" FORCE)
