# `cmake --install` puts the four libraries, their public headers and a CMake
# package in the prefix, so that another project can
#   find_package(ddpm REQUIRED)
#   target_link_libraries(app PRIVATE ag::nn ag::diffusion)
# The programs under apps/ are not installed.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(AG_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/ddpm)

# Names of their own in a shared prefix (lib/libag_nn.a, include/ddpm/nn/...),
# while the code still includes "nn/module.h".
set(AG_LIBRARIES autograd io nn diffusion)
foreach(lib IN LISTS AG_LIBRARIES)
  set_target_properties(${lib} PROPERTIES OUTPUT_NAME ag_${lib})
endforeach()
install(TARGETS ${AG_LIBRARIES} EXPORT ddpmTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  FILE_SET HEADERS DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/ddpm)
install(EXPORT ddpmTargets NAMESPACE ag:: DESTINATION ${AG_CMAKE_DIR})

configure_package_config_file(cmake/ddpmConfig.cmake.in
  ${CMAKE_CURRENT_BINARY_DIR}/ddpmConfig.cmake INSTALL_DESTINATION ${AG_CMAKE_DIR})
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/ddpmConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/ddpmConfig.cmake
  ${CMAKE_CURRENT_BINARY_DIR}/ddpmConfigVersion.cmake DESTINATION ${AG_CMAKE_DIR})
