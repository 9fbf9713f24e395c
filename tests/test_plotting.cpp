// The plots (PLplot) and labelled montages (cairo) of apps/plotting, and
// the loss curve and log of apps/common/loss_plot.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <stdexcept>

#include "app_helpers.h"
#include "apps/common/loss_plot.h"
#include "apps/plotting/montage.h"
#include "apps/plotting/plot.h"

namespace {

bool near(const uint8_t* px, int r, int g, int b, int tolerance) {
  return std::abs(px[0] - r) + std::abs(px[1] - g) + std::abs(px[2] - b) <= tolerance;
}

// Pixels of this colour, give or take `tolerance` (the sum of the three
// differences): lines are antialiased, their cores keep the colour.
int64_t pixels_of(const imaging::Image& im, int r, int g, int b, int tolerance = 0) {
  int64_t n = 0;
  for (size_t i = 0; i + 2 < im.pixels.size(); i += 3) n += near(&im.pixels[i], r, g, b, tolerance);
  return n;
}

// tab10's blue and orange, the first two series' colours.
int64_t blue_pixels(const imaging::Image& im) { return pixels_of(im, 31, 119, 180, 30); }
int64_t orange_pixels(const imaging::Image& im) { return pixels_of(im, 255, 127, 14, 30); }

plotting::Panel line_panel(std::vector<double> y) {
  plotting::Panel p;
  p.title = "t";
  std::vector<double> x;
  for (size_t i = 0; i < y.size(); ++i) x.push_back(static_cast<double>(i));
  p.series.push_back({"", x, y});
  return p;
}

}  // namespace

TEST(Plot, DrawsEachSeriesInItsColourOnWhite) {
  plotting::Panel p = line_panel({1, 2, 3, 4});
  p.series.push_back({"second", {0, 1, 2, 3}, {4, 3, 2, 1}});
  const imaging::Image im = plotting::render({{p}, 1, 320, 200});
  ASSERT_EQ(im.width, 320);
  ASSERT_EQ(im.height, 200);
  ASSERT_EQ(im.channels, 3);
  EXPECT_GT(pixels_of(im, 255, 255, 255), 320 * 200 / 2);
  EXPECT_GT(blue_pixels(im), 100);    // the first line, about 250 pixels long
  EXPECT_GT(orange_pixels(im), 100);  // the second line and its legend entry
  const imaging::Image one = plotting::render({{line_panel({1, 2, 3, 4})}, 1, 320, 200});
  EXPECT_EQ(orange_pixels(one), 0);
}

TEST(Plot, LeavesOutPointsThatAreNotFinite) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  const int64_t whole = blue_pixels(plotting::render({{line_panel({1, 2, 3, 4, 5, 6})}}));
  const int64_t gapped = blue_pixels(plotting::render({{line_panel({1, 2, nan, 4, inf, 6})}}));
  EXPECT_GT(gapped, 0);
  EXPECT_LT(gapped, whole);
  plotting::Panel log_panel = line_panel({1, 0.1, -1, 0.001});
  log_panel.log_y = true;  // -1 has no logarithm: a gap, not an error
  EXPECT_GT(blue_pixels(plotting::render({{log_panel}})), 0);
}

TEST(Plot, RejectsWhatItCannotDraw) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  EXPECT_THROW(plotting::render(plotting::Figure{}), std::runtime_error);
  EXPECT_THROW(plotting::render({{line_panel({nan, nan})}}), std::runtime_error);
  EXPECT_THROW(plotting::render({{line_panel({1, 2})}, 1, 8, 200}), std::runtime_error);
  plotting::Panel ragged = line_panel({1, 2});
  ragged.series[0].y.push_back(3);
  EXPECT_THROW(plotting::render({{ragged}}), std::runtime_error);
  plotting::Panel negative = line_panel({-1, -2});
  negative.log_y = true;
  EXPECT_THROW(plotting::render({{negative}}), std::runtime_error);
}

TEST(Plot, LaysOutPanelsSideBySide) {
  plotting::Panel left = line_panel({1, 2, 3});
  plotting::Panel right = line_panel({3, 2, 1});
  right.series[0].color = 1;
  const imaging::Image im = plotting::render({{left, right}, 2, 600, 200});
  int64_t blue_left = 0, orange_right = 0, orange_left = 0;
  for (int64_t y = 0; y < im.height; ++y)
    for (int64_t x = 0; x < im.width; ++x) {
      const uint8_t* px = &im.pixels[(y * im.width + x) * 3];
      const bool blue = near(px, 31, 119, 180, 30), orange = near(px, 255, 127, 14, 30);
      blue_left += blue && x < 300;
      orange_left += orange && x < 300;
      orange_right += orange && x >= 300;
    }
  EXPECT_GT(blue_left, 50);
  EXPECT_GT(orange_right, 50);
  EXPECT_EQ(orange_left, 0);
}

