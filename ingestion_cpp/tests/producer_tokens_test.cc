#include "producer_tokens.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include <grpcpp/impl/codegen/proto_utils.h>  // SerializationTraits of protobuf messages

#include "config.h"
#include "fake_producer.h"
#include "keystone/olist/v1/ingestion.pb.h"
#include "publish_call.h"
#include "test_events.h"

namespace nexus {
namespace {

// printf %s secret | sha256sum
constexpr char kSecretSha256[] = "2bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b";

std::string Error(const Contracts& contracts, const std::string& text) {
  try {
    ParseTokens(contracts, text);
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "no error";
}

TEST(ProducerTokens, HashesTokensAsSha256Hex) {
  EXPECT_EQ(Sha256Hex("secret"), kSecretSha256);
  EXPECT_EQ(BearerToken("Bearer secret"), "secret");
  EXPECT_EQ(BearerToken("Bearer  secret "), "secret");
  EXPECT_EQ(BearerToken("Basic c2VjcmV0"), "");
  EXPECT_EQ(BearerToken("Bearer "), "");
  EXPECT_EQ(BearerToken(""), "");
}

TEST(ProducerTokens, ParsesProducersWithTheirEntities) {
  const Contracts contracts = Contracts::FromDescriptors();
  const Producers producers = ParseTokens(
      contracts, std::string(R"({"producers": {"orders-app": {"token_sha256": ")") + kSecretSha256 +
                     R"(", "entities": ["orders"]}, "all": {"token_sha256": ")" + std::string(64, 'a') +
                     R"(", "client_cert_cn": "erp.internal"}, "erp": {"client_cert_cn": "erp-2.internal"}}})");
  EXPECT_EQ(producers.count, 3u);
  const Grants& grants = producers.by_token;
  ASSERT_EQ(grants.size(), 2u);
  EXPECT_EQ(producers.by_certificate.at("erp.internal")->producer, "all");
  EXPECT_EQ(producers.by_certificate.at("erp-2.internal")->producer, "erp");
  const Grant& orders_app = *grants.at(kSecretSha256);
  EXPECT_EQ(orders_app.producer, "orders-app");
  EXPECT_TRUE(orders_app.Allows(*contracts.ByName("orders")));
  EXPECT_FALSE(orders_app.Allows(*contracts.ByName("order_items")));
  EXPECT_EQ(orders_app.Refusal(*contracts.ByName("order_items")),
            "permission denied: producer \"orders-app\" may not publish order_items");
  EXPECT_TRUE(grants.at(std::string(64, 'a'))->Allows(*contracts.ByName("reviews")));
}

TEST(ProducerTokens, RefusesAFileNotAsDocumentedNamingTheEntry) {
  const Contracts c = Contracts::FromDescriptors();
  const std::string hash = kSecretSha256;
  EXPECT_NE(Error(c, "{").find("not JSON"), std::string::npos);
  EXPECT_NE(Error(c, R"({"p": {}})").find(R"(expected {"producers")"), std::string::npos);
  EXPECT_NE(Error(c, R"({"producers": {"a": {"token_sha256": "ABC"}}})").find("producers.a.token_sha256"),
            std::string::npos);
  EXPECT_NE(Error(c, R"({"producers": {"a b": {"token_sha256": ")" + hash + R"("}}})").find("producers.a b:"),
            std::string::npos);
  EXPECT_NE(Error(c, R"({"producers": {"a": {"token_sha256": ")" + hash + R"(", "role": 1}}})").find("unknown key role"),
            std::string::npos);
  EXPECT_NE(Error(c, R"({"producers": {"a": {"token_sha256": ")" + hash + R"(", "entities": ["nope"]}}})")
                .find("unknown entity \"nope\""),
            std::string::npos);
  EXPECT_NE(Error(c, R"({"producers": {"a": {"token_sha256": ")" + hash + R"("}, "b": {"token_sha256": ")" + hash +
                         R"("}}})")
                .find("the same token as producer a"),
            std::string::npos);
  EXPECT_NE(Error(c, R"({"producers": {"a": {"entities": ["orders"]}}})").find("producers.a: expected"),
            std::string::npos);
  EXPECT_NE(Error(c, R"({"producers": {"a": {"client_cert_cn": "x"}, "b": {"client_cert_cn": "x"}}})")
                .find("producers.b.client_cert_cn: the same certificate as producer a"),
            std::string::npos);
}

