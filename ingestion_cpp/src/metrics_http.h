// A minimal HTTP/1.1 endpoint for Prometheus: `GET /metrics` answers the text format
// that `render` returns; any other path is 404. One thread, one connection at a time,
// each with a short read timeout, closed after its answer: a scrape every few seconds
// is all it serves.
#pragma once

#include <atomic>
#include <functional>
#include <string>
#include <thread>

namespace nexus {

class MetricsHttpServer {
 public:
  using Render = std::function<std::string()>;

  // Binds HOST:PORT (port 0: a free one; [v6]:PORT for IPv6) and starts serving.
  // Throws std::runtime_error naming the address.
  MetricsHttpServer(const std::string& listen, Render render);
  ~MetricsHttpServer();  // stops and joins
  MetricsHttpServer(const MetricsHttpServer&) = delete;
  MetricsHttpServer& operator=(const MetricsHttpServer&) = delete;

  int port() const { return port_; }

 private:
  void Run();
  void Serve(int fd);

  Render render_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// The HTTP answer for a request's first line: "GET /metrics HTTP/1.1" gets `body`.
std::string MetricsHttpResponse(const std::string& request_line, const std::string& body);

}  // namespace nexus