TEST(Montage, DrawsEachPictureScaledInItsCell) {
  imaging::Image black{2, 2, 1, std::vector<uint8_t>(4, 0)};
  imaging::Image red{2, 2, 3, {255, 0, 0, 255, 0, 0, 255, 0, 0, 255, 0, 0}};
  plotting::Montage m;
  m.rows = {{black, red}, {red, black}};
  m.scale = 5;
  const imaging::Image im = plotting::render(m);
  EXPECT_EQ(pixels_of(im, 255, 0, 0), 2 * 10 * 10);  // two pictures, each 10x10 on screen
  EXPECT_EQ(pixels_of(im, 0, 0, 0), 2 * 10 * 10);
  m.column_labels = {"t = 0", "t = 1000"};
  m.row_labels = {"linear", "cosine"};
  m.title = "q(x_t | x_0)";
  const imaging::Image labelled = plotting::render(m);
  EXPECT_GT(labelled.width, im.width);    // room for the row labels
  EXPECT_GT(labelled.height, im.height);  // and for the title and column labels
  EXPECT_GT(pixels_of(labelled, 0, 0, 0, 300), 2 * 10 * 10 + 50);  // and dark text
}

TEST(Montage, RejectsMismatchedInput) {
  imaging::Image a{2, 2, 1, std::vector<uint8_t>(4, 0)};
  imaging::Image b{3, 2, 1, std::vector<uint8_t>(6, 0)};
  plotting::Montage m;
  EXPECT_THROW(plotting::render(m), std::runtime_error);
  m.rows = {{a, b}};
  EXPECT_THROW(plotting::render(m), std::runtime_error);
  m.rows = {{a, a}, {a}};
  EXPECT_THROW(plotting::render(m), std::runtime_error);
  m.rows = {{a, a}};
  m.column_labels = {"only one"};
  EXPECT_THROW(plotting::render(m), std::runtime_error);
}

TEST(LossPlot, ReadsTheLogItWritesAndCutsItAtAStep) {
  const apps::LossHistory h{{1, 2, 3}, {0.5, std::nan(""), 0.25}, {0.5, 0.5, 0.375}};
  const std::filesystem::path csv = std::filesystem::path(::testing::TempDir()) / "loss.csv";
  std::ofstream(csv) << apps::loss_csv_text(h);
  const apps::LossHistory all = apps::read_loss_csv(csv.string());
  ASSERT_EQ(all.step.size(), 3u);
  EXPECT_EQ(all.step[2], 3);
  EXPECT_TRUE(std::isnan(all.loss[1]));
  EXPECT_EQ(all.loss[2], 0.25);
  EXPECT_EQ(all.smoothed[2], 0.375);
  EXPECT_EQ(apps::read_loss_csv(csv.string(), 2).step.size(), 2u);
  std::ofstream(csv) << apps::loss_csv_text(h) << "4,0.1";  // torn by a kill
  EXPECT_EQ(apps::read_loss_csv(csv.string()).step.size(), 3u);
  std::ofstream(csv) << apps::loss_csv_text(h) << "4,0.1\n5";  // past the step asked for
  EXPECT_EQ(apps::read_loss_csv(csv.string(), 3).step.size(), 3u);
  std::ofstream(csv) << "";
  EXPECT_TRUE(apps::read_loss_csv(csv.string()).step.empty());
  std::ofstream(csv) << "step,loss\n1,0.5\n";
  EXPECT_THROW(apps::read_loss_csv(csv.string()), std::runtime_error);
  EXPECT_THROW(apps::read_loss_csv("/nonexistent/loss.csv"), std::runtime_error);
  std::ofstream(csv) << apps::kLossCsvHeader << "1,0.5\n";
  EXPECT_THROW(apps::read_loss_csv(csv.string()), std::runtime_error);
}

TEST(LossPlot, ShowsTheSmoothedLossOverTheRawOne) {
  apps::LossHistory h;
  for (int i = 1; i <= 200; ++i) {
    h.step.push_back(i);
    h.loss.push_back(1.0 / i * (i % 2 ? 1.5 : 0.5));
    h.smoothed.push_back(1.0 / i);
  }
  const imaging::Image im = apps::plot_loss(h);
  EXPECT_GT(blue_pixels(im), 200);  // the smoothed curve, in blue
  apps::LossHistory smoothed_only = h;
  smoothed_only.loss.assign(h.loss.size(), std::nan(""));
  const int64_t grey_without_raw = pixels_of(apps::plot_loss(smoothed_only), 127, 127, 127, 30);
  EXPECT_GT(pixels_of(im, 127, 127, 127, 30), grey_without_raw + 200);  // the raw losses, grey
  const imaging::Image empty = apps::plot_loss(apps::LossHistory{});    // axes only, no error
  EXPECT_EQ(empty.width, 800);
  EXPECT_LT(blue_pixels(empty), blue_pixels(im) / 2);  // the legend's sample line only
}

