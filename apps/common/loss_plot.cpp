#include "apps/common/loss_plot.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <sstream>
#include <stdexcept>

#include "apps/plotting/plot.h"

namespace apps {

namespace {

// The complete lines of `csv`: a run killed mid-write leaves a torn last line.
std::string complete_lines(const std::string& csv) {
  std::ifstream in(csv, std::ios::binary);
  if (!in) throw std::runtime_error(csv + ": cannot open: " + std::strerror(errno));
  const std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  const size_t end = text.rfind('\n');
  return end == std::string::npos ? std::string() : text.substr(0, end + 1);
}

}  // namespace

LossHistory read_loss_csv(const std::string& csv, int64_t last_step) {
  std::istringstream in(complete_lines(csv));
  LossHistory h;
  std::string line;
  if (!std::getline(in, line)) return h;  // a run killed before its first write
  if (line + "\n" != kLossCsvHeader)
    throw std::runtime_error(csv + ": not a loss log (its first line should be " +
                             "step,loss,smoothed_loss)");
  while (std::getline(in, line)) {
    long long step = 0;
    double loss = 0, smoothed = 0;
    char tail = 0;
    const int fields = std::sscanf(line.c_str(), "%lld,%lf,%lf%c", &step, &loss, &smoothed, &tail);
    if (fields >= 1 && step > last_step) break;
    if (fields != 3)
      throw std::runtime_error(csv + ": line " + std::to_string(h.step.size() + 2) +
                               " is not step,loss,smoothed_loss");
    h.step.push_back(static_cast<double>(step));
    h.loss.push_back(loss);
    h.smoothed.push_back(smoothed);
  }
  return h;
}

void write_loss_row(std::ostream& out, int64_t step, double loss, double smoothed) {
  out << step << ',' << loss << ',' << smoothed << '\n';
}

std::string loss_csv_text(const LossHistory& h) {
  std::ostringstream out;
  out << kLossCsvHeader;
  for (size_t i = 0; i < h.step.size(); ++i)
    write_loss_row(out, static_cast<int64_t>(h.step[i]), h.loss[i], h.smoothed[i]);
  return out.str();
}

imaging::Image plot_loss(const LossHistory& h) {
  plotting::Panel p;
  p.title = "Training loss";
  p.x_label = "step";
  p.y_label = "loss (log scale)";
  p.log_y = true;
  p.series.push_back({"loss of each step", h.step, h.loss, plotting::Style::kLine, 7});
  p.series.push_back(
      {"smoothed (moving average, weight 0.02)", h.step, h.smoothed, plotting::Style::kLine, 0});
  const auto drawable = [](double v) { return std::isfinite(v) && v > 0; };
  if (std::none_of(h.loss.begin(), h.loss.end(), drawable) &&
      std::none_of(h.smoothed.begin(), h.smoothed.end(), drawable)) {  // empty axes
    p.x_range = plotting::Range{0, h.step.empty() ? 1.0 : std::max(1.0, h.step.back())};
    p.y_range = plotting::Range{0.01, 1};
  }
  return plotting::render({{p}, 1, 800, 450});
}

}  // namespace apps
