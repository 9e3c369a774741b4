#include "metrics_http.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

namespace nexus {
namespace {

std::string Fetch(int port, const std::string& request) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  send(fd, request.data(), request.size(), 0);
  std::string answer;
  char buf[1024];
  ssize_t n;
  while ((n = recv(fd, buf, sizeof buf, 0)) > 0) answer.append(buf, static_cast<size_t>(n));
  close(fd);
  return answer;
}

TEST(MetricsHttp, AnswersMetricsWithTheTextFormat) {
  const std::string answer = MetricsHttpResponse("GET /metrics HTTP/1.1", "a_total 1\n");
  EXPECT_EQ(answer,
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
            "Content-Length: 10\r\nConnection: close\r\n\r\na_total 1\n");
  EXPECT_EQ(MetricsHttpResponse("GET /metrics?x=1 HTTP/1.0", "b").substr(0, 15), "HTTP/1.1 200 OK");
}

TEST(MetricsHttp, OtherPathsMethodsAndGarbageAreRefused) {
  EXPECT_EQ(MetricsHttpResponse("GET / HTTP/1.1", "").substr(0, 22), "HTTP/1.1 404 Not Found");
  EXPECT_EQ(MetricsHttpResponse("POST /metrics HTTP/1.1", "").substr(0, 12), "HTTP/1.1 405");
  EXPECT_EQ(MetricsHttpResponse("garbage", "").substr(0, 12), "HTTP/1.1 400");
}

TEST(MetricsHttp, ServesOnAFreePortOverTcp) {
  int renders = 0;
  MetricsHttpServer server("127.0.0.1:0", [&renders] { return "x_total " + std::to_string(++renders) + "\n"; });
  ASSERT_GT(server.port(), 0);
  EXPECT_NE(Fetch(server.port(), "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n").find("\r\n\r\nx_total 1\n"),
            std::string::npos);
  EXPECT_NE(Fetch(server.port(), "GET /metrics HTTP/1.1\r\n\r\n").find("x_total 2\n"), std::string::npos);
  EXPECT_NE(Fetch(server.port(), "GET /nope HTTP/1.1\r\n\r\n").find("404"), std::string::npos);
  EXPECT_EQ(renders, 2);
}

TEST(MetricsHttp, ABadAddressNamesItself) {
  try {
    MetricsHttpServer server("256.1.1.1:0", [] { return std::string(); });
    FAIL() << "bound a bad address";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("256.1.1.1:0"), std::string::npos);
  }
}

}  // namespace
}  // namespace nexus
