// Pins the shared-memory wire format: any change to a field, offset, size or capacity must come
// with a layout version bump and a regenerated golden file.
#include <cinttypes>
#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "cwts/shm_layout/layout.hpp"

namespace {

namespace layout = cwts::layout;

constexpr const char* kRegenerate =
    "the shared-memory layout changed: bump cwts::layout::kLayoutVersion in "
    "shm_layout/include/cwts/shm_layout/layout.hpp, then regenerate the golden file with "
    "`build/dev/apps/cwts-shm-layout/cwts-shm-layout --golden > tests/layout/layout_golden.txt` "
    "and update "
    "docs/shm_layout.md";

struct Golden {
  unsigned version = 0;
  std::uint64_t hash = 0;
  std::vector<std::string> lines;  // "path offset size"
};

Golden read_golden() {
  Golden g;
  std::ifstream in(CWTS_LAYOUT_GOLDEN);
  std::string word;
  std::string hash;
  in >> word >> g.version >> word >> hash;
  g.hash = std::stoull(hash, nullptr, 16);
  std::string line;
  std::getline(in, line);
  while (std::getline(in, line)) {
    if (!line.empty()) g.lines.push_back(line);
  }
  return g;
}

std::string field_line(const layout::FieldDesc& f) {
  std::ostringstream out;
  out << f.path << ' ' << f.offset << ' ' << f.size;
  return out.str();
}

TEST(LayoutGoldenTest, FieldTableMatchesGoldenFile) {
  const Golden g = read_golden();
  ASSERT_FALSE(g.lines.empty()) << "cannot read " << CWTS_LAYOUT_GOLDEN;
  std::vector<std::string> now;
  for (const auto& f : layout::kFieldTable) now.push_back(field_line(f));
  std::ostringstream diff;
  for (std::size_t i = 0; i < std::max(now.size(), g.lines.size()); ++i) {
    const std::string a = i < g.lines.size() ? g.lines[i] : "<none>";
    const std::string b = i < now.size() ? now[i] : "<none>";
    if (a != b) diff << "  golden: " << a << "\n  built:  " << b << "\n";
  }
  EXPECT_TRUE(diff.str().empty()) << kRegenerate << "\n" << diff.str();
}

TEST(LayoutGoldenTest, VersionAndHashChangeTogether) {
  const Golden g = read_golden();
  if (g.hash != layout::kLayoutHash) {
    EXPECT_NE(g.version, layout::kLayoutVersion)
        << "layout hash changed from 0x" << std::hex << g.hash << " to 0x" << layout::kLayoutHash
        << " but kLayoutVersion is still " << std::dec << layout::kLayoutVersion << ": "
        << kRegenerate;
  }
  EXPECT_EQ(g.version, layout::kLayoutVersion) << kRegenerate;
  EXPECT_EQ(g.hash, layout::kLayoutHash) << kRegenerate;
}

// Every field lies inside its structure and no two fields of a structure overlap: the table
// describes a real layout, not just numbers.
TEST(LayoutGoldenTest, FieldsFitTheirStructAndDoNotOverlap) {
  std::map<std::string, std::size_t> sizes;
  std::map<std::string, std::vector<layout::FieldDesc>> fields;
  for (const auto& f : layout::kFieldTable) {
    const auto dot = f.path.find('.');
    if (dot == std::string_view::npos) {
      sizes[std::string(f.path)] = f.size;
    } else {
      fields[std::string(f.path.substr(0, dot))].push_back(f);
    }
  }
  for (auto& [type, fs] : fields) {
    ASSERT_TRUE(sizes.count(type)) << type << " has fields but no size entry";
    std::sort(fs.begin(), fs.end(), [](auto& a, auto& b) { return a.offset < b.offset; });
    for (std::size_t i = 0; i < fs.size(); ++i) {
      EXPECT_LE(fs[i].offset + fs[i].size, sizes[type]) << fs[i].path << " overflows " << type;
      if (i > 0) {
        EXPECT_LE(fs[i - 1].offset + fs[i - 1].size, fs[i].offset)
            << fs[i - 1].path << " overlaps " << fs[i].path;
      }
    }
  }
}

TEST(LayoutGoldenTest, HashCoversEveryFieldOffset) {
  // Perturb one offset in a copy of the table: the hash must change.
  std::uint64_t h1 = 0xcbf29ce484222325ULL;
  std::uint64_t h2 = h1;
  bool first = true;
  for (const auto& f : layout::kFieldTable) {
    h1 = layout::detail::fnv1a_u64(layout::detail::fnv1a(h1, f.path), f.offset);
    h2 = layout::detail::fnv1a_u64(layout::detail::fnv1a(h2, f.path), f.offset + (first ? 8 : 0));
    first = false;
  }
  EXPECT_NE(h1, h2);
}

TEST(LayoutGoldenTest, RegionSizesAreWhatTheDocsSay) {
  EXPECT_EQ(sizeof(layout::RegionHeader), 256U);
  EXPECT_EQ(sizeof(layout::Event), 120U);
  EXPECT_EQ(sizeof(layout::Signal), 56U);
  EXPECT_EQ(sizeof(layout::ExecReport), 136U);
  EXPECT_EQ(layout::kMarketRegionBytes % 64, 0U);
  EXPECT_EQ(layout::kSignalsRegionBytes % 64, 0U);
}

}  // namespace
