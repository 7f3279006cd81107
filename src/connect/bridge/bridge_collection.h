#pragma once

#include "connect/bridge/bridge_manager.h"
#include "http/handlers/config_collection.h"

namespace liandu::connect::bridge {

// The bridges as the config collection behind /api/v1/bridges. Header-only
// and included only by app/, so the bridge library itself does not depend on
// http/ (the dependency rule: nothing below http depends on it).
class bridge_collection final : public http::handlers::config_collection {
 public:
  explicit bridge_collection(bridge_manager& m) : m_(m) {}
  std::vector<nlohmann::json> list() const override { return m_.list(); }
  status put(const nlohmann::json& entry) override { return m_.put(entry); }
  status remove(std::string_view name) override { return m_.remove(name); }

 private:
  bridge_manager& m_;
};

}  // namespace liandu::connect::bridge
