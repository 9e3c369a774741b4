// The schema version ids written by `nexus schemas sync --ids-out FILE`:
// a JSON object {schema name ("olist.<entity>.v1"): schema version UUID}.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "contracts.h"
#include "glue_header.h"

namespace nexus {

// Parses the file's text. Throws std::runtime_error saying what is wrong.
std::map<std::string, Uuid> ParseSchemaIds(const std::string& json_text);

// Reads and parses `path`. Throws std::runtime_error naming the file.
std::map<std::string, Uuid> LoadSchemaIds(const std::string& path);

// The UUID of every entity of `contracts`, indexed like contracts.entities(). Throws
// std::runtime_error listing the entities without one.
std::vector<Uuid> SchemaIdsForEntities(const Contracts& contracts, const std::map<std::string, Uuid>& ids);

}  // namespace nexus
