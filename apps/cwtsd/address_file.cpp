#include "address_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <system_error>
#include <vector>

namespace cwts::daemon {

namespace {
std::string why(const std::string& what, int err) {
  return what + ": " + std::generic_category().message(err);
}
}  // namespace

std::string publish_file(const std::string& path, std::string_view text) {
  // A fresh name of mkostemp's (O_EXCL, mode 0600): nothing planted beside `path` (a symbolic link
  // in a sticky directory such as /dev/shm) is written through, and no name can be taken first.
  std::string tmp = path + ".tmpXXXXXX";
  std::vector<char> name(tmp.begin(), tmp.end());
  name.push_back('\0');
  const int fd = ::mkostemp(name.data(), O_CLOEXEC);
  if (fd < 0) return why("cannot create " + tmp, errno);
  tmp.assign(name.data());
  const auto fail = [&](const std::string& what, int err) {
    (void)::unlink(tmp.c_str());
    return why(what, err);
  };
  if (::fchmod(fd, 0644) != 0) {  // readable by clients of other users, as before
    const int err = errno;
    ::close(fd);
    return fail("cannot chmod " + tmp, err);
  }
  std::string_view left = text;
  while (!left.empty()) {
    const ssize_t n = ::write(fd, left.data(), left.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int err = n < 0 ? errno : EIO;
      ::close(fd);
      return fail("cannot write " + tmp, err);
    }
    left.remove_prefix(static_cast<std::size_t>(n));
  }
  if (::close(fd) != 0) return fail("cannot close " + tmp, errno);
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    return fail("cannot rename " + tmp + " to " + path, errno);
  }
  return {};
}

}  // namespace cwts::daemon
