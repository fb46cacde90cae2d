# The cwts::ta sources and their per-ISA flags; included by libs/ta/CMakeLists.txt and by
# python_bridge/CMakeLists.txt (which compiles its own copy into the extension).
# -ffp-contract=off on every unit: no a*b+c is fused but the kernels' explicit fmadd() (where
# TA-Lib's FMA build fuses), so each lane's arithmetic is the scalar arithmetic and every ISA gives
# the same bits (ADR 0011). isa_scalar_fma.cpp is the scalar unit again with the FMA instruction.
# GCC's generic tuning splits every unaligned 256-bit load and store into two 128-bit halves; a
# lane tile stored in halves and read back whole cannot be forwarded from the store buffer (a
# stall of ~10 cycles per load, measured: MACD's AVX2 lanes ran slower than its scalar kernel).
# Whole moves change no arithmetic, so no bits.
function(cwts_ta_sources out_var root)
  set(dir "${root}/src")
  set(srcs "${dir}/registry.cpp" "${dir}/isa_scalar.cpp" "${dir}/isa_scalar_fma.cpp" "${dir}/isa_avx2.cpp"
           "${dir}/isa_avx512.cpp")
  set(whole2 "")
  set(whole512 "")
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    set(whole2 "-mno-avx256-split-unaligned-load;-mno-avx256-split-unaligned-store;-mmove-max=256;-mstore-max=256")
    set(whole512 "-mno-avx256-split-unaligned-load;-mno-avx256-split-unaligned-store;-mmove-max=512;-mstore-max=512")
  endif()
  set_source_files_properties(${srcs} PROPERTIES COMPILE_OPTIONS "-ffp-contract=off")
  set_source_files_properties("${dir}/isa_scalar_fma.cpp" PROPERTIES
                              COMPILE_OPTIONS "-ffp-contract=off;-mfma")
  set_source_files_properties("${dir}/isa_avx2.cpp" PROPERTIES
                              COMPILE_OPTIONS "-ffp-contract=off;-mavx2;-mfma;${whole2}")
  set_source_files_properties("${dir}/isa_avx512.cpp" PROPERTIES
                              COMPILE_OPTIONS "-ffp-contract=off;-mavx512f;-mavx512dq;-mavx512vl;-mfma;${whole512}")
  set(${out_var} ${srcs} PARENT_SCOPE)
endfunction()
