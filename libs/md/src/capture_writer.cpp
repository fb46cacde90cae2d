// Capture recording with zlib (transparent mode for plain files), per-symbol files, rotation.
#include "cwts/md/capture_writer.hpp"

#include <zlib.h>

#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <stdexcept>

namespace cwts::md {

namespace {
constexpr std::size_t kMaxFiles = 128;
}

struct CaptureWriter::File {
  char symbol[16] = {};
  std::size_t symbol_len = 0;
  gzFile gz = nullptr;
  std::uint64_t bytes = 0;
  std::int64_t opened_ns = 0;
  std::uint32_t sequence = 0;
};

CaptureWriter::CaptureWriter(CaptureOptions opts)
    : opts_(std::move(opts)), files_(std::make_unique<File[]>(kMaxFiles)) {
  std::error_code ec;
  std::filesystem::create_directories(opts_.dir, ec);
  if (ec || !std::filesystem::is_directory(opts_.dir)) {
    throw std::runtime_error("capture: cannot create directory '" + opts_.dir +
                             "': " + ec.message());
  }
}

CaptureWriter::~CaptureWriter() {
  for (std::size_t i = 0; i < file_count_; ++i) {
    if (files_[i].gz != nullptr) ::gzclose(files_[i].gz);
  }
}

bool CaptureWriter::open(File& f, std::int64_t receive_ns) noexcept {
  if (f.gz != nullptr) ::gzclose(f.gz);
  const std::time_t secs = static_cast<std::time_t>(receive_ns / 1'000'000'000);
  std::tm tm{};
  ::gmtime_r(&secs, &tm);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%S", &tm);
  char path[4096];
  std::snprintf(path, sizeof path, "%s/%.*s-%s-%04u.capture%s", opts_.dir.c_str(),
                static_cast<int>(f.symbol_len), f.symbol, stamp, f.sequence++,
                opts_.gzip ? ".gz" : "");
  // "T": zlib writes plain bytes (transparent) through the same buffered API.
  f.gz = ::gzopen(path, opts_.gzip ? "wb1" : "wbT");
  if (f.gz == nullptr) return false;
  ::gzbuffer(f.gz, static_cast<unsigned>(opts_.buffer_bytes));
  f.bytes = 0;
  f.opened_ns = receive_ns;
  ++files_opened_;
  return true;
}

CaptureWriter::File* CaptureWriter::file_for(std::string_view symbol,
                                             std::int64_t receive_ns) noexcept {
  if (symbol.empty() || symbol.size() >= sizeof(File::symbol)) symbol = "_feed";
  File* f = nullptr;
  for (std::size_t i = 0; i < file_count_; ++i) {
    if (std::string_view(files_[i].symbol, files_[i].symbol_len) == symbol) {
      f = &files_[i];
      break;
    }
  }
  if (f == nullptr) {
    if (file_count_ == kMaxFiles) return nullptr;
    f = &files_[file_count_++];
    std::memcpy(f->symbol, symbol.data(), symbol.size());
    f->symbol_len = symbol.size();
  }
  const bool rotate =
      f->gz != nullptr && (f->bytes >= opts_.rotate_bytes ||
                           receive_ns - f->opened_ns >= opts_.rotate_seconds * 1'000'000'000);
  if ((f->gz == nullptr || rotate) && !open(*f, receive_ns)) return nullptr;
  return f;
}

void CaptureWriter::write(std::string_view symbol, std::int64_t receive_ns,
                          std::string_view payload) noexcept {
  File* f = file_for(symbol, receive_ns);
  if (f == nullptr) {
    ++write_errors_;
    return;
  }
  char prefix[24];
  const int n = std::snprintf(prefix, sizeof prefix, "%lld ", static_cast<long long>(receive_ns));
  // A payload with a newline would break the line framing; Binance frames never contain one.
  const bool ok = ::gzwrite(f->gz, prefix, static_cast<unsigned>(n)) == n &&
                  ::gzwrite(f->gz, payload.data(), static_cast<unsigned>(payload.size())) ==
                      static_cast<int>(payload.size()) &&
                  ::gzputc(f->gz, '\n') == '\n';
  if (!ok) {
    ++write_errors_;
    return;
  }
  f->bytes += payload.size() + static_cast<std::uint64_t>(n) + 1;
  ++frames_;
}

void CaptureWriter::flush() noexcept {
  for (std::size_t i = 0; i < file_count_; ++i) {
    if (files_[i].gz != nullptr) ::gzflush(files_[i].gz, Z_SYNC_FLUSH);
  }
}

}  // namespace cwts::md
