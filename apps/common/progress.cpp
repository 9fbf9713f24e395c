#include "apps/common/progress.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>

namespace apps {

std::string format_duration(double seconds) {
  const int64_t s = static_cast<int64_t>(seconds + 0.5);
  char buf[32];
  if (s >= 3600)
    std::snprintf(buf, sizeof buf, "%ld:%02ld:%02ld", static_cast<long>(s / 3600),
                  static_cast<long>(s / 60 % 60), static_cast<long>(s % 60));
  else
    std::snprintf(buf, sizeof buf, "%ld:%02ld", static_cast<long>(s / 60),
                  static_cast<long>(s % 60));
  return buf;
}

ProgressBar::ProgressBar(std::string label, int64_t total, std::string unit, int64_t first)
    : label_(std::move(label)),
      unit_(std::move(unit)),
      total_(total),
      first_(first),
      tty_(isatty(fileno(stderr)) != 0),
      start_(std::chrono::steady_clock::now()),
      last_draw_(start_) {}

void ProgressBar::update(int64_t done, const std::string& status) {
  const auto now = std::chrono::steady_clock::now();
  const double since = std::chrono::duration<double>(now - last_draw_).count();
  if (done == last_done_ || since < (tty_ ? 0.2 : 10.0)) return;
  draw(done, status, false);
}

void ProgressBar::finish(int64_t done, const std::string& status) { draw(done, status, true); }

void ProgressBar::draw(int64_t done, const std::string& status, bool final) {
  const auto now = std::chrono::steady_clock::now();
  last_draw_ = now;
  last_done_ = done;
  const double elapsed = std::chrono::duration<double>(now - start_).count();
  const double rate = elapsed > 0 ? static_cast<double>(done - first_) / elapsed : 0.0;
  const char* clear = tty_ ? "\r\033[K" : "";
  const char* end = (final || !tty_) ? "\n" : "";
  const char* sep = status.empty() ? "" : " | ";
  if (total_ <= 0) {  // open-ended: no bar, no ETA
    std::fprintf(stderr, "%s%s %ld, %.2f %s/s, elapsed %s%s%s%s", clear, label_.c_str(),
                 static_cast<long>(done), rate, unit_.c_str(), format_duration(elapsed).c_str(),
                 sep, status.c_str(), end);
    std::fflush(stderr);
    return;
  }
  constexpr int kWidth = 24;
  const int filled = static_cast<int>(kWidth * std::min(done, total_) / total_);
  std::string bar(static_cast<size_t>(filled), '#');
  bar.resize(kWidth, '.');
  const std::string eta =
      rate > 0 && total_ > done ? format_duration((total_ - done) / rate) : "0:00";
  std::fprintf(stderr, "%s%s %ld/%ld [%s] %.2f %s/s, elapsed %s, ETA %s%s%s%s", clear,
               label_.c_str(), static_cast<long>(done), static_cast<long>(total_), bar.c_str(),
               rate, unit_.c_str(), format_duration(elapsed).c_str(), eta.c_str(), sep,
               status.c_str(), end);
  std::fflush(stderr);
}

}  // namespace apps
