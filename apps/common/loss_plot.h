// The loss of a run as loss.csv holds it ("step,loss,smoothed_loss" lines)
// and as loss.png shows it: the loss of every step and its exponential
// moving average (Trainer's smoothed_loss), against the step, on a log axis.
#pragma once
#include <cstdint>
#include <limits>
#include <ostream>
#include <string>
#include <vector>

#include "apps/imaging/image.h"

namespace apps {

struct LossHistory {
  std::vector<double> step, loss, smoothed;
};

// The header of loss.csv.
constexpr const char* kLossCsvHeader = "step,loss,smoothed_loss\n";

// The rows of `csv` up to and including `last_step`, leaving out a torn last
// line (a killed run's); an empty file has none. Throws "<csv>: ..." when it
// cannot be read or is not a loss log.
LossHistory read_loss_csv(const std::string& csv,
                          int64_t last_step = std::numeric_limits<int64_t>::max());

// One row of loss.csv, as train_mnist appends it after each step.
void write_loss_row(std::ostream& out, int64_t step, double loss, double smoothed);

// The rows as loss.csv writes them, header first.
std::string loss_csv_text(const LossHistory& h);

// The plot of loss.png; steps whose loss is not finite (a diverging run)
// leave a gap, and with no such step at all the axes are drawn empty.
imaging::Image plot_loss(const LossHistory& h);

}  // namespace apps
