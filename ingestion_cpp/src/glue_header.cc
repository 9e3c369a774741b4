#include "glue_header.h"

#include <stdexcept>

namespace nexus {
namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

Uuid ParseUuid(std::string_view text) {
  const std::string bad = "not a UUID (expected 8-4-4-4-12 hex digits): \"" + std::string(text) + "\"";
  if (text.size() != 36 || text[8] != '-' || text[13] != '-' || text[18] != '-' || text[23] != '-') {
    throw std::invalid_argument(bad);
  }
  Uuid out{};
  size_t nibble = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    if (i == 8 || i == 13 || i == 18 || i == 23) continue;  // the dashes, checked above
    const int v = HexValue(text[i]);
    if (v < 0) throw std::invalid_argument(bad);
    out[nibble / 2] = static_cast<uint8_t>(nibble % 2 == 0 ? v << 4 : out[nibble / 2] | v);
    ++nibble;
  }
  return out;
}

std::string FormatUuid(const Uuid& uuid) {
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < uuid.size(); ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out.push_back('-');
    out.push_back(kHex[uuid[i] >> 4]);
    out.push_back(kHex[uuid[i] & 0xF]);
  }
  return out;
}

void AppendGlueHeader(const Uuid& schema_version_id, std::string* out) {
  out->push_back(static_cast<char>(kGlueHeaderVersion));
  out->push_back(static_cast<char>(kGlueCompressionNone));
  out->append(reinterpret_cast<const char*>(schema_version_id.data()), schema_version_id.size());
}

}  // namespace nexus
