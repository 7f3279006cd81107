#pragma once

#include "connect/modbus/device_manager.h"
#include "http/handlers/config_collection.h"

namespace liandu::connect::modbus {

// The Modbus devices as the config collection behind /api/v1/modbus/devices.
// Header-only and included only by app/, so the modbus library itself does
// not depend on http/ (nothing below http depends on it).
class device_collection final : public http::handlers::config_collection {
 public:
  explicit device_collection(device_manager& m) : m_(m) {}
  std::vector<nlohmann::json> list() const override { return m_.list(); }
  status put(const nlohmann::json& entry) override { return m_.put(entry); }
  status remove(std::string_view name) override { return m_.remove(name); }

 private:
  device_manager& m_;
};

}  // namespace liandu::connect::modbus
