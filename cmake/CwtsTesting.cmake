# cwts_add_test(NAME SOURCES... [LIBS ...] [LABELS ...]): the one way a test is registered.
# Labels: `concurrency` tests run under ThreadSanitizer, everything else under ASan+UBSan.
include(GoogleTest)
function(cwts_add_test name)
  cmake_parse_arguments(ARG "" "" "SOURCES;LIBS;LABELS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_LIBS} GTest::gtest GTest::gtest_main cwts::warnings)
  # GCC 12 at -O3 (the release preset) warns inside the libstdc++ std::string code the tests inline
  # (-Wrestrict, -Wmaybe-uninitialized: false positives, GCC bugs 105651 and 105329) where the dev
  # build at -O2 does not. The release preset builds the tests but never runs them; project code
  # keeps every warning as an error.
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CMAKE_CXX_COMPILER_VERSION VERSION_LESS 13
     AND CMAKE_BUILD_TYPE STREQUAL "Release")
    target_compile_options(${name} PRIVATE -Wno-restrict -Wno-maybe-uninitialized)
  endif()
  # The TSan stage builds only what it runs: every test labelled `concurrency`.
  if("concurrency" IN_LIST ARG_LABELS)
    if(NOT TARGET cwts_concurrency_tests)
      add_custom_target(cwts_concurrency_tests)
    endif()
    add_dependencies(cwts_concurrency_tests ${name})
  endif()
  gtest_discover_tests(${name}
    PROPERTIES LABELS "${ARG_LABELS}"
    DISCOVERY_TIMEOUT 60)
endfunction()
