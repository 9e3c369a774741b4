#include "config.h"

#include <arpa/inet.h>

#include <set>

namespace nexus {
namespace {

struct Flag {
  const char* name;
  const char* env;  // nullptr: no environment fallback
  const char* help;
};

const Flag kFlags[] = {
    {"--listen", "NEXUS_INGEST__LISTEN",
     "HOST:PORT to serve gRPC on (default 127.0.0.1:50051); not loopback: needs TLS or --allow-insecure"},
    {"--metrics-listen", "NEXUS_INGEST__METRICS_LISTEN",
     "HOST:PORT of the Prometheus /metrics endpoint, or none (default 127.0.0.1:9464)"},
    {"--tls-cert", "NEXUS_INGEST__TLS_CERT", "PEM certificate (chain) for TLS on the gRPC listener"},
    {"--tls-key", "NEXUS_INGEST__TLS_KEY", "PEM private key of --tls-cert"},
    {"--tls-client-ca", "NEXUS_INGEST__TLS_CLIENT_CA",
     "PEM CA bundle; clients must present a certificate it signed (mutual TLS; needs --tls-cert)"},
    {"--allow-insecure", "NEXUS_INGEST__ALLOW_INSECURE",
     "true: serve plaintext on an address other than loopback (the flag alone means true)"},
    {"--tokens-file", "NEXUS_INGEST__TOKENS_FILE",
     "JSON of the producers who may publish and their tokens' SHA-256; calls then need a bearer token"},
    {"--brokers", "NEXUS_KAFKA__BOOTSTRAP_SERVERS", "Kafka brokers HOST:PORT[,...] (default 127.0.0.1:9092)"},
    {"--schema-ids", "NEXUS_INGEST__SCHEMA_IDS", "JSON file from `nexus schemas sync --ids-out` (required)"},
    {"--client-id", "NEXUS_INGEST__CLIENT_ID", "Kafka client.id (default keystone-nexus-ingest)"},
    {"--security-protocol", "NEXUS_KAFKA__SECURITY_PROTOCOL", "PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL"},
    {"--sasl-mechanism", "NEXUS_KAFKA__SASL_MECHANISM", "PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or OAUTHBEARER"},
    {"--sasl-username", "NEXUS_KAFKA__SASL_USERNAME", "SASL user name"},
    {"--sasl-password", "NEXUS_KAFKA__SASL_PASSWORD", "SASL password (prefer the environment variable)"},
    {"--ssl-ca-file", "NEXUS_KAFKA__SSL_CAFILE", "CA bundle for TLS to the brokers"},
    {"--compression", "NEXUS_INGEST__COMPRESSION", "none, gzip, snappy, lz4 or zstd (default none)"},
    {"--max-batch-events", "NEXUS_INGEST__MAX_BATCH_EVENTS", "events per request message (default 10000)"},
    {"--max-message-bytes", "NEXUS_INGEST__MAX_MESSAGE_BYTES", "largest gRPC request message (default 64 MiB)"},
    {"--queue-full-timeout-ms", "NEXUS_INGEST__QUEUE_FULL_TIMEOUT_MS",
     "how long an event waits for room in a full producer queue before RESOURCE_EXHAUSTED (default 2000)"},
    {"--max-stream-rejections", "NEXUS_INGEST__MAX_STREAM_REJECTIONS",
     "rejected events a stream may collect before the server stops reading it and answers (default 10000)"},
    {"--build-threads", "NEXUS_INGEST__BUILD_THREADS",
     "threads that validate and encode stream messages ahead of producing them; 0: the stream's own (default 1)"},
    {"--shutdown-grace-s", "NEXUS_INGEST__SHUTDOWN_GRACE_S", "seconds in-flight calls get at shutdown (default 30)"},
    {"--log-level", "NEXUS_INGEST__LOG_LEVEL", "debug, info, warn or error (default info)"},
};

int ParseInt(const std::string& flag, const std::string& value, int min, int max) {
  size_t used = 0;
  long parsed = 0;
  try {
    parsed = std::stol(value, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != value.size() || parsed < min || parsed > max) {
    throw ConfigError(flag + ": expected an integer from " + std::to_string(min) + " to " +
                      std::to_string(max) + ", got \"" + value + "\"");
  }
  return static_cast<int>(parsed);
}

void OneOf(const std::string& flag, const std::string& value, const std::set<std::string>& allowed) {
  if (allowed.count(value) != 0) return;
  std::string list;
  for (const std::string& a : allowed) list += (list.empty() ? "" : ", ") + a;
  throw ConfigError(flag + ": expected one of " + list + ", got \"" + value + "\"");
}

void CheckHostPorts(const std::string& flag, const std::string& value) {
  size_t start = 0;
  while (start <= value.size()) {
    size_t end = value.find(',', start);
    if (end == std::string::npos) end = value.size();
    const std::string item = value.substr(start, end - start);
    const size_t colon = item.rfind(':');
    const std::string port = colon == std::string::npos ? "" : item.substr(colon + 1);
    if (colon == std::string::npos || colon == 0 || port.empty() ||
        port.find_first_not_of("0123456789") != std::string::npos) {
      throw ConfigError(flag + ": \"" + item + "\" is not HOST:PORT");
    }
    start = end + 1;
  }
}

bool ParseBool(const std::string& flag, const std::string& value) {
  if (value == "true" || value == "1" || value == "yes" || value == "on") return true;
  if (value == "false" || value == "0" || value == "no" || value == "off") return false;
  throw ConfigError(flag + ": expected true or false, got \"" + value + "\"");
}

void Apply(Config* c, const std::string& flag, const std::string& value) {
  if (flag == "--listen") {
    CheckHostPorts(flag, value);
    c->listen = value;
  } else if (flag == "--metrics-listen") {
    if (value != "none") CheckHostPorts(flag, value);
    c->metrics_listen = value;
    c->metrics_listen_set = true;
  } else if (flag == "--tls-cert") {
    c->tls_cert = value;
  } else if (flag == "--tls-key") {
    c->tls_key = value;
  } else if (flag == "--tls-client-ca") {
    c->tls_client_ca = value;
  } else if (flag == "--allow-insecure") {
    c->allow_insecure = ParseBool(flag, value);
  } else if (flag == "--tokens-file") {
    c->tokens_file = value;
  } else if (flag == "--brokers") {
    CheckHostPorts(flag, value);
    c->brokers = value;
  } else if (flag == "--schema-ids") {
    c->schema_ids_path = value;
  } else if (flag == "--client-id") {
    c->client_id = value;
  } else if (flag == "--security-protocol") {
    OneOf(flag, value, {"PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"});
    c->security_protocol = value;
  } else if (flag == "--sasl-mechanism") {
    OneOf(flag, value, {"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER"});
    c->sasl_mechanism = value;
  } else if (flag == "--sasl-username") {
    c->sasl_username = value;
  } else if (flag == "--sasl-password") {
    c->sasl_password = value;
  } else if (flag == "--ssl-ca-file") {
    c->ssl_ca_file = value;
  } else if (flag == "--compression") {
    OneOf(flag, value, {"none", "gzip", "snappy", "lz4", "zstd"});
    c->compression = value;
  } else if (flag == "--max-batch-events") {
    c->max_batch_events = ParseInt(flag, value, 1, 1000000);
  } else if (flag == "--max-message-bytes") {
    c->max_message_bytes = ParseInt(flag, value, 1024, 1 << 30);
  } else if (flag == "--queue-full-timeout-ms") {
    c->queue_full_timeout_ms = ParseInt(flag, value, 0, 600000);
  } else if (flag == "--max-stream-rejections") {
    c->max_stream_rejections = ParseInt(flag, value, 1, 10000000);
  } else if (flag == "--build-threads") {
    c->build_threads = ParseInt(flag, value, 0, 64);
  } else if (flag == "--shutdown-grace-s") {
    c->shutdown_grace_s = ParseInt(flag, value, 0, 3600);
  } else if (flag == "--log-level") {
    OneOf(flag, value, {"debug", "info", "warn", "error"});
    c->log_level = value;
  }
}

void AddOverride(Config* c, const std::string& kv) {
  const size_t eq = kv.find('=');
  if (eq == std::string::npos || eq == 0) {
    throw UsageError("-X: expected key=value (a librdkafka property), got \"" + kv + "\"");
  }
  c->overrides.emplace_back(kv.substr(0, eq), kv.substr(eq + 1));
}

}  // namespace

Config ParseConfig(const std::vector<std::string>& args, const Getenv& getenv) {
  Config config;
  // Environment first, so flags win.
  for (const Flag& flag : kFlags) {
    const char* value = flag.env ? getenv(flag.env) : nullptr;
    if (value != nullptr && *value != '\0') {
      try {
        Apply(&config, flag.name, value);
      } catch (const ConfigError& e) {
        throw ConfigError(std::string(flag.env) + " (" + e.what() + ")");
      }
    }
  }
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "-h" || arg == "--help") {
      config.help = true;
      continue;
    }
    if (arg == "--version") {
      config.version = true;
      continue;
    }
    if (arg == "-X") {
      if (i + 1 >= args.size()) throw UsageError("-X: expected key=value after it");
      AddOverride(&config, args[++i]);
      continue;
    }
    if (arg.rfind("-X", 0) == 0 && arg.size() > 2 && arg[2] != '-') {
      AddOverride(&config, arg.substr(2));
      continue;
    }
    std::string name = arg;
    std::string value;
    bool has_value = false;
    const size_t eq = arg.find('=');
    if (arg.rfind("--", 0) == 0 && eq != std::string::npos) {
      name = arg.substr(0, eq);
      value = arg.substr(eq + 1);
      has_value = true;
    }
    bool known = false;
    for (const Flag& flag : kFlags) known = known || name == flag.name;
    if (!known) throw UsageError("unknown argument \"" + arg + "\"; see --help");
    if (name == "--allow-insecure" && !has_value) {
      value = "true";
      has_value = true;
    }
    if (!has_value) {
      if (i + 1 >= args.size()) throw UsageError(name + ": expected a value after it");
      value = args[++i];
    }
    Apply(&config, name, value);
  }
  if (config.tls_cert.empty() != config.tls_key.empty()) {
    throw ConfigError("--tls-cert and --tls-key go together: give both for TLS, or neither for plaintext");
  }
  if (!config.tls_client_ca.empty() && config.tls_cert.empty()) {
    throw ConfigError("--tls-client-ca needs --tls-cert and --tls-key (mutual TLS is TLS first)");
  }
  if (config.tls_cert.empty() && !config.allow_insecure && !IsLoopback(config.listen) && !config.help &&
      !config.version) {
    throw ConfigError("ingest.listen " + config.listen +
                      " is not a loopback address and has no TLS, so anyone who reaches it can read and publish: "
                      "set tls_cert and tls_key (NEXUS_INGEST__TLS_CERT, NEXUS_INGEST__TLS_KEY), listen on "
                      "127.0.0.1, or set ingest.allow_insecure (NEXUS_INGEST__ALLOW_INSECURE=true, "
                      "--allow-insecure) to serve plaintext all the same");
  }
  if (config.schema_ids_path.empty() && !config.help && !config.version) {
    throw ConfigError(
        "--schema-ids FILE is required (or NEXUS_INGEST__SCHEMA_IDS); "
        "write it with: nexus schemas sync --ids-out FILE");
  }
  return config;
}

