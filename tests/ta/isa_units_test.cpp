// The kernel units built for AVX2, AVX-512 and FMA (-mavx2, -mavx512f, -mfma) must not hand a CPU
// without those instructions any code. Their kernels have internal linkage, but a header's inline
// function or template they instantiate is a weak (COMDAT) definition shared by name with every
// other unit that instantiates it, the baseline scalar one among them, and the linker keeps one
// copy: possibly an -mavx2 unit's. So no weak function these units define may hold a VEX- or
// EVEX-encoded instruction. Checked on the library's own object files with nm and objdump.
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
  if (p == nullptr) return out;
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

// The mnemonics of a disassembly (objdump -d --no-show-raw-insn: "  addr:\tmnemonic operands")
// that only a VEX or EVEX encoding has: v* (vmovsd, vfmadd231pd, vzeroupper ...) and the AVX-512
// mask instructions k* (kmovb ...).
std::vector<std::string> vex_instructions(const std::string& disassembly) {
  std::vector<std::string> found;
  for (const std::string& line : split(disassembly, '\n')) {
    const std::size_t tab = line.find(":\t");
    if (tab == std::string::npos) continue;
    const std::string insn = line.substr(tab + 2);
    if (!insn.empty() && (insn[0] == 'v' || insn[0] == 'k')) found.push_back(insn);
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
  int weak = 0;
  for (const std::string& object : split(CWTS_TA_OBJECTS, '|')) {
    if (!is_isa_unit(object)) continue;
    ++units;
    const std::string symbols =
        output_of(std::string(CWTS_NM) + " --defined-only '" + object + "'");
    for (const std::string& line : split(symbols, '\n')) {
      const std::vector<std::string> f = split(line, ' ');
      if (f.size() != 3 || f[1] != "W") continue;  // "value W name": a weak function
      ++weak;
      const std::string code =
          output_of(std::string(CWTS_OBJDUMP) + " -d --no-show-raw-insn --disassemble='" + f[2] +
                    "' '" + object + "'");
      const std::vector<std::string> vex = vex_instructions(code);
      EXPECT_TRUE(vex.empty()) << object << " defines " << f[2] << " weak, with " << vex.size()
                               << " VEX/EVEX instructions, the first: " << vex.front();
    }
  }
  EXPECT_GE(units, 1) << "no AVX2, AVX-512 or FMA kernel unit among " << CWTS_TA_OBJECTS;
  std::printf("%d kernel units, %d weak functions checked\n", units, weak);
}

TEST(IsaUnits, TheCheckSeesVexInstructions) {
  EXPECT_EQ(vex_instructions("   0:\tvmovsd (%rdi),%xmm0\n   4:\tmovsd %xmm0,(%rsi)\n").size(), 1U);
  EXPECT_EQ(vex_instructions("   0:\tkmovb %k1,%eax\n   4:\tret\n").size(), 1U);
  EXPECT_TRUE(vex_instructions("   0:\tmovsd (%rdi),%xmm0\n   4:\tret\n").empty());
}

}  // namespace
