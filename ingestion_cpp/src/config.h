// The server's configuration: flags, then NEXUS_* environment variables (the same
// names as the Python service's settings), then defaults. Read once, in main; nothing
// else looks at the environment.
#pragma once

#include <functional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace nexus {

// A bad setting (flag or environment); the message names it and says what is expected.
// The server exits 78 (EX_CONFIG, as the Python side's ExitStatus.CONFIG).
class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A command line that does not parse (an unknown argument, a flag without its value):
// the server exits 2, as `nexus` on a usage error.
class UsageError : public ConfigError {
 public:
  using ConfigError::ConfigError;
};

// Whether HOST:PORT names a loopback address (127.0.0.0/8, [::1], localhost).
bool IsLoopback(const std::string& host_port);

using KafkaProperties = std::vector<std::pair<std::string, std::string>>;

struct Config {
  std::string listen = "127.0.0.1:50051";  // not loopback: needs TLS or allow_insecure
  std::string metrics_listen = "127.0.0.1:9464";  // "none": no metrics endpoint
  bool metrics_listen_set = false;  // given by flag or environment (else the default above)
  std::string tls_cert;       // PEM certificate chain of the gRPC listener; empty: plaintext
  std::string tls_key;        // its PEM private key
  std::string tls_client_ca;  // PEM CA bundle: require and verify client certificates (mTLS)
  bool allow_insecure = false;  // plaintext on an address other than loopback
  std::string tokens_file;      // the producers who may publish (producer_tokens.h); empty: anyone
  std::string brokers = "127.0.0.1:9092";
  std::string schema_ids_path;
  std::string client_id = "keystone-nexus-ingest";
  std::string security_protocol = "PLAINTEXT";
  std::string sasl_mechanism;
  std::string sasl_username;
  std::string sasl_password;
  std::string ssl_ca_file;
  std::string compression = "none";
  KafkaProperties overrides;  // -X key=value, applied last
  int max_batch_events = 10000;
  int max_message_bytes = 64 * 1024 * 1024;
  int queue_full_timeout_ms = 2000;
  int max_stream_rejections = 10000;
  int build_threads = 1;
  int shutdown_grace_s = 30;
  std::string log_level = "info";
  bool help = false;
  bool version = false;
};

using Getenv = std::function<const char*(const char*)>;

// Throws ConfigError.
Config ParseConfig(const std::vector<std::string>& args, const Getenv& getenv);

// The librdkafka producer properties: the contract (idempotence, acks=all, the Java
// client's murmur2 partitioner) and the settings, then the -X overrides.
KafkaProperties ProducerProperties(const Config& config);

std::string Usage(const std::string& program);

}  // namespace nexus
