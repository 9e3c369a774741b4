// Who may publish: the producers of the tokens file (--tokens-file), each with the
// SHA-256 (hex) of its bearer token and/or the common name of its client certificate
// (under mutual TLS), and, optionally, the entities it may publish:
//
//   {"producers": {
//       "orders-app": {"token_sha256": "9f86d0...", "entities": ["orders", "order_items"]},
//       "replay": {"token_sha256": "60303a..."},
//       "erp": {"client_cert_cn": "erp.internal"}}}
//
// With a tokens file every call sends the metadata `authorization: Bearer <token>` or,
// under mutual TLS, comes with a client certificate whose common name a producer has: a
// call with neither, or with a token no producer has (whatever its certificate), ends
// UNAUTHENTICATED before any event is read; an event of an entity its producer may not publish is rejected on its
// own ("permission denied: ..."), and the source header of every event written names
// the authenticated producer. The file is re-read at the first call after it changed
// (mtime, size or inode: one stat a call); a changed file that does not parse keeps the
// producers read before and logs tokens_reload_failed. The same rules and answers as the
// twin (service/keystone_nexus/ingest/auth.py).
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <sys/types.h>

#include "contracts.h"

namespace nexus {

constexpr const char* kMissingToken = "missing credentials: send the call metadata authorization: Bearer <token>";
constexpr const char* kUnknownToken = "unknown token: no producer of the server's tokens file has it";

// An authenticated producer and the entities it may publish (by EntityPlan::index).
struct Grant {
  std::string producer;
  std::vector<bool> entities;  // empty: every entity

  bool Allows(const EntityPlan& entity) const { return entities.empty() || entities[entity.index]; }
  std::string Refusal(const EntityPlan& entity) const {
    return "permission denied: producer \"" + producer + "\" may not publish " + entity.name;
  }
};

using Grants = std::map<std::string, std::shared_ptr<const Grant>>;

struct Producers {
  Grants by_token;        // by the hex SHA-256 of their token
  Grants by_certificate;  // by the common name of their client certificate
  size_t count = 0;
};

// Pure. Throws std::runtime_error naming the entry when the text is not as above.
Producers ParseTokens(const Contracts& contracts, const std::string& json_text);

std::string Sha256Hex(const std::string& text);

// The token of an `authorization` metadata value "Bearer <token>"; "" if it is not one.
std::string BearerToken(const std::string& authorization);

enum class AuthFailure { kNone, kMissingToken, kUnknownToken };

class TokenFile {
 public:
  // Reads the file; throws ConfigError (config.h) when it cannot be used.
  TokenFile(const Contracts& contracts, std::string path);

  // The producer of `authorization` (the metadata's value, "" when absent) or, without a
  // token, of `certificate_cn` (the verified client certificate's, "" when none); or
  // nullptr and why not. Re-reads the file first when it changed. Thread-safe.
  std::shared_ptr<const Grant> Authenticate(const std::string& authorization, const std::string& certificate_cn,
                                            AuthFailure* failure);

  size_t size() const;

 private:
  struct Stamp {
    long long mtime_ns = -1;
    off_t size = -1;
    ino_t inode = 0;
    bool operator==(const Stamp& o) const { return mtime_ns == o.mtime_ns && size == o.size && inode == o.inode; }
  };
  Stamp StatFile() const;
  void ReloadIfChanged();

  const Contracts& contracts_;
  const std::string path_;
  mutable std::mutex mutex_;
  Stamp stamp_;
  std::shared_ptr<const Producers> producers_;
};

}  // namespace nexus
