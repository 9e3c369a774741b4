#include "notify.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstring>
#include <string>

namespace nexus {
namespace {

TEST(Notify, SendsOneDatagramToTheSocket) {
  char dir[] = "/tmp/nexus-notify-XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  const std::string path = std::string(dir) + "/notify";
  const int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strcpy(addr.sun_path, path.c_str());
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  EXPECT_TRUE(Notify(path, "READY=1\nSTATUS=serving"));
  char buf[64] = {};
  const ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
  EXPECT_EQ(std::string(buf, n > 0 ? static_cast<size_t>(n) : 0), "READY=1\nSTATUS=serving");
  close(fd);
  unlink(path.c_str());
  rmdir(dir);
}

TEST(Notify, WithoutASocketItDoesNothing) {
  EXPECT_FALSE(Notify("", "READY=1"));
  EXPECT_FALSE(Notify("/nonexistent/nexus/notify", "READY=1"));
}

}  // namespace
}  // namespace nexus
