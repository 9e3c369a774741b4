// systemd's readiness protocol without libsystemd: one datagram to $NOTIFY_SOCKET
// ("READY=1", "STOPPING=1", "STATUS=..."). The composition root reads the variable
// and passes the path; an empty path means "not under systemd" and does nothing.
#pragma once

#include <string>

namespace nexus {

// Sends `state` to the socket at `socket_path` ('@' at the start: the abstract
// namespace). Returns false when it could not be sent; never throws.
bool Notify(const std::string& socket_path, const std::string& state);

}  // namespace nexus
