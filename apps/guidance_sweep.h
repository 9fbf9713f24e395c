// evaluate --guidance-sweep: the scores of class-conditional samples against
// the guidance weight w, the quality/diversity trade-off of classifier-free
// guidance (Ho & Salimans 2022, Fig. 4), as a CSV table and a plot.
#pragma once
#include <string>
#include <vector>

#include "apps/imaging/image.h"
#include "apps/metrics/scores.h"

namespace apps {

struct SweepPoint {
  double w;
  metrics::Agreement agreement;
  double confidence, inception_score, frechet;
};

// "0,0.5,1,2,4": the weights, each a number in [0, 100] (as --guidance); a
// one-line error naming
// --guidance-sweep otherwise.
std::vector<double> parse_weights(const std::string& text);

// The lowest agreement of any class asked for.
double worst_class(const metrics::Agreement& a);

// One row per w: w, agreement, worst_class, confidence, inception_score,
// frechet, then the agreement of each class (agreement_0, ...).
void write_sweep_csv(const std::string& path, const std::vector<SweepPoint>& points);

// Two panels against w: the agreement (overall and of the worst class) and
// the Frechet distance.
imaging::Image plot_sweep(const std::vector<SweepPoint>& points);

}  // namespace apps
