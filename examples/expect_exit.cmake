# cmake -DCMD=program -DARGS="a;b" -DEXPECT=status -P expect_exit.cmake
# Runs CMD with ARGS and fails unless its exit status is exactly EXPECT.
execute_process(COMMAND ${CMD} ${ARGS} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc STREQUAL "${EXPECT}")
  message(FATAL_ERROR "${CMD} ${ARGS}: exit status ${rc}, expected ${EXPECT}\nstdout:\n${out}\nstderr:\n${err}")
endif()
message(STATUS "${CMD} ${ARGS}: exit status ${rc} as expected\n${err}")
