#include "glue_header.h"

#include <gtest/gtest.h>

#include <stdexcept>

namespace nexus {
namespace {

TEST(GlueHeader, ParsesAndFormatsUuids) {
  const Uuid id = ParseUuid("0123ABCD-4567-89ab-cdef-0123456789AB");
  EXPECT_EQ(id[0], 0x01);
  EXPECT_EQ(id[3], 0xCD);
  EXPECT_EQ(id[15], 0xAB);
  EXPECT_EQ(FormatUuid(id), "0123abcd-4567-89ab-cdef-0123456789ab");
}

TEST(GlueHeader, RejectsMalformedUuids) {
  EXPECT_THROW(ParseUuid(""), std::invalid_argument);
  EXPECT_THROW(ParseUuid("0123abcd456789abcdef0123456789ab"), std::invalid_argument);
  EXPECT_THROW(ParseUuid("0123abcd-4567-89ab-cdef-0123456789ag"), std::invalid_argument);
  EXPECT_THROW(ParseUuid("0123abcd-4567-89ab-cdef0-123456789ab"), std::invalid_argument);
}

TEST(GlueHeader, WritesVersionCompressionAndBigEndianUuid) {
  // The bytes Python writes: bytes((3, 0)) + uuid.UUID("...").bytes
  const Uuid id = ParseUuid("12345678-9abc-def0-1122-334455667788");
  std::string out = "";
  AppendGlueHeader(id, &out);
  ASSERT_EQ(out.size(), kGlueHeaderSize);
  const std::string expected("\x03\x00\x12\x34\x56\x78\x9a\xbc\xde\xf0\x11\x22\x33\x44\x55\x66\x77\x88", 18);
  EXPECT_EQ(out, expected);
}

}  // namespace
}  // namespace nexus
