// Where cwtsd's journals live and how a journal file is replaced (exec/order_journal.cpp). Used by
// the exec thread's order journal and the gateway's order-id journal. docs/journal.md.
#pragma once

#include <string>

#include "config/config.hpp"
#include "cwts/journal/journal.hpp"

namespace cwts::daemon {

// journal.dir, else $STATE_DIRECTORY (its first entry), created if missing; "" = no journal.
[[nodiscard]] std::string journal_dir(const JournalConfig& c);
[[nodiscard]] journal::FsyncPolicy journal_policy(const JournalConfig& c);
// Renames `fresh` (complete and synced) over `path`, keeping the old file as `path.prev`, and
// syncs the directory: a crash at any point leaves one complete journal. Throws JournalError.
void replace_journal(const std::string& fresh, const std::string& path);

}  // namespace cwts::daemon
