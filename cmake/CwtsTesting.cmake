# cwts_add_test(NAME SOURCES... [LIBS ...] [LABELS ...]): the one way a test is registered.
# Labels: `concurrency` tests run under ThreadSanitizer, everything else under ASan+UBSan.
include(GoogleTest)
function(cwts_add_test name)
  cmake_parse_arguments(ARG "" "" "SOURCES;LIBS;LABELS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_LIBS} GTest::gtest GTest::gtest_main cwts::warnings)
  gtest_discover_tests(${name}
    PROPERTIES LABELS "${ARG_LABELS}"
    DISCOVERY_TIMEOUT 60)
endfunction()