namespace {

using apps_test::png_size;
using apps_test::read;

int figures(const std::string& args, const std::filesystem::path& log) {
  return apps_test::run_exe(FIGURES_EXE, args, log);
}

}  // namespace

TEST(FiguresApp, DrawsEachPictureOfTheDocs) {
  namespace fs = std::filesystem;
  const fs::path data = apps_test::make_dataset("figures_data", 12);
  const fs::path run = fs::path(::testing::TempDir()) / "figures_run";
  const fs::path out = fs::path(::testing::TempDir()) / "figures_out", log = run.string() + ".log";
  fs::remove_all(run), fs::remove_all(out);
  const std::string args = "--data " + data.string() + " --out " + run.string() +
                           " --T 20 --batch 4 --sample-n 4 --sample-steps 2 --threads 1";
  ASSERT_EQ(apps_test::run_exe(TRAIN_MNIST_EXE, args + " --steps 2 --sample-every 1", log), 0)
      << read(log);
  ASSERT_EQ(figures("forward --data " + data.string() + " --index 3 --out " + out.string(), log), 0)
      << read(log);
  ASSERT_EQ(figures("schedules --out " + out.string(), log), 0) << read(log);
  ASSERT_EQ(figures("training --run " + run.string() + " --out " + out.string(), log), 0)
      << read(log);
  ASSERT_EQ(figures("loss --run " + run.string() + " --out " + out.string(), log), 0) << read(log);
  const auto [forward_w, forward_h] = png_size(out / "forward.png");  // 7 t x 2 schedules, 3x
  EXPECT_GT(forward_w, 7 * 84);
  EXPECT_GT(forward_h, 2 * 84);
  EXPECT_EQ(png_size(out / "schedules.png"), std::make_pair(1500, 450));
  const auto [training_w, training_h] = png_size(out / "training.png");  // grids of 2 x 2 cells
  EXPECT_GT(training_w, 2 * 62);
  EXPECT_GT(training_h, 62);
  EXPECT_EQ(png_size(out / "loss.png"), std::make_pair(800, 450));
  // Bad input: one line, a non-zero exit, nothing written.
  EXPECT_NE(figures("forward --data " + data.string() + " --index 12 --out " + out.string(), log),
            0);
  EXPECT_EQ(read(log), "figures: error: --index 12 outside the 12 test images\n");
  EXPECT_NE(figures("training --run " + data.string() + " --out " + out.string(), log), 0);
  EXPECT_EQ(
      read(log).rfind("figures: error: --run " + data.string() + ": no samples_<step>.png", 0), 0u)
      << read(log);
  EXPECT_NE(figures("loss --run " + data.string() + " --out " + out.string(), log), 0);
  EXPECT_EQ(read(log), "figures: error: " + (data / "loss.csv").string() +
                           ": cannot open: No such file or directory\n");
  EXPECT_NE(figures("", log), 0);
  EXPECT_EQ(read(log).rfind("figures: error:", 0), 0u) << read(log);
}

TEST(FiguresApp, TermsPlotsTheBoundOfEachModel) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::path(::testing::TempDir()) / "figures_terms", log = dir / "log.txt";
  fs::remove_all(dir);
  fs::create_directories(dir);
  const std::string header = "t,rate_bpd,distortion_rmse,next_term_bpd\n";
  std::ofstream(dir / "a.csv") << header << "3,0.0,9.0,0.01\n2,0.01,5.0,0.2\n1,0.21,1.0,1.5\n";
  std::ofstream(dir / "b.csv") << header << "3,0.0,9.0,0.02\n2,0.02,5.0,0.1\n1,0.12,1.0,1.2\n";
  std::ofstream(dir / "bad.csv") << "step,loss\n1,0.5\n";
  const std::string rd = "terms --rd " + (dir / "a.csv").string() + " --label fixed --rd " +
                         (dir / "b.csv").string() + " --label learned --out " + dir.string();
  ASSERT_EQ(figures(rd, log), 0) << read(log);
  EXPECT_EQ(png_size(dir / "vlb_terms.png"), std::make_pair(1400, 500));
  EXPECT_NE(figures("terms --rd " + (dir / "a.csv").string() + " --out " + dir.string(), log), 0);
  EXPECT_EQ(read(log).rfind("figures: error:", 0), 0u) << read(log);
  EXPECT_NE(figures("terms --rd " + (dir / "a.csv").string() + " --label a --rd " +
                        (dir / "b.csv").string() + " --label b --label c --out " + dir.string(),
                    log),
            0);
  EXPECT_EQ(read(log), "figures: error: give one --label for each --rd\n");
  EXPECT_NE(
      figures("terms --rd " + (dir / "bad.csv").string() + " --label x --out " + dir.string(), log),
      0);
  EXPECT_EQ(read(log), "figures: error: --rd " + (dir / "bad.csv").string() +
                           ": not an rd.csv of evaluate --nll --rd\n");
}
