#include "app/config_file.h"

#include <CLI/CLI.hpp>
#include <fstream>

namespace liandu::app {

namespace {
std::string trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r");
  if (b == std::string::npos) return "";
  size_t e = s.find_last_not_of(" \t\r");
  return s.substr(b, e - b + 1);
}
}  // namespace

std::string apply_config_file(CLI::App& command, const std::string& path) {
  std::ifstream in(path);
  if (!in) return "cannot read config file " + path;
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    ++n;
    std::string where = path + ":" + std::to_string(n);
    bool in_quotes = false;
    for (size_t i = 0; i < line.size(); ++i) {  // strip comments outside quotes
      if (line[i] == '"') in_quotes = !in_quotes;
      if (line[i] == '#' && !in_quotes) {
        line.resize(i);
        break;
      }
    }
    line = trim(line);
    if (line.empty() || line == "---") continue;
    if (line.front() == '[') return where + ": sections are not supported; write the keys at top level";
    size_t sep = line.find_first_of("=:");
    if (sep == std::string::npos) return where + ": expected `key = value` or `key: value`";
    std::string key = trim(line.substr(0, sep));
    std::string value = trim(line.substr(sep + 1));
    if (value.size() >= 2 && (value.front() == '"' || value.front() == '\'') &&
        value.back() == value.front()) {
      value = value.substr(1, value.size() - 2);
    }
    for (char& c : key) {
      if (c == '_') c = '-';
    }
    if (key == "config") return where + ": a config file cannot name another config file";
    CLI::Option* opt = nullptr;
    try {
      opt = command.get_option("--" + key);
    } catch (const CLI::OptionNotFound&) {
      return where + ": unknown key \"" + key + "\" (see `liandu serve --help`)";
    }
    if (opt->count() > 0) continue;  // the command line or the environment wins
    try {
      opt->add_result(value);
      opt->run_callback();
    } catch (const CLI::Error& e) {
      return where + ": bad value for \"" + key + "\": " + e.what();
    }
  }
  return "";
}

}  // namespace liandu::app
