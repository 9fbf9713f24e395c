#include "apps/common/progress.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>

#include "autograd/distributed.h"

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

namespace {

double rate_of(const ProgressState& s) {
  return s.elapsed_s > 0 ? static_cast<double>(s.done - s.first) / s.elapsed_s : 0.0;
}

}  // namespace

double remaining_seconds(const ProgressState& s) {
  double left = -1;
  if (s.total > 0) {
    const double rate = rate_of(s);
    left = s.done >= s.total ? 0.0 : rate > 0 ? (s.total - s.done) / rate : -1;
  }
  if (s.time_limit_s > 0) {
    const double budget = std::max(0.0, s.time_limit_s - s.elapsed_s);
    left = left < 0 ? budget : std::min(left, budget);
  }
  return left;
}

std::string progress_text(const ProgressState& s) {
  char buf[160];
  std::string line = s.label + " " + std::to_string(s.done);
  if (s.total > 0) {
    constexpr int kWidth = 24;
    const int filled = static_cast<int>(kWidth * std::min(s.done, s.total) / s.total);
    std::string bar(static_cast<size_t>(filled), '#');
    bar.resize(kWidth, '.');
    line += "/" + std::to_string(s.total) + " [" + bar + "]";
  } else {
    line += ",";
  }
  std::snprintf(buf, sizeof buf, " %.2f %s/s, elapsed %s", rate_of(s), s.unit.c_str(),
                format_duration(s.elapsed_s).c_str());
  line += buf;
  const double left = remaining_seconds(s);
  if (left >= 0) line += ", ETA " + format_duration(left);
  if (!s.status.empty()) line += " | " + s.status;
  return line;
}

ProgressBar::ProgressBar(std::string label, int64_t total, std::string unit, int64_t first,
                         double time_limit_s)
    : label_(std::move(label)),
      unit_(std::move(unit)),
      total_(total),
      first_(first),
      time_limit_s_(time_limit_s),
      tty_(isatty(fileno(stderr)) != 0),
      start_(std::chrono::steady_clock::now()),
      last_draw_(start_) {}

bool ProgressBar::due() const {
  const double since =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - last_draw_).count();
  return since >= (tty_ ? 0.2 : 10.0);
}

void ProgressBar::update(int64_t done, const std::string& status) {
  if (done == last_done_ || !due()) return;
  draw(done, status, false);
}

void ProgressBar::finish(int64_t done, const std::string& status) { draw(done, status, true); }

void ProgressBar::draw(int64_t done, const std::string& status, bool final) {
  if (!ag::dist::is_main()) return;  // one line for a data-parallel run: rank 0's
  const auto now = std::chrono::steady_clock::now();
  last_draw_ = now;
  last_done_ = done;
  const ProgressState s{label_,
                        unit_,
                        status,
                        done,
                        total_,
                        first_,
                        std::chrono::duration<double>(now - start_).count(),
                        time_limit_s_};
  std::fprintf(stderr, "%s%s%s", tty_ ? "\r\033[K" : "", progress_text(s).c_str(),
               (final || !tty_) ? "\n" : "");
  std::fflush(stderr);
}

}  // namespace apps
