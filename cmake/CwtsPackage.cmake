# The Debian package: `cpack -G DEB` in a build configured with the `package` preset
# (scripts/package). One package, cwts: binaries, examples, unit, docs and the layout headers.
# Runtime dependencies come from dpkg-shlibdeps on the binaries; adduser for the maintainer scripts.
set(CWTS_PACKAGE_MAINTAINER "CWTS Ultra maintainers <maintainers@cwts.invalid>"
    CACHE STRING "The Debian package's Maintainer field")

set(CPACK_PACKAGE_NAME "cwts")
set(CPACK_PACKAGE_VENDOR "CWTS Ultra")
set(CPACK_PACKAGE_VERSION "${PROJECT_VERSION}")
set(CPACK_PACKAGE_CONTACT "${CWTS_PACKAGE_MAINTAINER}")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "CWTS Ultra low-latency trading engine")
# The long description, wrapped for dpkg (CPack puts the summary above it).
string(CONCAT CPACK_DEBIAN_PACKAGE_DESCRIPTION
       "cwtsd keeps order books from a venue's feeds in shared-memory regions;\n"
       "strategies read them and write signals that cwtsd turns into orders.\n"
       "Also: cwtsctl (control client), cwts-sim (simulated Binance venue),\n"
       "cwts-replay, cwts-shm-layout, the systemd unit (not enabled on install),\n"
       "config examples in /usr/share/cwts and the shared-memory layout headers\n"
       "(CMake package cwts_shm_layout).")
set(CPACK_STRIP_FILES ON)
set(CPACK_PACKAGING_INSTALL_PREFIX "/usr")
set(CPACK_GENERATOR "DEB")

find_program(CWTS_DPKG dpkg)
if(CWTS_DPKG)
  execute_process(COMMAND ${CWTS_DPKG} --print-architecture OUTPUT_VARIABLE _cwts_arch
                  OUTPUT_STRIP_TRAILING_WHITESPACE)
else()
  set(_cwts_arch "${CMAKE_SYSTEM_PROCESSOR}")
endif()
set(CPACK_DEBIAN_PACKAGE_ARCHITECTURE "${_cwts_arch}")
set(CPACK_PACKAGE_FILE_NAME "cwts-${PROJECT_VERSION}-${_cwts_arch}")
set(CPACK_DEBIAN_PACKAGE_SECTION "net")
set(CPACK_DEBIAN_PACKAGE_PRIORITY "optional")
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    "${PROJECT_SOURCE_DIR}/packaging/deb/postinst;${PROJECT_SOURCE_DIR}/packaging/deb/prerm;${PROJECT_SOURCE_DIR}/packaging/deb/postrm")
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
include(CPack)
