// JSON structured logs to stderr, one object per line, with the field names of the
// Python service's logs (keystone_nexus.logs): ts, level, logger, event, then fields.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace nexus {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

// "debug", "info", "warn" or "error"; anything else is info.
LogLevel ParseLogLevel(const std::string& name);
void SetLogLevel(LogLevel level);
bool LogEnabled(LogLevel level);

void Log(LogLevel level, const std::string& event, nlohmann::ordered_json fields = nlohmann::ordered_json::object());

}  // namespace nexus
