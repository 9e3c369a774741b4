#include "producer_tokens.h"

#include <fstream>
#include <regex>
#include <sstream>
#include <stdexcept>

#include <sys/stat.h>

#include <nlohmann/json.hpp>
#include <openssl/sha.h>

#include "config.h"
#include "log.h"

namespace nexus {

namespace {

bool ValidName(const std::string& name) {
  static const std::regex kName("[A-Za-z0-9][A-Za-z0-9._-]{0,127}");
  return std::regex_match(name, kName);
}

bool ValidSha256(const std::string& hex) {
  if (hex.size() != 64) return false;
  for (char c : hex) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

std::vector<bool> Entities(const Contracts& contracts, const std::string& where, const nlohmann::json& list) {
  if (!list.is_array() || list.empty()) {
    throw std::runtime_error(where + ".entities: expected a non-empty list of entity names (leave it out: all)");
  }
  std::vector<bool> allowed(contracts.entities().size(), false);
  for (const nlohmann::json& item : list) {
    const EntityPlan* entity = item.is_string() ? contracts.ByName(item.get<std::string>()) : nullptr;
    if (entity == nullptr) {
      std::string known;
      for (const EntityPlan& e : contracts.entities()) known += (known.empty() ? "" : ", ") + e.name;
      throw std::runtime_error(where + ".entities: unknown entity " + item.dump() + " (known: " + known + ")");
    }
    allowed[entity->index] = true;
  }
  return allowed;
}

void Add(Grants* grants, const std::string& key, const std::shared_ptr<const Grant>& grant, const std::string& same) {
  auto [it, added] = grants->emplace(key, grant);
  if (!added) throw std::runtime_error(same + " as producer " + it->second->producer);
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read it");
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

Producers ParseTokens(const Contracts& contracts, const std::string& json_text) {
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(json_text);
  } catch (const nlohmann::json::exception& e) {
    throw std::runtime_error(std::string("not JSON: ") + e.what());
  }
  if (!doc.is_object() || doc.size() != 1 || !doc.contains("producers") || !doc["producers"].is_object()) {
    throw std::runtime_error(R"(expected {"producers": {NAME: {"token_sha256": HEX, "entities": [...]}}})");
  }
  Producers producers;
  for (const auto& [name, entry] : doc["producers"].items()) {
    const std::string where = "producers." + name;
    if (!ValidName(name)) {
      throw std::runtime_error(where + ": a producer name is letters, digits, '.', '_' or '-' (up to 128)");
    }
    if (!entry.is_object() || (!entry.contains("token_sha256") && !entry.contains("client_cert_cn"))) {
      throw std::runtime_error(where + R"(: expected {"token_sha256": HEX, "entities": [...]} (or client_cert_cn))");
    }
    for (const auto& [key, value] : entry.items()) {
      if (key != "token_sha256" && key != "client_cert_cn" && key != "entities") {
        throw std::runtime_error(where + ": unknown key " + key + " (known: token_sha256, client_cert_cn, entities)");
      }
    }
    auto grant = std::make_shared<Grant>();
    grant->producer = name;
    if (entry.contains("entities")) grant->entities = Entities(contracts, where, entry["entities"]);
    ++producers.count;
    if (entry.contains("token_sha256")) {
      const nlohmann::json& digest = entry["token_sha256"];
      if (!digest.is_string() || !ValidSha256(digest.get<std::string>())) {
        throw std::runtime_error(where + ".token_sha256: expected 64 lower-case hex characters (the token's SHA-256)");
      }
      Add(&producers.by_token, digest.get<std::string>(), grant, where + ".token_sha256: the same token");
    }
    if (entry.contains("client_cert_cn")) {
      const nlohmann::json& cn = entry["client_cert_cn"];
      if (!cn.is_string() || cn.get<std::string>().empty()) {
        throw std::runtime_error(where + ".client_cert_cn: expected the common name of a client certificate");
      }
      Add(&producers.by_certificate, cn.get<std::string>(), grant, where + ".client_cert_cn: the same certificate");
    }
  }
  return producers;
}

std::string Sha256Hex(const std::string& text) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(text.data()), text.size(), digest);
  static const char kHex[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(2 * SHA256_DIGEST_LENGTH);
  for (unsigned char b : digest) {
    hex += kHex[b >> 4];
    hex += kHex[b & 0xf];
  }
  return hex;
}

std::string BearerToken(const std::string& authorization) {
  constexpr char kPrefix[] = "Bearer ";
  if (authorization.rfind(kPrefix, 0) != 0) return "";
  const size_t start = authorization.find_first_not_of(" \t", sizeof(kPrefix) - 1);
  if (start == std::string::npos) return "";
  const size_t end = authorization.find_last_not_of(" \t");
  return authorization.substr(start, end - start + 1);
}

TokenFile::TokenFile(const Contracts& contracts, std::string path)
    : contracts_(contracts), path_(std::move(path)), stamp_(StatFile()) {
  try {
    producers_ = std::make_shared<const Producers>(ParseTokens(contracts_, ReadAll(path_)));
  } catch (const std::runtime_error& e) {
    throw ConfigError("--tokens-file " + path_ + " (NEXUS_INGEST__TOKENS_FILE): " + e.what());
  }
}

size_t TokenFile::size() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return producers_->count;
}

TokenFile::Stamp TokenFile::StatFile() const {
  struct stat st {};
  if (stat(path_.c_str(), &st) != 0) return Stamp{};
  return Stamp{static_cast<long long>(st.st_mtim.tv_sec) * 1000000000LL + st.st_mtim.tv_nsec, st.st_size, st.st_ino};
}

void TokenFile::ReloadIfChanged() {
  const Stamp now = StatFile();
  std::lock_guard<std::mutex> lock(mutex_);
  if (now == stamp_) return;
  stamp_ = now;
  try {
    producers_ = std::make_shared<const Producers>(ParseTokens(contracts_, ReadAll(path_)));
    Log(LogLevel::kInfo, "tokens_reloaded", {{"path", path_}, {"producers", producers_->count}});
  } catch (const std::runtime_error& e) {
    Log(LogLevel::kError, "tokens_reload_failed",
        {{"path", path_}, {"error", e.what()}, {"detail", "kept the producers read before"}});
  }
}

std::shared_ptr<const Grant> TokenFile::Authenticate(const std::string& authorization,
                                                   const std::string& certificate_cn, AuthFailure* failure) {
  ReloadIfChanged();
  std::shared_ptr<const Producers> producers;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    producers = producers_;
  }
  const std::string token = BearerToken(authorization);
  const Grants& grants = token.empty() ? producers->by_certificate : producers->by_token;
  const auto it = token.empty() ? grants.find(certificate_cn) : grants.find(Sha256Hex(token));
  if (it == grants.end() || (token.empty() && certificate_cn.empty())) {
    *failure = token.empty() ? AuthFailure::kMissingToken : AuthFailure::kUnknownToken;
    return nullptr;
  }
  *failure = AuthFailure::kNone;
  return it->second;
}

}  // namespace nexus
