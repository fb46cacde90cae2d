# The cwts::ta sources and their per-ISA flags; included by libs/ta/CMakeLists.txt and by
# python_bridge/CMakeLists.txt (which compiles its own copy into the extension).
# -ffp-contract=off on every unit: no a*b+c is fused, so each lane's arithmetic is the scalar
# arithmetic and every ISA gives the same bits (and TA-Lib's, whose wheel is baseline x86-64).
function(cwts_ta_sources out_var root)
  set(dir "${root}/src")
  set(srcs "${dir}/registry.cpp" "${dir}/isa_scalar.cpp" "${dir}/isa_avx2.cpp" "${dir}/isa_avx512.cpp")
  set_source_files_properties(${srcs} PROPERTIES COMPILE_OPTIONS "-ffp-contract=off")
  set_source_files_properties("${dir}/isa_avx2.cpp" PROPERTIES COMPILE_OPTIONS "-ffp-contract=off;-mavx2")
  set_source_files_properties("${dir}/isa_avx512.cpp" PROPERTIES
                              COMPILE_OPTIONS "-ffp-contract=off;-mavx512f;-mavx512dq;-mavx512vl")
  set(${out_var} ${srcs} PARENT_SCOPE)
endfunction()
