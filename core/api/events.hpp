#pragma once
// text/event-stream framing (the subset the control API uses: `event:` and `data:` lines, an
// empty line ending each event). The daemon writes with format_event; weightsctl reads with
// EventParser, which takes the bytes in whatever pieces they arrive.
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace weights::api {

struct Event {
  std::string name;  // "release", "error"; "message" when the event has no `event:` line
  std::string data;  // data lines joined with '\n'
};

// "event: NAME\ndata: DATA\n\n"; a '\n' inside data becomes another data line.
std::string format_event(std::string_view name, std::string_view data);

class EventParser {
 public:
  // Events an event-terminating empty line completed in `bytes` (plus earlier pieces). Lines
  // starting with ':' are comments (keep-alives); unknown fields are ignored.
  std::vector<Event> feed(std::string_view bytes);
  // Bytes of an event not yet complete: over `max_event_bytes` means the stream is broken.
  std::size_t pending() const { return line_.size() + current_.data.size(); }

  static constexpr std::size_t max_event_bytes = 64 * 1024 * 1024;

 private:
  std::string line_;
  Event current_;
  bool has_data_ = false;
};

}  // namespace weights::api
