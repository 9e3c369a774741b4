#include "config.h"

#include <gtest/gtest.h>

#include <map>

namespace nexus {
namespace {

Getenv Env(std::map<std::string, std::string> vars) {
  auto owned = std::make_shared<std::map<std::string, std::string>>(std::move(vars));
  return [owned](const char* name) -> const char* {
    auto it = owned->find(name);
    return it == owned->end() ? nullptr : it->second.c_str();
  };
}

std::string Prop(const KafkaProperties& props, const std::string& key) {
  std::string value;
  for (const auto& [k, v] : props) {
    if (k == key) value = v;  // the last one wins, as in librdkafka
  }
  return value;
}

TEST(Config, FlagsWinOverEnvironment) {
  const Config c = ParseConfig({"--listen", "127.0.0.1:6000", "--schema-ids=/tmp/ids.json"},
                               Env({{"NEXUS_KAFKA__BOOTSTRAP_SERVERS", "b1:9092,b2:9092"},
                                    {"NEXUS_INGEST__LISTEN", "0.0.0.0:1"}}));
  EXPECT_EQ(c.listen, "127.0.0.1:6000");
  EXPECT_EQ(c.brokers, "b1:9092,b2:9092");
  EXPECT_EQ(c.schema_ids_path, "/tmp/ids.json");
}

TEST(Config, ProducerPropertiesKeepTheContractAndApplyOverridesLast) {
  const Config c = ParseConfig({"--schema-ids", "f", "-X", "linger.ms=50", "-Xacks=1", "--compression", "lz4"},
                               Env({}));
  const KafkaProperties props = ProducerProperties(c);
  EXPECT_EQ(Prop(props, "enable.idempotence"), "true");
  EXPECT_EQ(Prop(props, "partitioner"), "murmur2_random");
  EXPECT_EQ(Prop(props, "linger.ms"), "50");
  EXPECT_EQ(Prop(props, "acks"), "1");
  EXPECT_EQ(Prop(props, "compression.codec"), "lz4");
  EXPECT_EQ(Prop(props, "bootstrap.servers"), "127.0.0.1:9092");
}

TEST(Config, ErrorsNameTheSetting) {
  auto message = [](std::vector<std::string> args, std::map<std::string, std::string> env = {}) {
    try {
      ParseConfig(args, Env(env));
    } catch (const ConfigError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(message({}).find("--schema-ids FILE is required"), std::string::npos);
  EXPECT_NE(message({"--schema-ids", "f", "--brokers", "nohost"}).find("--brokers: \"nohost\" is not HOST:PORT"),
            std::string::npos);
  EXPECT_NE(message({"--schema-ids", "f", "--bogus"}).find("unknown argument \"--bogus\""), std::string::npos);
  EXPECT_NE(message({"--schema-ids", "f", "-X", "novalue"}).find("-X: expected key=value"), std::string::npos);
  EXPECT_NE(message({"--schema-ids", "f"}, {{"NEXUS_INGEST__MAX_BATCH_EVENTS", "0"}}).find("NEXUS_INGEST__MAX_BATCH_EVENTS"),
            std::string::npos);
  EXPECT_NE(message({"--schema-ids", "f", "--compression", "brotli"}).find("expected one of"), std::string::npos);
}

TEST(Config, TlsNeedsCertAndKeyTogetherAndClientCaNeedsBoth) {
  auto message = [](std::vector<std::string> args) {
    try {
      ParseConfig(args, Env({}));
    } catch (const ConfigError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(message({"--schema-ids", "f", "--tls-cert", "c.pem"}).find("go together"), std::string::npos);
  EXPECT_NE(message({"--schema-ids", "f", "--tls-client-ca", "ca.pem"}).find("needs --tls-cert"), std::string::npos);
  const Config c = ParseConfig({"--schema-ids", "f", "--tls-cert", "c.pem", "--tls-client-ca", "ca.pem"},
                               Env({{"NEXUS_INGEST__TLS_KEY", "k.pem"}}));
  EXPECT_EQ(c.tls_cert, "c.pem");
  EXPECT_EQ(c.tls_key, "k.pem");
  EXPECT_EQ(c.tls_client_ca, "ca.pem");
}

TEST(Config, StreamAndMetricsSettings) {
  const Config defaults = ParseConfig({"--schema-ids", "f"}, Env({}));
  EXPECT_EQ(defaults.metrics_listen, "127.0.0.1:9464");
  EXPECT_FALSE(defaults.metrics_listen_set);
  EXPECT_EQ(defaults.max_stream_rejections, 10000);
  EXPECT_EQ(defaults.build_threads, 1);
  const Config c = ParseConfig({"--schema-ids", "f", "--metrics-listen", "none", "--build-threads", "0"},
                               Env({{"NEXUS_INGEST__MAX_STREAM_REJECTIONS", "5"}}));
  EXPECT_EQ(c.metrics_listen, "none");
  EXPECT_TRUE(c.metrics_listen_set);
  EXPECT_EQ(c.build_threads, 0);
  EXPECT_EQ(c.max_stream_rejections, 5);
  EXPECT_THROW(ParseConfig({"--schema-ids", "f", "--metrics-listen", "9464"}, Env({})), ConfigError);
}

TEST(Config, HelpNeedsNoSchemaIds) { EXPECT_TRUE(ParseConfig({"--help"}, Env({})).help); }

TEST(Config, PlaintextOnlyOnLoopbackUnlessAllowedInsecure) {
  EXPECT_EQ(ParseConfig({"--schema-ids", "f"}, Env({})).listen, "127.0.0.1:50051");
  try {
    ParseConfig({"--schema-ids", "f", "--listen", "0.0.0.0:50051"}, Env({}));
    ADD_FAILURE() << "a plaintext listener on every address was accepted";
  } catch (const UsageError&) {
    ADD_FAILURE() << "a setting, not a usage error";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("NEXUS_INGEST__ALLOW_INSECURE"), std::string::npos) << e.what();
  }
  EXPECT_TRUE(ParseConfig({"--schema-ids", "f", "--listen", "0.0.0.0:1", "--allow-insecure"}, Env({})).allow_insecure);
  EXPECT_TRUE(ParseConfig({"--schema-ids", "f"}, Env({{"NEXUS_INGEST__LISTEN", "[::]:1"},
                                                      {"NEXUS_INGEST__ALLOW_INSECURE", "true"}}))
                  .allow_insecure);
  EXPECT_EQ(ParseConfig({"--schema-ids", "f", "--listen", "0.0.0.0:1", "--tls-cert", "c", "--tls-key", "k"}, Env({}))
                .listen,
            "0.0.0.0:1");
  EXPECT_THROW(ParseConfig({"--schema-ids", "f", "--allow-insecure=maybe"}, Env({})), ConfigError);
}

TEST(Config, LoopbackAddresses) {
  for (const char* yes : {"127.0.0.1:1", "127.8.9.10:0", "localhost:50051", "[::1]:1"}) EXPECT_TRUE(IsLoopback(yes)) << yes;
  for (const char* no : {"0.0.0.0:1", "[::]:1", "10.0.0.1:1", "ingest.internal:1", "128.0.0.1:1"}) {
    EXPECT_FALSE(IsLoopback(no)) << no;
  }
}

TEST(Config, CommandLineMistakesAreUsageErrorsAndBadValuesAreNot) {
  EXPECT_THROW(ParseConfig({"--schema-ids", "f", "--bogus"}, Env({})), UsageError);
  EXPECT_THROW(ParseConfig({"--schema-ids"}, Env({})), UsageError);
  try {
    ParseConfig({"--schema-ids", "f", "--max-batch-events", "0"}, Env({}));
    ADD_FAILURE() << "no error";
  } catch (const UsageError&) {
    ADD_FAILURE() << "a bad value is a configuration error (exit 78), not a usage error (exit 2)";
  } catch (const ConfigError&) {
  }
}

}  // namespace
}  // namespace nexus
