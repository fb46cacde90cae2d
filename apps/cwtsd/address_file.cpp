#include "address_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace cwts::daemon {

std::string publish_file(const std::string& path, std::string_view text) {
  const std::string tmp = path + ".tmp" + std::to_string(::getpid());
  // O_EXCL|O_NOFOLLOW: nothing planted under the temporary name (a symbolic link in a sticky
  // directory such as /dev/shm) is written through; one this process left (a crash) is replaced.
  struct stat st {};
  if (::lstat(tmp.c_str(), &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == ::geteuid()) {
    (void)::unlink(tmp.c_str());
  }
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (fd < 0) return "cannot create " + tmp + ": " + std::strerror(errno);
  std::string_view left = text;
  while (!left.empty()) {
    const ssize_t n = ::write(fd, left.data(), left.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const std::string why = "cannot write " + tmp + ": " + std::strerror(errno);
      ::close(fd);
      (void)::unlink(tmp.c_str());
      return why;
    }
    left.remove_prefix(static_cast<std::size_t>(n));
  }
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const std::string why = "cannot rename " + tmp + " to " + path + ": " + std::strerror(errno);
    (void)::unlink(tmp.c_str());
    return why;
  }
  return {};
}

}  // namespace cwts::daemon
