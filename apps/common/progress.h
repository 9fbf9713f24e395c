// A one-line progress bar on stderr, redrawn in place (or printed every few
// seconds when stderr is not a terminal): count, bar, rate, ETA and an
// optional status text such as the smoothed loss. A total of 0 means
// open-ended: count and rate without a bar. The ETA is the time to the total
// at the rate so far, or to the time limit, whichever comes first; a line
// with neither shows none.
#pragma once
#include <chrono>
#include <cstdint>
#include <string>

namespace apps {

class ProgressBar {
 public:
  // `first`: the count already done when the bar starts (a resumed run), so
  // the rate and ETA count only what this bar sees done. `time_limit_s`: the
  // seconds the work may take from now (a --minutes budget; 0: none).
  ProgressBar(std::string label, int64_t total, std::string unit = "it", int64_t first = 0,
              double time_limit_s = 0);
  // True when update() would draw now: callers can skip building a status.
  bool due() const;
  // Shows `done` of total; `status` is printed after the rate.
  void update(int64_t done, const std::string& status = "");
  void finish(int64_t done, const std::string& status = "");  // final redraw and newline

 private:
  void draw(int64_t done, const std::string& status, bool final);
  std::string label_, unit_;
  int64_t total_, first_;
  double time_limit_s_;
  bool tty_;
  std::chrono::steady_clock::time_point start_, last_draw_;
  int64_t last_done_ = -1;
};

// What the bar shows at one moment, without the redraw's control codes.
struct ProgressState {
  std::string label, unit, status;
  int64_t done = 0, total = 0, first = 0;
  double elapsed_s = 0, time_limit_s = 0;
};
// "<label> 5/10 [###...] 2.50 step/s, elapsed 0:02, ETA 0:02 | <status>",
// or "<label> 5, 2.50 step/s, ..." when open-ended, and without ETA when it has
// neither a total nor a time limit.
std::string progress_text(const ProgressState& s);
// Seconds to the total at the rate so far or to the time limit, whichever is
// sooner (0 once either is reached); negative when neither is set.
double remaining_seconds(const ProgressState& s);

// "1:02:03" or "2:03".
std::string format_duration(double seconds);

}  // namespace apps
