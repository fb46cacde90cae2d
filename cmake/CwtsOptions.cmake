# Project-wide compile options: warnings on project code and the sanitizer builds.
add_library(cwts_warnings INTERFACE)
add_library(cwts::warnings ALIAS cwts_warnings)
target_compile_options(cwts_warnings INTERFACE -Wall -Wextra -Wpedantic -Wshadow -Wconversion
                                                -Wno-sign-conversion -Wnon-virtual-dtor)
if(CWTS_WERROR)
  target_compile_options(cwts_warnings INTERFACE -Werror)
endif()

if(CWTS_FUZZ)
  add_compile_options(-fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer)
  add_link_options(-fsanitize=address,undefined)
elseif(CWTS_SANITIZE STREQUAL "asan")
  add_compile_options(-fsanitize=address,undefined -fno-sanitize-recover=undefined
                      -fno-omit-frame-pointer)
  add_link_options(-fsanitize=address,undefined)
  # gcc's -Wmaybe-uninitialized gives false positives inside Boost.Beast's parser (boost::optional)
  # once the sanitizers change inlining; the dev build keeps the warning.
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    target_compile_options(cwts_warnings INTERFACE -Wno-maybe-uninitialized)
  endif()
elseif(CWTS_SANITIZE STREQUAL "tsan")
  add_compile_options(-fsanitize=thread -fno-omit-frame-pointer)
  # gcc >= 12 warns that TSan does not model std::atomic_thread_fence. The seqlock and ring
  # protocols use fences by design; every shared access is itself atomic, so TSan still checks
  # them, and the fence ordering is covered by the multi-process stress tests.
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CMAKE_CXX_COMPILER_VERSION VERSION_GREATER_EQUAL 12)
    target_compile_options(cwts_warnings INTERFACE -Wno-tsan)
  endif()
  add_link_options(-fsanitize=thread)
elseif(NOT CWTS_SANITIZE STREQUAL "")
  message(FATAL_ERROR "CWTS_SANITIZE must be '', 'asan' or 'tsan', not '${CWTS_SANITIZE}'")
endif()
