// olist_ingestion_enterprise: the C++17 gRPC ingestion server of Keystone Nexus.
//
// The composition root: reads the configuration, loads the contracts and schema ids,
// wires the record builder, the Kafka producer and the gRPC service, serves until
// SIGTERM/SIGINT, then stops taking calls, lets in-flight calls finish (up to the
// grace period) and flushes the producer.
#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <iostream>
#include <sstream>
#include <stdexcept>
#include <memory>
#include <string>
#include <vector>

#include <google/protobuf/stubs/common.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#ifdef NEXUS_HAVE_REFLECTION
#include <grpcpp/ext/proto_server_reflection_plugin.h>
#endif
#include <librdkafka/rdkafka.h>

#include "contracts.h"
#include "config.h"
#include "ingestion_service.h"
#include "kafka_producer.h"
#include "log.h"
#include "metrics.h"
#include "metrics_http.h"
#include "notify.h"
#include "producer_tokens.h"
#include "record_builder.h"
#include "schema_ids.h"

namespace {

using nexus::Log;
using nexus::LogLevel;

constexpr char kVersion[] = "0.1.0";
constexpr char kServiceName[] = "keystone.olist.v1.IngestionService";
// librdkafka older than this cannot read the local broker's ApiVersion v3 reply.
constexpr int kMinRdkafkaVersion = 0x020200ff;
constexpr int kStatsIntervalS = 60;
constexpr int kFlushTimeoutMs = 30000;
// Exit statuses, as `nexus` (service/keystone_nexus/errors.py ExitStatus): a command line
// that does not parse, a setting that cannot be used (systemd does not restart either).
constexpr int kExitUsage = 2;
constexpr int kExitConfig = 78;  // EX_CONFIG
// A fixed HTTP/2 window per call, the request bytes the transport takes in ahead of the
// call's reads; when a stream waits for room (stream_call.h), the client stops there.
// gRPC's own tuning (BDP probing) grew it to several MB, held per waiting stream: 8-35 MB
// a stream measured with bench/ingest.py --streams 4. 1 MiB still lets a client 10 ms
// away send 100 MB/s.
constexpr int kStreamWindowBytes = 1024 * 1024;

nlohmann::ordered_json Stats(const nexus::IngestionServiceImpl& service, const nexus::KafkaProducer& producer) {
  const auto& s = service.counters();
  const auto& p = producer.counters();
  return {{"calls_publish_total", s.calls_publish.load()},
          {"calls_stream_total", s.calls_stream.load()},
          {"events_accepted_total", s.accepted.load()},
          {"events_rejected_invalid_total", s.rejected_invalid.load()},
          {"events_rejected_queue_full_total", s.rejected_queue_full.load()},
          {"events_rejected_delivery_total", s.rejected_delivery.load()},
          {"events_rejected_permission_denied_total", s.rejected_permission.load()},
          {"auth_rejections_missing_token_total", s.auth_missing_token.load()},
          {"auth_rejections_unknown_token_total", s.auth_unknown_token.load()},
          {"kafka_delivered_total", p.delivered.load()},
          {"kafka_delivery_errors_total", p.delivery_errors.load()},
          {"kafka_queue_depth", producer.QueueLength()}};
}

std::vector<nexus::MetricFamily> CollectMetrics(const nexus::IngestionServiceImpl& service,
                                                const nexus::KafkaProducer& producer) {
  const auto& s = service.counters();
  const auto& p = producer.counters();
  auto value = [](const std::atomic<uint64_t>& counter) { return static_cast<double>(counter.load()); };
  nexus::MetricFamily latency{nexus::kMetricLatency, "gRPC call duration, from the call's start to its answer",
                              "histogram", {}};
  s.publish_latency.AppendTo(&latency, "method=\"Publish\"");
  s.stream_latency.AppendTo(&latency, "method=\"PublishStream\"");
  return {
      {nexus::kMetricCalls, "gRPC calls started", "counter",
       {{"", "method=\"Publish\"", value(s.calls_publish)}, {"", "method=\"PublishStream\"", value(s.calls_stream)}}},
      {nexus::kMetricAccepted, "Events acknowledged to the client after their delivery report", "counter",
       {{"", "", value(s.accepted)}}},
      {nexus::kMetricRejected, "Events answered as rejected, by reason", "counter",
       {{"", "reason=\"invalid\"", value(s.rejected_invalid)},
        {"", "reason=\"queue_full\"", value(s.rejected_queue_full)},
        {"", "reason=\"delivery\"", value(s.rejected_delivery)},
        {"", "reason=\"permission_denied\"", value(s.rejected_permission)}}},
      {nexus::kMetricAuthRejections,
       "Calls refused UNAUTHENTICATED (missing_token, unknown_token) and events of an entity their producer may not "
       "publish (permission_denied)",
       "counter",
       {{"", "reason=\"missing_token\"", value(s.auth_missing_token)},
        {"", "reason=\"unknown_token\"", value(s.auth_unknown_token)},
        {"", "reason=\"permission_denied\"", value(s.rejected_permission)}}},
      {nexus::kMetricProduced, "Messages Kafka acknowledged (delivery reports without error)", "counter",
       {{"", "", value(p.delivered)}}},
      {nexus::kMetricDeliveryErrors, "Delivery reports with an error", "counter",
       {{"", "", value(p.delivery_errors)}}},
      {nexus::kMetricQueueDepth, "Messages in librdkafka's queue (waiting, in flight, or awaiting their report)",
       "gauge", {{"", "", static_cast<double>(producer.QueueLength())}}},
      std::move(latency),
  };
}

std::string ReadFile(const std::string& path, const char* what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw nexus::ConfigError(std::string("cannot read ") + what + " " + path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// Plaintext, TLS (--tls-cert/--tls-key) or mutual TLS (also --tls-client-ca).
std::shared_ptr<grpc::ServerCredentials> ServerCredentials(const nexus::Config& config) {
  if (config.tls_cert.empty()) return grpc::InsecureServerCredentials();
  grpc::SslServerCredentialsOptions options(config.tls_client_ca.empty()
                                                ? GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE
                                                : GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  options.pem_key_cert_pairs.push_back(
      {ReadFile(config.tls_key, "--tls-key"), ReadFile(config.tls_cert, "--tls-cert")});
  if (!config.tls_client_ca.empty()) options.pem_root_certs = ReadFile(config.tls_client_ca, "--tls-client-ca");
  return grpc::SslServerCredentials(options);
}

int Run(const nexus::Config& config, const sigset_t& stop_signals, const std::string& notify_socket,
        long long watchdog_usec) {
  const nexus::Contracts contracts = nexus::Contracts::FromDescriptors();
  const std::vector<nexus::Uuid> schema_ids =
      nexus::SchemaIdsForEntities(contracts, nexus::LoadSchemaIds(config.schema_ids_path));
  const nexus::RecordBuilder builder(contracts, schema_ids);
  std::unique_ptr<nexus::TokenFile> tokens;
  if (!config.tokens_file.empty()) tokens = std::make_unique<nexus::TokenFile>(contracts, config.tokens_file);
  auto producer = std::make_unique<nexus::KafkaProducer>(nexus::ProducerProperties(config), contracts);
  std::unique_ptr<nexus::BuildPool> pool;
  if (config.build_threads > 0) pool = std::make_unique<nexus::BuildPool>(builder, config.build_threads);
  nexus::IngestionServiceImpl service(
      builder, *producer, {config.max_batch_events, config.queue_full_timeout_ms, config.max_stream_rejections},
      pool.get(), tokens.get());

  std::unique_ptr<nexus::MetricsHttpServer> metrics;
  if (config.metrics_listen != "none") {
    try {
      metrics = std::make_unique<nexus::MetricsHttpServer>(config.metrics_listen, [&service, &producer] {
        return nexus::RenderPrometheus(CollectMetrics(service, *producer));
      });
    } catch (const std::runtime_error& e) {
      // An address the operator chose must work; the default one may be taken by another
      // server on a development machine, which then serves without metrics and says so.
      if (config.metrics_listen_set) throw;
      Log(LogLevel::kWarn, "metrics_disabled",
          {{"error", e.what()}, {"detail", "set --metrics-listen HOST:PORT (port 0: any free one) or none"}});
    }
  }
  grpc::EnableDefaultHealthCheckService(true);
#ifdef NEXUS_HAVE_REFLECTION
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
#endif
  grpc::ServerBuilder server_builder;
  int port = 0;
  server_builder.AddListeningPort(config.listen, ServerCredentials(config), &port);
  server_builder.SetMaxReceiveMessageSize(config.max_message_bytes);
  server_builder.AddChannelArgument(GRPC_ARG_HTTP2_BDP_PROBE, 0);
  server_builder.AddChannelArgument(GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES, kStreamWindowBytes);
  server_builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = server_builder.BuildAndStart();
  if (!server || port == 0) {
    Log(LogLevel::kError, "listen_failed", {{"listen", config.listen}});
    return 1;
  }
  grpc::HealthCheckServiceInterface* health = server->GetHealthCheckService();
  health->SetServingStatus(kServiceName, true);
  health->SetServingStatus(true);
  Log(LogLevel::kInfo, "serving",
      {{"listen", config.listen}, {"port", port}, {"metrics_port", metrics ? metrics->port() : 0},
       {"tls", config.tls_cert.empty() ? "off" : config.tls_client_ca.empty() ? "tls" : "mutual"},
       {"auth", tokens ? "tokens (" + std::to_string(tokens->size()) + " producers)" : std::string("off")},
       {"brokers", config.brokers},
       {"schema_ids", config.schema_ids_path}, {"entities", contracts.entities().size()},
#ifdef NEXUS_HAVE_REFLECTION
       {"reflection", true},
#else
       {"reflection", false},
#endif
       {"pid", static_cast<int>(getpid())}});

  nexus::Notify(notify_socket, "READY=1\nSTATUS=serving on port " + std::to_string(port));

  // The main thread waits for a stop signal, logs stats every minute and, under a systemd
  // watchdog, pings it twice per period while the producer is usable: after a fatal
  // producer error (e.g. the idempotent producer fenced) the pings stop, so systemd
  // restarts the server with a fresh producer.
  using Clock = std::chrono::steady_clock;
  const long long stats_usec = 1000000LL * kStatsIntervalS;
  const auto tick = std::chrono::microseconds(watchdog_usec > 0 ? std::min(watchdog_usec / 2, stats_usec) : stats_usec);
  auto next_stats = Clock::now() + std::chrono::seconds(kStatsIntervalS);
  int signal_number = 0;
  bool unhealthy = false;
  while (signal_number <= 0) {
    const auto secs = std::chrono::duration_cast<std::chrono::seconds>(tick);
    const timespec interval{static_cast<time_t>(secs.count()),
                            static_cast<long>(std::chrono::duration_cast<std::chrono::nanoseconds>(tick - secs).count())};
    signal_number = sigtimedwait(&stop_signals, nullptr, &interval);
    if (signal_number > 0) break;
    if (Clock::now() >= next_stats) {
      Log(LogLevel::kInfo, "stats", Stats(service, *producer));
      next_stats += std::chrono::seconds(kStatsIntervalS);
    }
    if (producer->fatal() && !unhealthy) {
      unhealthy = true;
      health->SetServingStatus(kServiceName, false);
      nexus::Notify(notify_socket, "STATUS=the Kafka producer failed fatally; waiting for a restart");
    }
    if (watchdog_usec > 0 && !unhealthy) nexus::Notify(notify_socket, "WATCHDOG=1");
  }

  Log(LogLevel::kInfo, "stopping", {{"signal", strsignal(signal_number)}, {"grace_s", config.shutdown_grace_s}});
  nexus::Notify(notify_socket, "STOPPING=1\nSTATUS=finishing calls and flushing the producer");
  health->Shutdown();  // NOT_SERVING for every service, so load balancers move away
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(config.shutdown_grace_s));
  server->Wait();
  const int left = producer->Flush(kFlushTimeoutMs);
  nlohmann::ordered_json stats = Stats(service, *producer);
  stats["unflushed"] = left;
  metrics.reset();
  producer.reset();
  Log(left == 0 ? LogLevel::kInfo : LogLevel::kError, "stopped", stats);
  return left == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  // Block the stop signals in every thread (gRPC's and librdkafka's inherit the mask);
  // Run() takes them with sigtimedwait.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  nexus::Config config;
  try {
    config = nexus::ParseConfig(std::vector<std::string>(argv + 1, argv + argc), [](const char* name) {
      return static_cast<const char*>(std::getenv(name));
    });
  } catch (const nexus::UsageError& e) {
    std::cerr << argv[0] << ": " << e.what() << "\n";
    return kExitUsage;
  } catch (const nexus::ConfigError& e) {
    std::cerr << argv[0] << ": " << e.what() << "\n";
    return kExitConfig;
  }
  if (config.help) {
    std::cout << nexus::Usage(argv[0]);
    return 0;
  }
  if (config.version) {
    std::cout << "olist_ingestion_enterprise " << kVersion << " (librdkafka " << rd_kafka_version_str()
              << ", gRPC " << grpc::Version() << ")\n";
    return 0;
  }
  nexus::SetLogLevel(nexus::ParseLogLevel(config.log_level));
  Log(LogLevel::kInfo, "starting",
      {{"version", kVersion}, {"librdkafka_version", rd_kafka_version_str()}, {"grpc_version", grpc::Version()},
       {"protobuf_version", google::protobuf::internal::VersionString(GOOGLE_PROTOBUF_VERSION)}});
  if (rd_kafka_version() < kMinRdkafkaVersion) {
    Log(LogLevel::kWarn, "old_librdkafka",
        {{"librdkafka_version", rd_kafka_version_str()},
         {"detail", "librdkafka < 2.2 cannot talk to the local Tansu broker; see ingestion_cpp/README.md"}});
  }
  try {
    // Set by systemd: Type=notify, and WatchdogSec= (for this process: WATCHDOG_PID).
    const char* notify_socket = std::getenv("NOTIFY_SOCKET");
    const char* watchdog_usec = std::getenv("WATCHDOG_USEC");
    const char* watchdog_pid = std::getenv("WATCHDOG_PID");
    long long watchdog = watchdog_usec != nullptr ? std::atoll(watchdog_usec) : 0;
    if (watchdog_pid != nullptr && std::atoll(watchdog_pid) != static_cast<long long>(getpid())) watchdog = 0;
    return Run(config, stop_signals, notify_socket != nullptr ? notify_socket : "", watchdog);
  } catch (const nexus::ConfigError& e) {  // a setting found unusable at start (a file it names)
    Log(LogLevel::kError, "startup_failed", {{"error", e.what()}});
    return kExitConfig;
  } catch (const std::exception& e) {
    Log(LogLevel::kError, "startup_failed", {{"error", e.what()}});
    return 1;
  }
}
