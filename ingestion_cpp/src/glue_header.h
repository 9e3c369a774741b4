// The AWS Glue Schema Registry wire header (keystone_nexus.wire):
//   byte 0      header version, always 3
//   byte 1      compression: 0 none (the only one this server writes)
//   bytes 2-17  the schema version UUID, big-endian (as Python's uuid.UUID.bytes)
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace nexus {

using Uuid = std::array<uint8_t, 16>;

constexpr uint8_t kGlueHeaderVersion = 3;
constexpr uint8_t kGlueCompressionNone = 0;
constexpr size_t kGlueHeaderSize = 18;

// Parses "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" (hex, either case). Throws
// std::invalid_argument saying what is wrong.
Uuid ParseUuid(std::string_view text);
std::string FormatUuid(const Uuid& uuid);

// Appends the 18 header bytes for `schema_version_id` to `out`.
void AppendGlueHeader(const Uuid& schema_version_id, std::string* out);

}  // namespace nexus
