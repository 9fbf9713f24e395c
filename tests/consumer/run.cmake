# The install_consumer test: installs the build in BUILD_DIR into a scratch
# prefix under WORK_DIR, then configures, builds and runs the consumer project
# in SOURCE_DIR against it, as another project would (find_package(ddpm)).
#   cmake -DBUILD_DIR=... -DSOURCE_DIR=... -DWORK_DIR=... -DGENERATOR=...
#         -DCXX=... [-DCXX_FLAGS=...] [-DLINKER_FLAGS=...]
#         [-DPREFIX_PATH=DIR:DIR...] [-DCUDA_ROOT=...] -P run.cmake
function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "failed (${rc}): ${ARGN}\n${out}")
  endif()
  set(out "${out}" PARENT_SCOPE)
endfunction()

# A fresh prefix and build each time, so nothing stale can make it pass.
file(REMOVE_RECURSE ${WORK_DIR})
set(prefix ${WORK_DIR}/prefix)
run(${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${prefix})

# The prefix first, then this build's own search path (CMake reads the
# variable from the environment as a ':'-separated list).
set(search ${prefix})
if(PREFIX_PATH)
  string(APPEND search ":${PREFIX_PATH}")
endif()
set(ENV{CMAKE_PREFIX_PATH} "${search}")
set(args -G ${GENERATOR} -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_COMPILER=${CXX}
         "-DCMAKE_CXX_FLAGS=${CXX_FLAGS}" "-DCMAKE_EXE_LINKER_FLAGS=${LINKER_FLAGS}")
if(CUDA_ROOT)
  list(APPEND args -DCUDAToolkit_ROOT=${CUDA_ROOT})
endif()
run(${CMAKE_COMMAND} -S ${SOURCE_DIR} -B ${WORK_DIR}/build ${args})
run(${CMAKE_COMMAND} --build ${WORK_DIR}/build)

run(${WORK_DIR}/build/consumer ${WORK_DIR})
if(NOT out MATCHES "consumer: ok")
  message(FATAL_ERROR "unexpected output: ${out}")
endif()
message(STATUS "${out}")
