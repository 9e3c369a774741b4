#include "schema_ids.h"

#include <fstream>
#include <sstream>
#include <stdexcept>

#include <nlohmann/json.hpp>

namespace nexus {

std::map<std::string, Uuid> ParseSchemaIds(const std::string& json_text) {
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(json_text);
  } catch (const nlohmann::json::exception& e) {
    throw std::runtime_error(std::string("not JSON: ") + e.what());
  }
  if (!doc.is_object()) throw std::runtime_error("expected a JSON object {schema name: version uuid}");
  std::map<std::string, Uuid> ids;
  for (const auto& [name, value] : doc.items()) {
    if (!value.is_string()) throw std::runtime_error(name + ": expected a UUID string");
    try {
      ids[name] = ParseUuid(value.get<std::string>());
    } catch (const std::invalid_argument& e) {
      throw std::runtime_error(name + ": " + e.what());
    }
  }
  return ids;
}

std::map<std::string, Uuid> LoadSchemaIds(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read schema ids file " + path);
  std::ostringstream text;
  text << in.rdbuf();
  try {
    return ParseSchemaIds(text.str());
  } catch (const std::runtime_error& e) {
    throw std::runtime_error("schema ids file " + path + ": " + e.what() +
                             " (write it with: nexus schemas sync --ids-out " + path + ")");
  }
}

std::vector<Uuid> SchemaIdsForEntities(const Contracts& contracts, const std::map<std::string, Uuid>& ids) {
  std::vector<Uuid> out;
  std::string missing;
  for (const EntityPlan& entity : contracts.entities()) {
    auto it = ids.find(entity.topic);
    if (it == ids.end()) {
      missing += (missing.empty() ? "" : ", ") + entity.topic;
      out.push_back(Uuid{});
    } else {
      out.push_back(it->second);
    }
  }
  if (!missing.empty()) {
    throw std::runtime_error("no schema version id for " + missing + "; run `nexus schemas sync --ids-out FILE`");
  }
  return out;
}

}  // namespace nexus
