// A folder of small colour pictures to train on in minutes: each a disc or a
// square of one bright colour on a background of one darker colour, at a
// random place and size. `train_mnist --data DIR` takes the folder as it
// would take a folder of a user's own photos (docs/own_images.md).
//
//     build/examples/shapes --out data/shapes -n 2000
#include <CLI/CLI.hpp>
#include <array>
#include <cmath>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "apps/imaging/image.h"

namespace {

namespace fs = std::filesystem;

struct Options {
  std::string out;
  int64_t n = 2000, size = 32;
  uint64_t seed = 0;
};

using Rgb = std::array<double, 3>;

// Uniform in [lo, hi): from the engine's bits directly, so that a seed gives
// the same pictures with every standard library.
double uniform(std::mt19937_64& rng, double lo, double hi) {
  return lo + (hi - lo) * static_cast<double>(rng() >> 11) * 0x1.0p-53;
}

Rgb colour(std::mt19937_64& rng, double lo, double hi) {
  return {uniform(rng, lo, hi), uniform(rng, lo, hi), uniform(rng, lo, hi)};
}

struct Shape {
  bool disc;
  double cx, cy, r;  // centre and radius (half the side of a square), in pixels
  bool covers(double x, double y) const {
    return disc ? std::hypot(x - cx, y - cy) <= r : std::abs(x - cx) <= r && std::abs(y - cy) <= r;
  }
};

// How much of pixel (x, y) the shape covers, from 4x4 points inside it, so
// edges are smooth as in a photograph rather than jagged.
double coverage(const Shape& s, int64_t x, int64_t y) {
  int inside = 0;
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 4; ++j) inside += s.covers(x + (i + 0.5) / 4, y + (j + 0.5) / 4);
  return inside / 16.0;
}

imaging::Image picture(std::mt19937_64& rng, int64_t size) {
  const Rgb back = colour(rng, 0.0, 0.45), front = colour(rng, 0.55, 1.0);
  const double r = uniform(rng, 0.15, 0.35) * static_cast<double>(size);
  const Shape s{uniform(rng, 0, 1) < 0.5, uniform(rng, r, static_cast<double>(size) - r),
                uniform(rng, r, static_cast<double>(size) - r), r};
  imaging::Image im{size, size, 3, std::vector<uint8_t>(static_cast<size_t>(size * size * 3))};
  for (int64_t y = 0; y < size; ++y)
    for (int64_t x = 0; x < size; ++x) {
      const double a = coverage(s, x, y);
      for (int c = 0; c < 3; ++c)
        im.pixels[static_cast<size_t>((y * size + x) * 3 + c)] =
            static_cast<uint8_t>(std::lround(255 * (a * front[c] + (1 - a) * back[c])));
    }
  return im;
}

int run(const Options& o) {
  std::error_code ec;
  fs::create_directories(o.out, ec);
  if (!fs::is_directory(o.out))
    throw std::runtime_error("--out " + o.out + ": cannot create the folder");
  std::mt19937_64 rng(o.seed);
  for (int64_t i = 0; i < o.n; ++i) {
    char name[32];
    std::snprintf(name, sizeof name, "shape_%05ld.png", static_cast<long>(i));
    imaging::write_png((fs::path(o.out) / name).string(), picture(rng, o.size));
  }
  std::printf("[shapes] %ld pictures of %ldx%ld in %s\n", static_cast<long>(o.n),
              static_cast<long>(o.size), static_cast<long>(o.size), o.out.c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Write a folder of colour pictures of discs and squares to train a DDPM on."};
  Options o;
  app.add_option("--out", o.out, "folder to write shape_<i>.png into")->required();
  app.add_option("-n", o.n, "pictures")->check(CLI::Range(1, 100000))->capture_default_str();
  app.add_option("--size", o.size, "side in pixels")
      ->check(CLI::Range(8, 1024))
      ->capture_default_str();
  app.add_option("--seed", o.seed, "seed of the colours, places and sizes")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  try {
    return run(o);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "shapes: error: %s\n", e.what());
    return 1;
  }
}
