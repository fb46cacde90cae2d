// Pins the shared-memory wire format: any change to a field, offset, size, capacity, enumerator or
// flag must come with a layout version bump and a regenerated golden file.
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

// "= name value": an enumerator, flag or magic (the golden file lists them after the fields).
std::string value_line(const layout::ValueDesc& v) {
  std::ostringstream out;
  out << "= " << v.name << ' ' << v.value;
  return out.str();
}

TEST(LayoutGoldenTest, FieldTableMatchesGoldenFile) {
  const Golden g = read_golden();
  ASSERT_FALSE(g.lines.empty()) << "cannot read " << CWTS_LAYOUT_GOLDEN;
  std::vector<std::string> now;
  for (const auto& f : layout::kFieldTable) now.push_back(field_line(f));
  for (const auto& v : layout::kValueTable) now.push_back(value_line(v));
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
    const auto dot = f.path.rfind('.');
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

bool has_field(std::string_view path) {
  for (const auto& f : layout::kFieldTable) {
    if (f.path == path) return true;
  }
  return false;
}

// The words the lock-free primitives synchronise on are part of the wire format: swapping
// RecordRing::tail with its padding, say, must change the hash (issue 17 item 12).
TEST(LayoutGoldenTest, HashCoversThePrimitivesInternals) {
  for (const char* path : {
           "RingCursor.head",
           "SignalRing.tail",
           "SignalRing.records",
           "SignalRing::Record.commit",
           "SignalRing::Record.words",
           "ReportRing.tail",
           "ReportRing::Record.commit",
           "EventRing.head",
           "EventRing.slots",
           "EventRing::Slot.seq",
           "EventRing::Slot.words",
           "BroadcastHead.head",
           "CandleSlot.seq",
           "Seqlock<Quote>.seq",
           "Seqlock<Quote>.words",
           "Seqlock<Balance>.seq",
       }) {
    EXPECT_TRUE(has_field(path)) << path << " is not in the field table";
  }
}

// Enumerator values and flag bits are wire format too: a renumbered RejectReason must change the
// hash.
TEST(LayoutGoldenTest, HashCoversEnumeratorValuesAndFlags) {
  auto value_of = [](std::string_view name) -> long long {
    for (const auto& v : layout::kValueTable) {
      if (v.name == name) return static_cast<long long>(v.value);
    }
    return -1;
  };
  EXPECT_EQ(value_of("RegionState::kLive"), 1);
  EXPECT_EQ(value_of("RegionState::kClosed"), 2);
  EXPECT_EQ(value_of("RegionKind::kSignals"), 2);
  EXPECT_EQ(value_of("Side::kSell"), 2);
  EXPECT_EQ(value_of("EventKind::kStatus"), 5);
  EXPECT_EQ(value_of("RejectReason::kBookStale"), 28);
  EXPECT_EQ(value_of("ReportKind::kStatusUnknown"), 8);
  EXPECT_EQ(value_of("kFlagHugePages"), 2);
  EXPECT_EQ(value_of("kSignalReduceOnly"), 1);
  EXPECT_EQ(value_of("kMarketMagic"), static_cast<long long>(layout::kMarketMagic));
  // Every enumerator of every wire enum is listed: the table is built from exhaustive switches
  // (-Wswitch -Werror), so only the spot check above is needed here.
  std::uint64_t h = layout::detail::layout_hash_of(layout::kFieldTable, layout::kValueTable);
  EXPECT_EQ(h, layout::kLayoutHash);
  auto changed = layout::kValueTable;
  changed[0].value += 1;
  EXPECT_NE(layout::detail::layout_hash_of(layout::kFieldTable, changed), layout::kLayoutHash);
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
