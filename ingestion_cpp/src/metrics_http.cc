#include "metrics_http.h"

#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cstring>
#include <stdexcept>

#include "log.h"

namespace nexus {
namespace {

std::string Answer(const char* status, const char* content_type, const std::string& body) {
  return std::string("HTTP/1.1 ") + status + "\r\nContent-Type: " + content_type +
         "\r\nContent-Length: " + std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
}

void SendAll(int fd, const std::string& data) {
  size_t sent = 0;
  while (sent < data.size()) {
    const ssize_t n = send(fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) return;
    sent += static_cast<size_t>(n);
  }
}

}  // namespace

std::string MetricsHttpResponse(const std::string& request_line, const std::string& body) {
  const size_t sp1 = request_line.find(' ');
  const size_t sp2 = sp1 == std::string::npos ? std::string::npos : request_line.find(' ', sp1 + 1);
  if (sp2 == std::string::npos) return Answer("400 Bad Request", "text/plain", "bad request line\n");
  const std::string method = request_line.substr(0, sp1);
  std::string path = request_line.substr(sp1 + 1, sp2 - sp1 - 1);
  path = path.substr(0, path.find('?'));
  if (path != "/metrics") return Answer("404 Not Found", "text/plain", "not found; metrics are at /metrics\n");
  if (method != "GET") return Answer("405 Method Not Allowed", "text/plain", "use GET\n");
  return Answer("200 OK", "text/plain; version=0.0.4; charset=utf-8", body);
}

MetricsHttpServer::MetricsHttpServer(const std::string& listen, Render render) : render_(std::move(render)) {
  const size_t colon = listen.rfind(':');
  if (colon == std::string::npos) throw std::runtime_error("metrics listen address \"" + listen + "\" is not HOST:PORT");
  std::string host = listen.substr(0, colon);
  const std::string port = listen.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  const int rc = getaddrinfo(host.empty() ? nullptr : host.c_str(), port.c_str(), &hints, &found);
  if (rc != 0) throw std::runtime_error("metrics listen address " + listen + ": " + gai_strerror(rc));
  std::string error = "no address";
  for (addrinfo* ai = found; ai != nullptr && listen_fd_ < 0; ai = ai->ai_next) {
    const int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) continue;
    const int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && ::listen(fd, 16) == 0) {
      listen_fd_ = fd;
    } else {
      error = std::strerror(errno);
      close(fd);
    }
  }
  freeaddrinfo(found);
  if (listen_fd_ < 0) throw std::runtime_error("metrics listen address " + listen + ": " + error);
  sockaddr_storage bound{};
  socklen_t len = sizeof bound;
  getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&bound), &len);
  char port_text[NI_MAXSERV];
  getnameinfo(reinterpret_cast<sockaddr*>(&bound), len, nullptr, 0, port_text, sizeof port_text, NI_NUMERICSERV);
  port_ = std::atoi(port_text);
  thread_ = std::thread([this] { Run(); });
}

MetricsHttpServer::~MetricsHttpServer() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
  if (listen_fd_ >= 0) close(listen_fd_);
}

void MetricsHttpServer::Run() {
  while (!stop_.load()) {
    pollfd pfd{listen_fd_, POLLIN, 0};
    if (poll(&pfd, 1, 200) <= 0) continue;
    const int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    Serve(fd);
    close(fd);
  }
}

void MetricsHttpServer::Serve(int fd) {
  const timeval timeout{2, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
  std::string request;
  char buf[2048];
  while (request.find("\r\n\r\n") == std::string::npos && request.size() < 16384) {
    const ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    request.append(buf, static_cast<size_t>(n));
  }
  const size_t eol = request.find("\r\n");
  if (eol == std::string::npos) return;  // nothing usable arrived in time
  const std::string line = request.substr(0, eol);
  std::string body;
  if (line.rfind("GET /metrics", 0) == 0) {
    try {
      body = render_();
    } catch (const std::exception& e) {
      Log(LogLevel::kError, "metrics_render_failed", {{"error", e.what()}});
      SendAll(fd, Answer("500 Internal Server Error", "text/plain", "metrics failed\n"));
      return;
    }
  }
  SendAll(fd, MetricsHttpResponse(line, body));
}

}  // namespace nexus
