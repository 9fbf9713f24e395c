// The programs of examples/, run as a reader runs them: autograd_example
// prints the numbers of docs/autograd.md's worked example, and toy2d's
// samples lie close to its data after training and far from it untrained.
#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "app_helpers.h"

namespace {

using namespace apps_test;
using Point = std::array<double, 2>;

// The x,y rows of a CSV file written by toy2d --csv.
std::vector<Point> read_points(const fs::path& p) {
  std::ifstream f(p);
  std::string line;
  std::getline(f, line);  // the header
  std::vector<Point> points;
  char comma;
  Point q;
  while (std::getline(f, line) && std::istringstream(line) >> q[0] >> comma >> q[1])
    points.push_back(q);
  return points;
}

double mean_distance(const std::vector<Point>& a, const std::vector<Point>& b) {
  double sum = 0;
  for (const Point& p : a)
    for (const Point& q : b) sum += std::hypot(p[0] - q[0], p[1] - q[1]);
  return sum / static_cast<double>(a.size() * b.size());
}

// The energy distance 2 E|X - Y| - E|X - X'| - E|Y - Y'| (Szekely & Rizzo):
// 0 exactly when X and Y have one distribution.
double energy_distance(const std::vector<Point>& x, const std::vector<Point>& y) {
  return 2 * mean_distance(x, y) - mean_distance(x, x) - mean_distance(y, y);
}

// toy2d trained for `steps` (0: untrained): the energy distance between its
// samples and as many fresh data points.
double toy2d_distance(int64_t steps) {
  const fs::path out = fs::path(::testing::TempDir()) / ("toy2d_steps_" + std::to_string(steps));
  const fs::path log = out.string() + ".log";
  EXPECT_EQ(
      run_exe(TOY2D_EXE,
              "--csv --seed 1 --steps " + std::to_string(steps) + " --out " + out.string(), log),
      0)
      << read(log);
  const std::vector<Point> samples = read_points(out / "samples.csv"),
                           data = read_points(out / "data.csv");
  EXPECT_EQ(samples.size(), 1000u);
  EXPECT_EQ(data.size(), 1000u);
  EXPECT_TRUE(fs::exists(out / "toy2d_forward.png"));
  EXPECT_TRUE(fs::exists(out / "toy2d_reverse.png"));
  const double d = energy_distance(samples, data);
  std::printf("toy2d --steps %lld: energy distance %.4f\n", static_cast<long long>(steps), d);
  return d;
}

}  // namespace

TEST(Examples, EnergyDistanceIsZeroOnlyForOneDistribution) {
  const std::vector<Point> a = {{0, 0}, {1, 0}}, b = {{0, 0}, {0, 1}};
  EXPECT_DOUBLE_EQ(energy_distance(a, a), 0.0);
  // 2 (0 + 1 + 1 + sqrt 2) / 4 - 1 / 2 - 1 / 2
  EXPECT_NEAR(energy_distance(a, b), (2 + std::sqrt(2.0)) / 2 - 1, 1e-12);
}

TEST(Examples, AutogradExamplePrintsTheDocsNumbers) {
  const fs::path log = fs::path(::testing::TempDir()) / "autograd_example.log";
  ASSERT_EQ(run_exe(AUTOGRAD_EXAMPLE_EXE, "", log), 0);
  const std::string out = read(log);
  const size_t second = out.find("second forward");
  ASSERT_NE(second, std::string::npos) << out;
  const std::string first_pass = out.substr(0, second), second_pass = out.substr(second);
  for (const char* line :
       {"z        = [0.500000, -2.000000]\n", "u        = [0.750000, -1.750000]\n",
        "t        = [0.635149, -0.941376]\n", "loss     = -0.306227\n",
        "w.grad() = [0.596586, 0.227624]\n", "b.grad() = 0.710398\n"})
    EXPECT_NE(first_pass.find(line), std::string::npos) << "missing " << line << "in\n" << out;
  for (const char* line :
       {"loss     = -0.306227\n", "w.grad() = [1.193172, 0.455248]\n", "b.grad() = 1.420796\n"})
    EXPECT_NE(second_pass.find(line), std::string::npos) << "missing " << line << "in\n" << out;
}

// On the 8 Gaussians, two draws of the data lie about 0.0004 apart and a ring
// of radius 2 (the circle without its 8 modes) about 0.018 from the data;
// 4000 steps bring the samples within 0.002 to 0.005 (seeds 0 to 2). An
// untrained MLP's samples end about 200 away: each of Algorithm 2's steps
// divides by sqrt(alpha_t), and its eps_theta takes none of the noise out.
TEST(Examples, Toy2dSamplesMatchTheDataOnlyAfterTraining) {
  EXPECT_GT(toy2d_distance(0), 1.0);
#ifdef __SANITIZE_ADDRESS__  // scripts/sanitize.sh: 4000 sanitized steps would take minutes;
  EXPECT_TRUE(std::isfinite(toy2d_distance(20)));  // 20 run every part of the program
#else
  EXPECT_LT(toy2d_distance(4000), 0.01);
#endif
}
