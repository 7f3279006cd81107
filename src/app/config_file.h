#pragma once

#include <string>

namespace CLI {
class App;
}

namespace liandu::app {

// Applies a config file to the options of a parsed sub-command. The file is
// flat TOML (`key = value`) or YAML (`key: value`); `#` starts a comment;
// strings may be quoted; keys are the long option names without dashes
// (`http-bind`, or `http_bind`). A value applies only where neither the
// command line nor the environment set the option. Returns an error naming
// the file, line and key, or "" on success.
std::string apply_config_file(CLI::App& command, const std::string& path);

}  // namespace liandu::app
