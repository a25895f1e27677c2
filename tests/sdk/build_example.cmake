# cmake -DBUILD_DIR=... -DSOURCE_DIR=... -DWORK_DIR=... -P build_example.cmake
# Installs the SDK into WORK_DIR/prefix and builds docs/examples/hello_email against it.
function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE status OUTPUT_VARIABLE out ERROR_VARIABLE out)
  if(NOT status EQUAL 0)
    message(FATAL_ERROR "failed (${status}): ${ARGN}\n${out}")
  endif()
endfunction()

file(REMOVE_RECURSE ${WORK_DIR})
run(${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${WORK_DIR}/prefix)
run(${CMAKE_COMMAND} -S ${SOURCE_DIR}/docs/examples/hello_email -B ${WORK_DIR}/build -G Ninja
    -DCMAKE_PREFIX_PATH=${WORK_DIR}/prefix -DCMAKE_CXX_COMPILER=${CXX_COMPILER}
    "-DCMAKE_CXX_FLAGS=${CXX_FLAGS} -Wall -Wextra -Werror" -DCMAKE_EXPORT_COMPILE_COMMANDS=ON)
run(${CMAKE_COMMAND} --build ${WORK_DIR}/build)

# Out of tree means out of tree: nothing may reach into the host's sources or build.
file(READ ${WORK_DIR}/build/compile_commands.json commands)
foreach(forbidden "${SOURCE_DIR}/include" "${SOURCE_DIR}/core" "${BUILD_DIR}/include")
  string(FIND "${commands}" "${forbidden}" at)
  if(NOT at EQUAL -1)
    message(FATAL_ERROR "the example's build uses ${forbidden}: it must use the installed SDK only")
  endif()
endforeach()
string(FIND "${commands}" "${WORK_DIR}/prefix/include" at)
if(at EQUAL -1)
  message(FATAL_ERROR "the example's build does not use the installed headers in ${WORK_DIR}/prefix/include")
endif()
if(NOT EXISTS ${WORK_DIR}/build/hello_email.so)
  message(FATAL_ERROR "no ${WORK_DIR}/build/hello_email.so")
endif()
# The installed command checks the plugin as a user would.
run(${WORK_DIR}/prefix/bin/mailroom plugins check ${WORK_DIR}/build/hello_email.so)
message(STATUS "hello_email built out of tree against ${WORK_DIR}/prefix")
