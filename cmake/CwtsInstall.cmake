# `cmake --install` (GNU install dirs) and the Debian package (cpack -G DEB): docs/operations.md,
# docs/adr/0029-packaging.md. Installed: the operator's binaries, the config examples, the systemd
# unit, the docs, and the shared-memory layout headers as the CMake package cwts_shm_layout
# (find_package(cwts_shm_layout CONFIG) -> cwts::shm_layout). Tests, benches and the demo are not.
set(CMAKE_INSTALL_DOCDIR "share/doc/cwts" CACHE PATH "Documentation (the unit's Documentation=)")
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

# Relative to the prefix: systemd reads /usr/lib/systemd/system and /usr/local/lib/systemd/system.
set(CWTS_INSTALL_SYSTEMDUNITDIR "lib/systemd/system" CACHE PATH "Where the systemd unit goes")
set(CWTS_INSTALL_DATADIR "${CMAKE_INSTALL_DATADIR}/cwts")

# ---- binaries (cwts-shm-demo is a build-tree demo: it reads tests/data from the source tree)
install(TARGETS cwtsd cwtsctl cwts-sim cwts-replay cwts-shm-layout
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT runtime)

# ---- examples: config/ (the unit goes below), and the exchange info cwts-sim loads by default
install(FILES config/cwtsd.example.json config/demo.json config/README.md
        DESTINATION ${CWTS_INSTALL_DATADIR} COMPONENT runtime)
install(DIRECTORY config/grafana config/prometheus DESTINATION ${CWTS_INSTALL_DATADIR}
        COMPONENT runtime PATTERN "*.test.yml" EXCLUDE)
install(FILES tests/data/binance/binance_spot_exchangeInfo_full_cryptofeed_2021.json.gz
        DESTINATION ${CWTS_INSTALL_DATADIR}/sim COMPONENT runtime)

# ---- the systemd unit, its /usr/bin/cwtsd rewritten to this install's bindir at install time
# (the prefix may change at install time: `cmake --install --prefix`, cpack's /usr).
install(CODE "
  set(_bindir \"${CMAKE_INSTALL_BINDIR}\")
  if(NOT IS_ABSOLUTE \"\${_bindir}\")
    set(_bindir \"\${CMAKE_INSTALL_PREFIX}/\${_bindir}\")
  endif()
  file(READ \"${PROJECT_SOURCE_DIR}/config/systemd/cwtsd.service\" _unit)
  string(REPLACE \"/usr/bin/cwtsd\" \"\${_bindir}/cwtsd\" _unit \"\${_unit}\")
  file(WRITE \"${PROJECT_BINARY_DIR}/install/cwtsd.service\" \"\${_unit}\")
  file(INSTALL DESTINATION \"\${CMAKE_INSTALL_PREFIX}/${CWTS_INSTALL_SYSTEMDUNITDIR}\"
       TYPE FILE FILES \"${PROJECT_BINARY_DIR}/install/cwtsd.service\")
" COMPONENT runtime)

# ---- docs
install(FILES README.md docs/operations.md docs/shm_layout.md DESTINATION ${CMAKE_INSTALL_DOCDIR}
        COMPONENT runtime)

# ---- cwts::shm_layout for third-party readers: header-only, the layout headers and the
# header-only parts of cwts::concurrent and cwts::core they include (tests/packaging checks
# that a consumer compiles every layout header against the installed tree alone).
add_library(cwts_shm_layout_install INTERFACE)
set_target_properties(cwts_shm_layout_install PROPERTIES EXPORT_NAME shm_layout)
target_include_directories(cwts_shm_layout_install INTERFACE
                           $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
target_compile_features(cwts_shm_layout_install INTERFACE cxx_std_20)
install(TARGETS cwts_shm_layout_install EXPORT cwts_shm_layout_targets COMPONENT dev)
install(DIRECTORY libs/shm_layout/include/cwts/shm_layout libs/concurrent/include/cwts/concurrent
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/cwts COMPONENT dev)
install(FILES libs/core/include/cwts/core/money.hpp libs/core/include/cwts/core/decimal.hpp
              libs/core/include/cwts/core/fixed_point.hpp
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/cwts/core COMPONENT dev)

# Header-only and the same on every architecture: share/cmake, found from any prefix.
set(_cwts_cmake_dir "${CMAKE_INSTALL_DATADIR}/cmake/cwts_shm_layout")
install(EXPORT cwts_shm_layout_targets NAMESPACE cwts:: FILE cwts_shm_layoutTargets.cmake
        DESTINATION ${_cwts_cmake_dir} COMPONENT dev)
configure_package_config_file(cmake/cwts_shm_layoutConfig.cmake.in
                              ${PROJECT_BINARY_DIR}/install/cwts_shm_layoutConfig.cmake
                              INSTALL_DESTINATION ${_cwts_cmake_dir})
# 0.x: a minor version may change the layout (the headers carry kLayoutVersion/kLayoutHash).
write_basic_package_version_file(${PROJECT_BINARY_DIR}/install/cwts_shm_layoutConfigVersion.cmake
                                 VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion
                                 ARCH_INDEPENDENT)
install(FILES ${PROJECT_BINARY_DIR}/install/cwts_shm_layoutConfig.cmake
              ${PROJECT_BINARY_DIR}/install/cwts_shm_layoutConfigVersion.cmake
        DESTINATION ${_cwts_cmake_dir} COMPONENT dev)
