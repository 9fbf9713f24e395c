// A one-line progress bar on stderr, redrawn in place (or printed every few
// seconds when stderr is not a terminal): count, bar, rate, ETA and an
// optional status text such as the smoothed loss. A total of 0 means
// open-ended (a time budget): count and rate without bar or ETA.
#pragma once
#include <chrono>
#include <cstdint>
#include <string>

namespace apps {

class ProgressBar {
 public:
  // `first`: the count already done when the bar starts (a resumed run), so
  // the rate and ETA count only what this bar sees done.
  ProgressBar(std::string label, int64_t total, std::string unit = "it", int64_t first = 0);
  // Shows `done` of total; `status` is printed after the rate.
  void update(int64_t done, const std::string& status = "");
  void finish(int64_t done, const std::string& status = "");  // final redraw and newline

 private:
  void draw(int64_t done, const std::string& status, bool final);
  std::string label_, unit_;
  int64_t total_, first_;
  bool tty_;
  std::chrono::steady_clock::time_point start_, last_draw_;
  int64_t last_done_ = -1;
};

// "1:02:03" or "2:03".
std::string format_duration(double seconds);

}  // namespace apps
