#include "apps/guidance_sweep.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>
#include <stdexcept>

#include "apps/plotting/plot.h"
#include "io/atomic_file.h"

namespace apps {

std::vector<double> parse_weights(const std::string& text) {
  std::vector<double> ws;
  std::stringstream items(text);
  std::string item;
  while (std::getline(items, item, ',')) {
    size_t used = 0;
    double w = NAN;
    try {
      w = std::stod(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (item.empty() || used != item.size() || !(w >= 0 && w <= 100))
      throw std::runtime_error("--guidance-sweep: '" + item +
                               "' is not a guidance weight in [0, 100] (give e.g. 0,0.5,1,2,4)");
    ws.push_back(w);
  }
  if (ws.empty() || text.back() == ',')
    throw std::runtime_error("--guidance-sweep: '" + text + "' is not a list of weights");
  return ws;
}

double worst_class(const metrics::Agreement& a) {
  double worst = 1.0;
  for (double v : a.per_class)
    if (!std::isnan(v)) worst = std::min(worst, v);
  return worst;
}

void write_sweep_csv(const std::string& path, const std::vector<SweepPoint>& points) {
  std::string csv = "w,agreement,worst_class,confidence,inception_score,frechet";
  const size_t k = points.front().agreement.per_class.size();
  for (size_t c = 0; c < k; ++c) csv += ",agreement_" + std::to_string(c);
  csv += "\n";
  char cell[256];
  for (const SweepPoint& p : points) {
    std::snprintf(cell, sizeof cell, "%g,%.4f,%.4f,%.4f,%.4f,%.4f", p.w, p.agreement.overall,
                  worst_class(p.agreement), p.confidence, p.inception_score, p.frechet);
    csv += cell;
    for (double v : p.agreement.per_class) {
      std::snprintf(cell, sizeof cell, ",%.4f", v);
      csv += cell;
    }
    csv += "\n";
  }
  io::write_file_atomically(path, csv.data(), csv.size());
}

imaging::Image plot_sweep(const std::vector<SweepPoint>& points) {
  std::vector<double> w, overall, worst, frechet;
  for (const SweepPoint& p : points) {
    w.push_back(p.w);
    overall.push_back(p.agreement.overall);
    worst.push_back(worst_class(p.agreement));
    frechet.push_back(p.frechet);
  }
  plotting::Panel agreement;
  agreement.title = "Agreement with the asked label";
  agreement.x_label = "guidance weight w";
  agreement.y_label = "fraction classified as asked";
  agreement.series = {{"all samples", w, overall}, {"worst class", w, worst}};
  agreement.legend = plotting::Corner::kBottomRight;
  plotting::Panel distance;
  distance.title = "Frechet distance to test images";
  distance.x_label = "guidance weight w";
  distance.y_label = "Frechet distance (classifier features)";
  distance.series = {{"", w, frechet, plotting::Style::kLine, 2}};
  return plotting::render({{agreement, distance}, 2, 1100, 450});
}

}  // namespace apps
