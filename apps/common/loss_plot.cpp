#include "apps/common/loss_plot.h"

#include <cstdio>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "apps/plotting/plot.h"

namespace apps {

LossHistory read_loss_csv(const std::string& csv, int64_t last_step) {
  std::ifstream in(csv);
  std::string line;
  if (!in || !std::getline(in, line) || line + "\n" != kLossCsvHeader)
    throw std::runtime_error(csv + ": not a loss log (its first line should be " +
                             "step,loss,smoothed_loss)");
  LossHistory h;
  while (std::getline(in, line)) {
    long long step = 0;
    double loss = 0, smoothed = 0;
    char tail = 0;
    if (std::sscanf(line.c_str(), "%lld,%lf,%lf%c", &step, &loss, &smoothed, &tail) != 3)
      throw std::runtime_error(csv + ": line " + std::to_string(h.step.size() + 2) +
                               " is not step,loss,smoothed_loss");
    if (step > last_step) break;
    h.step.push_back(static_cast<double>(step));
    h.loss.push_back(loss);
    h.smoothed.push_back(smoothed);
  }
  return h;
}

std::string loss_csv_text(const LossHistory& h) {
  std::ostringstream out;
  out.precision(9);
  out << kLossCsvHeader;
  for (size_t i = 0; i < h.step.size(); ++i)
    out << static_cast<long long>(h.step[i]) << ',' << h.loss[i] << ',' << h.smoothed[i] << '\n';
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
  return plotting::render({{p}, 1, 800, 450});
}

}  // namespace apps
