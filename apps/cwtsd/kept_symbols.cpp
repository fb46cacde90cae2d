#include "kept_symbols.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>

#include "cwts/journal/recovery.hpp"
#include "cwts/log/json_log.hpp"
#include "journal_files.hpp"

namespace cwts::daemon {

namespace {

void add_once(std::vector<std::string>& to, const Config& cfg, std::string name) {
  const auto& configured = cfg.market.symbols;
  if (name.empty() || std::find(configured.begin(), configured.end(), name) != configured.end() ||
      std::find(to.begin(), to.end(), name) != to.end()) {
    return;
  }
  to.push_back(std::move(name));
}

}  // namespace

std::string kept_symbols_path(const Config& cfg) {
  const std::string dir = journal_dir(cfg.journal);
  return dir.empty() ? std::string() : dir + "/cwts-" + cfg.region.instance + ".symbols";
}

KeptSymbols kept_symbols(const Config& cfg) {
  KeptSymbols out;
  const std::string path = kept_symbols_path(cfg);
  if (path.empty()) return out;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || line.front() == '#') continue;
    add_once(out.added, cfg, line);
  }
  try {
    const std::string journal =
        journal_dir(cfg.journal) + "/cwts-" + cfg.region.instance + ".journal";
    for (const auto& r : journal::recover(journal).open) {
      std::string name(r.accepted.symbol.view());
      if (std::find(out.added.begin(), out.added.end(), name) == out.added.end()) {
        add_once(out.orders_only, cfg, std::move(name));
      }
    }
  } catch (const std::exception&) {
    // Opening the journal fails the same way in a moment, with the full story.
  }
  return out;
}

bool write_kept_symbols(const Config& cfg, std::span<const std::string> added) {
  const std::string path = kept_symbols_path(cfg);
  if (path.empty()) return true;
  std::string text =
      "# symbols added at run time (symbols.add): cwtsd trades them again after a restart\n";
  for (const auto& s : added) text.append(s).push_back('\n');
  const std::string fresh = path + ".new";
  const int fd = ::open(fresh.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  bool ok = fd >= 0 && ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
            ::fsync(fd) == 0;
  const int err = errno;
  if (fd >= 0) ::close(fd);
  if (ok) {
    try {
      replace_journal(fresh, path);
    } catch (const std::exception& e) {
      log::log_event(spdlog::level::err, "engine", "kept_symbols_not_written",
                     log::LogFields().str("path", path).str("error", e.what()));
      return false;
    }
    return true;
  }
  log::log_event(spdlog::level::err, "engine", "kept_symbols_not_written",
                 log::LogFields().str("path", path).str("error", std::strerror(err)));
  return false;
}

}  // namespace cwts::daemon
