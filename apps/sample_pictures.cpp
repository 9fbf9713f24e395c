#include "apps/sample_pictures.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>

#include "apps/imaging/gif.h"
#include "apps/imaging/image.h"
#include "apps/plotting/montage.h"
#include "autograd/ops.h"

namespace apps {
namespace {

imaging::Image picture(const ag::Tensor& images, int64_t i) {
  return imaging::make_grid(ag::slice(images, 0, i, i + 1), 1, 0);
}

// The mean of the three channels.
imaging::Image to_grey(const imaging::Image& rgb) {
  imaging::Image grey{rgb.width, rgb.height, 1, std::vector<uint8_t>(rgb.pixels.size() / 3)};
  for (size_t p = 0; p < grey.pixels.size(); ++p)
    grey.pixels[p] = static_cast<uint8_t>(
        (rgb.pixels[3 * p] + rgb.pixels[3 * p + 1] + rgb.pixels[3 * p + 2] + 1) / 3);
  return grey;
}

std::string t_label(int64_t index) { return "t = " + std::to_string(index + 1); }

// 0, 1/8, ..., 1 as fractions where they are eighths, else as decimals.
std::string lambda_label(double lambda) {
  char buf[32];
  const double eighths = lambda * 8;
  if (eighths == static_cast<int>(eighths) && lambda > 0 && lambda < 1) {
    int num = static_cast<int>(eighths), den = 8;
    while (num % 2 == 0) num /= 2, den /= 2;
    std::snprintf(buf, sizeof buf, "λ = %d/%d", num, den);
  } else {
    std::snprintf(buf, sizeof buf, "λ = %g", lambda);
  }
  return buf;
}

}  // namespace

std::vector<int64_t> evenly_spaced(const std::vector<int64_t>& order, int64_t k) {
  std::vector<int64_t> picked;
  const int64_t n = static_cast<int64_t>(order.size());
  for (int64_t j = 0; j < k && n > 0; ++j) {
    const int64_t at = k == 1 ? 0 : j * (n - 1) / (k - 1);
    if (picked.empty() || picked.back() != order[at]) picked.push_back(order[at]);
  }
  return picked;
}

void write_progression(const std::string& path, const std::vector<diffusion::Snapshot>& shots,
                       const std::vector<int64_t>& steps) {
  std::vector<const diffusion::Snapshot*> shown;
  for (const auto& s : shots)
    if (std::find(steps.begin(), steps.end(), s.t) != steps.end()) shown.push_back(&s);
  plotting::Montage m;
  m.title = "The reverse process: x_t and the x_0 predicted from it";
  m.scale = 2;
  for (const auto* s : shown) m.column_labels.push_back(t_label(s->t));
  const int64_t samples = std::min<int64_t>(4, shots.front().xt.size(0));
  for (int64_t i = 0; i < samples; ++i)
    for (const bool xt : {true, false}) {
      m.row_labels.push_back(xt ? "x_t" : "predicted x_0");
      m.rows.emplace_back();
      for (const auto* s : shown) m.rows.back().push_back(picture(xt ? s->xt : s->pred_x0, i));
    }
  imaging::write_png(path, plotting::render(m));
}

void write_labelled_rows(const std::string& path, const ag::Tensor& images,
                         const std::vector<std::string>& row_names) {
  plotting::Montage m;
  m.scale = 2;
  const int64_t per = images.size(0) / static_cast<int64_t>(row_names.size());
  const int64_t lines = (per + kMaxRowPictures - 1) / kMaxRowPictures;  // rows per label
  const int64_t cols = (per + lines - 1) / lines;
  const imaging::Image first = picture(images, 0);
  const imaging::Image blank{first.width, first.height, first.channels,
                             std::vector<uint8_t>(first.pixels.size(), 0)};
  for (size_t r = 0; r < row_names.size(); ++r)
    for (int64_t line = 0; line < lines; ++line) {
      m.row_labels.push_back(line == 0 ? row_names[r] : "");
      m.rows.emplace_back();
      for (int64_t j = line * cols; j < (line + 1) * cols; ++j)
        m.rows.back().push_back(j < per ? picture(images, static_cast<int64_t>(r) * per + j)
                                        : blank);
    }
  imaging::write_png(path, plotting::render(m));
}

void write_denoising_gif(const std::string& path, const std::vector<diffusion::Snapshot>& shots,
                         const std::vector<int64_t>& steps, const ag::Tensor& x0, int64_t cols) {
  std::vector<plotting::Montage> montages;
  auto frame = [&](const ag::Tensor& images, const std::string& title) {
    plotting::Montage m;
    m.title = title;
    m.scale = 2;
    m.rows = {{imaging::make_grid(images, cols)}};
    montages.push_back(m);
  };
  for (const auto& s : shots)
    if (std::find(steps.begin(), steps.end(), s.t) != steps.end())
      frame(s.xt, "x_t, " + t_label(s.t));
  frame(x0, "x_0: the samples");
  // A title wider than the grid widens its frame; every frame of a GIF takes
  // the widest one's width.
  int64_t width = 0;
  for (const auto& m : montages) width = std::max(width, plotting::render(m).width);
  std::vector<imaging::Image> frames;
  for (auto& m : montages) {
    m.min_width = width;
    const imaging::Image drawn = plotting::render(m);  // RGB, its text antialiased
    frames.push_back(x0.size(1) == 1 ? to_grey(drawn) : drawn);
  }
  imaging::write_gif(path, frames, 8, 200);
}

void write_interpolation(const std::string& path, const ag::Tensor& xa, const ag::Tensor& xb,
                         const ag::Tensor& mixed, const std::vector<double>& lambdas,
                         int64_t interp_t) {
  const int64_t pairs = xa.size(0), L = static_cast<int64_t>(lambdas.size());
  plotting::Montage m;
  m.title = "Interpolation in x_t, t = " + std::to_string(interp_t + 1) + ", then denoised";
  m.scale = 2;
  m.column_labels.push_back("x_a");
  for (double l : lambdas) m.column_labels.push_back(lambda_label(l));
  m.column_labels.push_back("x_b");
  for (int64_t p = 0; p < pairs; ++p) {
    m.rows.emplace_back();
    m.rows.back().push_back(picture(xa, p));
    for (int64_t l = 0; l < L; ++l) m.rows.back().push_back(picture(mixed, l * pairs + p));
    m.rows.back().push_back(picture(xb, p));
  }
  imaging::write_png(path, plotting::render(m));
}

void write_png_dir(const std::string& dir, const ag::Tensor& images) {
  for (int64_t i = 0; i < images.size(0); ++i) {
    char name[32];
    std::snprintf(name, sizeof name, "sample_%05ld.png", static_cast<long>(i));
    imaging::write_png((std::filesystem::path(dir) / name).string(), picture(images, i));
  }
}

}  // namespace apps
