# cmake -DBUILD_DIR=... -DSOURCE_DIR=... -DWORK_DIR=... -P build_example.cmake
# Installs the SDK into WORK_DIR/prefix and builds each plugin in docs/examples against it.
function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE status OUTPUT_VARIABLE out ERROR_VARIABLE out)
  if(NOT status EQUAL 0)
    message(FATAL_ERROR "failed (${status}): ${ARGN}\n${out}")
  endif()
endfunction()

file(REMOVE_RECURSE ${WORK_DIR})
run(${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${WORK_DIR}/prefix)
# Both examples: hello_email (the smallest plugin) and postbox_email (a third party's
# provider with its own DSN scheme, speaking its own HTTP API), each in its own build tree.
foreach(example hello_email postbox_email)
  set(build ${WORK_DIR}/build/${example})
  run(${CMAKE_COMMAND} -S ${SOURCE_DIR}/docs/examples/${example} -B ${build} -G Ninja
      -DCMAKE_PREFIX_PATH=${WORK_DIR}/prefix -DCMAKE_CXX_COMPILER=${CXX_COMPILER}
      "-DCMAKE_CXX_FLAGS=${CXX_FLAGS} -Wall -Wextra -Werror" -DCMAKE_EXPORT_COMPILE_COMMANDS=ON)
  run(${CMAKE_COMMAND} --build ${build})

  # Out of tree means out of tree: nothing may reach into the host's sources or build.
  file(READ ${build}/compile_commands.json commands)
  foreach(forbidden "${SOURCE_DIR}/include" "${SOURCE_DIR}/core" "${BUILD_DIR}/include")
    string(FIND "${commands}" "${forbidden}" at)
    if(NOT at EQUAL -1)
      message(FATAL_ERROR "${example}'s build uses ${forbidden}: it must use the installed SDK only")
    endif()
  endforeach()
  string(FIND "${commands}" "${WORK_DIR}/prefix/include" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "${example}'s build does not use the installed headers in ${WORK_DIR}/prefix/include")
  endif()
  if(NOT EXISTS ${build}/${example}.so)
    message(FATAL_ERROR "no ${build}/${example}.so")
  endif()
  # The installed command checks the plugin as a user would.
  run(${WORK_DIR}/prefix/bin/mailroom plugins check ${build}/${example}.so)
  message(STATUS "${example} built out of tree against ${WORK_DIR}/prefix")
endforeach()