TEST(ProducerTokens, TheFileIsReadAgainWhenItChangesAndABadOneKeepsTheLast) {
  const Contracts contracts = Contracts::FromDescriptors();
  const std::string path = ::testing::TempDir() + "/tokens.json";
  auto write = [&](const std::string& producer, const std::string& hash) {
    const std::string next = path + ".next";
    std::ofstream(next) << R"({"producers": {")" + producer + R"(": {"token_sha256": ")" + hash + R"("}}})";
    ASSERT_EQ(std::rename(next.c_str(), path.c_str()), 0);
  };
  write("first", kSecretSha256);
  TokenFile tokens(contracts, path);
  AuthFailure failure = AuthFailure::kNone;
  EXPECT_EQ(tokens.Authenticate("", "", &failure), nullptr);
  EXPECT_EQ(failure, AuthFailure::kMissingToken);
  EXPECT_EQ(tokens.Authenticate("Bearer other", "", &failure), nullptr);
  EXPECT_EQ(failure, AuthFailure::kUnknownToken);
  ASSERT_NE(tokens.Authenticate("Bearer secret", "", &failure), nullptr);
  EXPECT_EQ(tokens.Authenticate("Bearer secret", "", &failure)->producer, "first");

  write("second", Sha256Hex("other"));  // a new file renamed over the old: a new inode
  EXPECT_EQ(tokens.Authenticate("Bearer secret", "", &failure), nullptr);
  ASSERT_NE(tokens.Authenticate("Bearer other", "", &failure), nullptr);
  EXPECT_EQ(tokens.Authenticate("Bearer other", "", &failure)->producer, "second");

  {
    std::ofstream(path + ".next") << R"({"producers": {"second": {"token_sha256": ")" + Sha256Hex("other") +
                                         R"(", "client_cert_cn": "erp.internal"}}})";
  }
  ASSERT_EQ(std::rename((path + ".next").c_str(), path.c_str()), 0);
  ASSERT_NE(tokens.Authenticate("", "erp.internal", &failure), nullptr);
  EXPECT_EQ(tokens.Authenticate("", "erp.internal", &failure)->producer, "second");
  EXPECT_EQ(tokens.Authenticate("", "someone.else", &failure), nullptr);
  EXPECT_EQ(failure, AuthFailure::kMissingToken);
  EXPECT_EQ(tokens.Authenticate("Bearer secret", "erp.internal", &failure), nullptr) << "a wrong token is refused";
  EXPECT_EQ(failure, AuthFailure::kUnknownToken);

  std::ofstream(path + ".next") << "{ not json";
  ASSERT_EQ(std::rename((path + ".next").c_str(), path.c_str()), 0);
  ASSERT_NE(tokens.Authenticate("Bearer other", "", &failure), nullptr) << "a broken file keeps the producers before";

  EXPECT_THROW(TokenFile(contracts, path), ConfigError);
  EXPECT_THROW(TokenFile(contracts, path + ".missing"), ConfigError);
}

TEST(ProducerTokens, APublishAsAProducerRejectsTheEntitiesItMayNotPublishAndNamesItAsSource) {
  const Contracts contracts = Contracts::FromDescriptors();
  const RecordBuilder builder(contracts, testing::SchemaIdsFor(contracts));
  testing::FakeProducer producer;
  ServiceLimits limits;
  ServiceCounters counters;
  Grant grant{"reviews-app", std::vector<bool>(contracts.entities().size(), false)};
  grant.entities[contracts.ByName("reviews")->index] = true;

  v1::PublishRequest request;
  *request.add_events() = testing::OrderItemEvent();
  *request.add_events() = testing::ReviewEvent();
  grpc::ByteBuffer raw;
  bool own = false;
  ASSERT_TRUE(grpc::SerializationTraits<v1::PublishRequest>::Serialize(request, &raw, &own).ok());
  grpc::ByteBuffer answer;
  ASSERT_TRUE(AnswerPublish(builder, producer, limits, counters, raw, &answer, &grant).ok());
  v1::PublishResponse response;
  ASSERT_TRUE(grpc::SerializationTraits<v1::PublishResponse>::Deserialize(&answer, &response).ok());
  ASSERT_EQ(response.results_size(), 2);
  EXPECT_FALSE(response.results(0).accepted());
  EXPECT_EQ(response.results(0).reason(), "permission denied: producer \"reviews-app\" may not publish order_items");
  EXPECT_TRUE(response.results(1).accepted());
  EXPECT_EQ(producer.sources, std::vector<std::string>{"reviews-app"});
  EXPECT_EQ(counters.rejected_permission.load(), 1u);
  EXPECT_EQ(counters.rejected_invalid.load(), 0u);
}

}  // namespace
}  // namespace nexus
