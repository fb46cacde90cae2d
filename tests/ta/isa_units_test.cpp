// The kernel units built for AVX2, AVX-512 and FMA (-mavx2, -mavx512f, -mfma) must not hand a CPU
// without those instructions any code. Their kernels have internal linkage, but a header's inline
// function or template they instantiate is a COMDAT group shared by name with every other unit
// that instantiates it, the baseline scalar one among them, and the linker keeps one unit's copy
// of the whole group (the function, its cold part, its aliases): possibly an -mavx2 unit's. So no
// code section in a COMDAT group of these units may hold a VEX- or EVEX-encoded instruction.
// Checked on the library's own object files with readelf and objdump.
#include <array>
#include <cstdio>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace {

std::string output_of(const std::string& command) {
  std::string out;
  FILE* p = ::popen(command.c_str(), "r");
  if (p == nullptr) {
    ADD_FAILURE() << "cannot run " << command;
    return out;
  }
  std::array<char, 4096> buf{};
  std::size_t got = 0;
  while ((got = std::fread(buf.data(), 1, buf.size(), p)) > 0) out.append(buf.data(), got);
  const int rc = ::pclose(p);
  EXPECT_EQ(rc, 0) << command;
  return out;
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> parts;
  std::string part;
  std::istringstream in(s);
  while (std::getline(in, part, sep)) {
    if (!part.empty()) parts.push_back(part);
  }
  return parts;
}

// The code sections that belong to COMDAT groups, from `readelf -gW`: each group's member lines
// are "   [index]   name"; code sections are named .text.<symbol> (and .text.unlikely.<symbol>,
// .text.hot.<symbol> for a function's cold and hot parts).
std::vector<std::string> comdat_code_sections(const std::string& groups) {
  std::vector<std::string> sections;
  for (const std::string& line : split(groups, '\n')) {
    const std::size_t close = line.find(']');
    if (line.find("COMDAT group") != std::string::npos || close == std::string::npos) continue;
    std::istringstream rest(line.substr(close + 1));
    std::string name;
    rest >> name;
    if (name.rfind(".text", 0) == 0) sections.push_back(name);
  }
  return sections;
}

// The instructions of a disassembly (objdump -d --no-show-raw-insn: "  addr:\tmnemonic operands").
std::vector<std::string> instructions(const std::string& disassembly) {
  std::vector<std::string> found;
  for (const std::string& line : split(disassembly, '\n')) {
    const std::size_t tab = line.find(":\t");
    if (tab != std::string::npos && tab + 2 < line.size()) found.push_back(line.substr(tab + 2));
  }
  return found;
}

// Those only a VEX or EVEX encoding has: v* (vmovsd, vfmadd231pd, vzeroupper ...) and the AVX-512
// mask instructions k* (kmovb ...).
std::vector<std::string> vex_instructions(const std::string& disassembly) {
  std::vector<std::string> found;
  for (const std::string& insn : instructions(disassembly)) {
    if (insn[0] == 'v' || insn[0] == 'k') found.push_back(insn);
  }
  return found;
}

bool is_isa_unit(const std::string& object) {
  for (const char* unit : {"isa_avx2.cpp", "isa_avx512.cpp", "isa_scalar_fma.cpp"}) {
    if (object.find(unit) != std::string::npos) return true;
  }
  return false;
}

TEST(IsaUnits, ShareNoVexCodeByNameWithTheBaseline) {
  int units = 0;
  int sections = 0;
  for (const std::string& object : split(CWTS_TA_OBJECTS, '|')) {
    if (!is_isa_unit(object)) continue;
    ++units;
    const std::string groups = output_of(std::string(CWTS_READELF) + " -gW '" + object + "'");
    for (const std::string& section : comdat_code_sections(groups)) {
      ++sections;
      const std::string code = output_of(std::string(CWTS_OBJDUMP) + " -d --no-show-raw-insn -j '" +
                                         section + "' '" + object + "'");
      EXPECT_FALSE(instructions(code).empty())
          << "objdump gave no instruction for " << section << " of " << object;
      const std::vector<std::string> vex = vex_instructions(code);
      EXPECT_TRUE(vex.empty()) << object << ": the shared section " << section << " holds "
                               << vex.size()
                               << " VEX/EVEX instructions, the first: " << vex.front();
    }
  }
  EXPECT_EQ(units, 3) << "the AVX2, AVX-512 and FMA kernel units among " << CWTS_TA_OBJECTS;
  std::printf("%d kernel units, %d shared code sections checked\n", units, sections);
}

TEST(IsaUnits, TheCheckReadsGroupsAndSeesVexInstructions) {
  const std::string groups =
      "COMDAT group section [    1] `.group' [_Z1fv] contains 3 sections:\n"
      "   [Index]    Name\n"
      "   [   13]   .text._Z1fv\n"
      "   [   14]   .rela.text._Z1fv\n"
      "   [   15]   .text.unlikely._Z1fv\n"
      "COMDAT group section [    2] `.group' [_ZTS1A] contains 1 sections:\n"
      "   [   16]   .rodata._ZTS1A\n";
  EXPECT_EQ(comdat_code_sections(groups),
            (std::vector<std::string>{".text._Z1fv", ".text.unlikely._Z1fv"}));
  EXPECT_EQ(vex_instructions("   0:\tvmovsd (%rdi),%xmm0\n   4:\tmovsd %xmm0,(%rsi)\n").size(), 1U);
  EXPECT_EQ(vex_instructions("   0:\tkmovb %k1,%eax\n   4:\tret\n").size(), 1U);
  EXPECT_TRUE(vex_instructions("   0:\tmovsd (%rdi),%xmm0\n   4:\tret\n").empty());
  EXPECT_EQ(instructions("0000000000000000 <_Z1fv>:\n   0:\tret\n").size(), 1U);
}

}  // namespace