bool IsLoopback(const std::string& host_port) {
  std::string host = host_port.substr(0, host_port.rfind(':'));
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  if (host == "localhost") return true;
  in_addr v4{};
  if (inet_pton(AF_INET, host.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  in6_addr v6{};
  return inet_pton(AF_INET6, host.c_str(), &v6) == 1 && IN6_IS_ADDR_LOOPBACK(&v6);
}

KafkaProperties ProducerProperties(const Config& c) {
  KafkaProperties props = {
      {"bootstrap.servers", c.brokers},
      {"client.id", c.client_id},
      {"enable.idempotence", "true"},
      {"acks", "all"},
      // The Java client's partitioner, as the Python producer, so every producer puts
      // a key on the same partition.
      {"partitioner", "murmur2_random"},
      {"linger.ms", "5"},
      {"batch.num.messages", "10000"},
      {"queue.buffering.max.messages", "200000"},
      {"queue.buffering.max.kbytes", "262144"},
      {"compression.codec", c.compression},
      {"security.protocol", c.security_protocol},
  };
  if (!c.sasl_mechanism.empty()) props.emplace_back("sasl.mechanism", c.sasl_mechanism);
  if (!c.sasl_username.empty()) props.emplace_back("sasl.username", c.sasl_username);
  if (!c.sasl_password.empty()) props.emplace_back("sasl.password", c.sasl_password);
  if (!c.ssl_ca_file.empty()) props.emplace_back("ssl.ca.location", c.ssl_ca_file);
  props.insert(props.end(), c.overrides.begin(), c.overrides.end());
  return props;
}

std::string Usage(const std::string& program) {
  std::string text = "usage: " + program + " --schema-ids FILE [options] [-X librdkafka.key=value ...]\n\n";
  text += "Serves keystone.olist.v1.IngestionService; produces each valid event to olist.<entity>.v1.\n\n";
  for (const Flag& flag : kFlags) {
    text += "  " + std::string(flag.name) + " VALUE\n      " + flag.help;
    if (flag.env) text += " [env " + std::string(flag.env) + "]";
    text += "\n";
  }
  text += "  -X key=value\n      a librdkafka producer property, applied last (repeatable)\n";
  text += "  --version, -h/--help\n";
  return text;
}

}  // namespace nexus
