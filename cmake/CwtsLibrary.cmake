# cwts_add_library(NAME [INTERFACE] [SOURCES ...] [PUBLIC ...] [PRIVATE ...]): the one way a
# library under libs/ is declared. Target cwts_NAME, alias cwts::NAME; it exports only its own
# headers (libs/NAME/include, holding cwts/NAME/...), so a target sees another library's headers
# only by linking it.
function(cwts_add_library name)
  cmake_parse_arguments(ARG "INTERFACE" "" "SOURCES;PUBLIC;PRIVATE" ${ARGN})
  set(target cwts_${name})
  if(ARG_INTERFACE)
    add_library(${target} INTERFACE)
    target_include_directories(${target} INTERFACE ${CMAKE_CURRENT_SOURCE_DIR}/include)
    target_link_libraries(${target} INTERFACE ${ARG_PUBLIC})
    target_compile_features(${target} INTERFACE cxx_std_20)
  else()
    add_library(${target} STATIC ${ARG_SOURCES})
    target_include_directories(${target} PUBLIC ${CMAKE_CURRENT_SOURCE_DIR}/include)
    target_link_libraries(${target} PUBLIC ${ARG_PUBLIC} PRIVATE ${ARG_PRIVATE} cwts::warnings)
    set_target_properties(${target} PROPERTIES POSITION_INDEPENDENT_CODE ON)
  endif()
  add_library(cwts::${name} ALIAS ${target})
endfunction()
