#include "core/api/events.hpp"

namespace weights::api {

std::string format_event(std::string_view name, std::string_view data) {
  std::string out = "event: ";
  out += name;
  out += '\n';
  for (;;) {
    const auto nl = data.find('\n');
    out += "data: ";
    out += data.substr(0, nl);
    out += '\n';
    if (nl == std::string_view::npos) break;
    data.remove_prefix(nl + 1);
  }
  out += '\n';
  return out;
}

std::vector<Event> EventParser::feed(std::string_view bytes) {
  std::vector<Event> out;
  for (const char c : bytes) {
    if (c != '\n') {
      line_ += c;
      continue;
    }
    std::string_view line = line_;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) {
      if (has_data_ || !current_.name.empty()) {
        if (current_.name.empty()) current_.name = "message";
        out.push_back(std::move(current_));
      }
      current_ = {};
      has_data_ = false;
    } else if (line.front() != ':') {
      const auto colon = line.find(':');
      const std::string_view field = line.substr(0, colon);
      std::string_view value =
          colon == std::string_view::npos ? std::string_view{} : line.substr(colon + 1);
      if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
      if (field == "event") {
        current_.name = std::string(value);
      } else if (field == "data") {
        if (has_data_) current_.data += '\n';
        current_.data += value;
        has_data_ = true;
      }
    }
    line_.clear();
  }
  return out;
}

}  // namespace weights::api
