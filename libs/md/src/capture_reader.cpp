// Capture files: line framing over zlib's transparent gzip/plain reader.
#include "cwts/md/capture_reader.hpp"

#include <zlib.h>

#include <stdexcept>
#include <string>

namespace cwts::md {

struct CaptureReader::Impl {
  gzFile file = nullptr;
  std::string line;
  char chunk[1 << 16];
};

CaptureReader::CaptureReader(const std::string& path) : impl_(std::make_unique<Impl>()) {
  impl_->file = ::gzopen(path.c_str(), "rb");
  if (impl_->file == nullptr) throw std::runtime_error("cannot open capture " + path);
  ::gzbuffer(impl_->file, 1 << 17);
}

CaptureReader::~CaptureReader() {
  if (impl_ && impl_->file != nullptr) ::gzclose(impl_->file);
}

CaptureReader::Status CaptureReader::next(std::int64_t& receive_ns, std::string_view& payload) {
  auto& line = impl_->line;
  line.clear();
  for (;;) {
    if (::gzgets(impl_->file, impl_->chunk, sizeof impl_->chunk) == nullptr) {
      int err = Z_OK;
      ::gzerror(impl_->file, &err);
      if (err != Z_OK && err != Z_STREAM_END) return Status::kError;
      if (line.empty()) return Status::kEnd;
      break;
    }
    line.append(impl_->chunk);
    if (!line.empty() && line.back() == '\n') {
      line.pop_back();
      break;
    }
  }
  ++line_;
  if (!line.empty() && line.back() == '\r') line.pop_back();
  std::size_t i = 0;
  std::int64_t ts = 0;
  while (i < line.size() && line[i] >= '0' && line[i] <= '9' && i < 19) {
    ts = ts * 10 + (line[i] - '0');
    ++i;
  }
  if (i == 0 || i >= line.size() || line[i] != ' ') {
    payload = line;
    return Status::kMalformed;
  }
  receive_ns = ts;
  payload = std::string_view(line).substr(i + 1);
  return Status::kLine;
}

}  // namespace cwts::md
