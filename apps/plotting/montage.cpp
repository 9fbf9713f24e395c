#include "apps/plotting/montage.h"

#include <cairo.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <stdexcept>

namespace plotting {
namespace {

constexpr double kFontSize = 14, kGap = 6, kMargin = 8;

void check(const Montage& m) {
  if (m.rows.empty() || m.rows[0].empty()) throw std::runtime_error("montage: no pictures");
  const imaging::Image& first = m.rows[0][0];
  for (const auto& row : m.rows) {
    if (row.size() != m.rows[0].size())
      throw std::runtime_error("montage: rows of " + std::to_string(m.rows[0].size()) + " and " +
                               std::to_string(row.size()) + " pictures");
    for (const imaging::Image& im : row)
      if (im.width != first.width || im.height != first.height ||
          (im.channels != 1 && im.channels != 3) ||
          im.pixels.size() != static_cast<size_t>(im.width * im.height * im.channels))
        throw std::runtime_error("montage: pictures of different sizes or channel counts");
  }
  if (!m.column_labels.empty() && m.column_labels.size() != m.rows[0].size())
    throw std::runtime_error("montage: " + std::to_string(m.column_labels.size()) +
                             " column labels for " + std::to_string(m.rows[0].size()) + " columns");
  if (!m.row_labels.empty() && m.row_labels.size() != m.rows.size())
    throw std::runtime_error("montage: " + std::to_string(m.row_labels.size()) +
                             " row labels for " + std::to_string(m.rows.size()) + " rows");
  if (m.scale < 1 || m.scale > 64) throw std::runtime_error("montage: scale must be 1 to 64");
}

using Surface = std::unique_ptr<cairo_surface_t, decltype(&cairo_surface_destroy)>;
using Context = std::unique_ptr<cairo_t, decltype(&cairo_destroy)>;

Context context_on(cairo_surface_t* s) {
  Context cr(cairo_create(s), cairo_destroy);
  cairo_select_font_face(cr.get(), "sans-serif", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
  cairo_set_font_size(cr.get(), kFontSize);
  return cr;
}

double text_width(cairo_t* cr, const std::string& text) {
  cairo_text_extents_t e;
  cairo_text_extents(cr, text.c_str(), &e);
  return e.x_advance;
}

// `text` with its centre at x, its baseline at y.
void centred_text(cairo_t* cr, const std::string& text, double x, double y) {
  cairo_move_to(cr, x - text_width(cr, text) / 2, y);
  cairo_show_text(cr, text.c_str());
}

// An RGB image surface of that size, or a one-line error (cairo draws at
// most 32767 pixels a side).
Surface checked_surface(int64_t width, int64_t height) {
  if (width > 32767 || height > 32767)
    throw std::runtime_error("montage: " + std::to_string(width) + "x" + std::to_string(height) +
                             " pixels is larger than cairo draws (32767 a side)");
  Surface s(cairo_image_surface_create(CAIRO_FORMAT_RGB24, static_cast<int>(width),
                                       static_cast<int>(height)),
            cairo_surface_destroy);
  if (cairo_surface_status(s.get()) != CAIRO_STATUS_SUCCESS)
    throw std::runtime_error(std::string("montage: ") +
                             cairo_status_to_string(cairo_surface_status(s.get())));
  return s;
}

// The picture as a cairo image surface (premultiplied xRGB, opaque).
Surface surface_of(const imaging::Image& im) {
  Surface s = checked_surface(im.width, im.height);
  cairo_surface_flush(s.get());
  uint8_t* data = cairo_image_surface_get_data(s.get());
  const int stride = cairo_image_surface_get_stride(s.get());
  for (int64_t y = 0; y < im.height; ++y)
    for (int64_t x = 0; x < im.width; ++x) {
      const uint8_t* px = &im.pixels[(y * im.width + x) * im.channels];
      const uint32_t r = px[0], g = px[im.channels == 3 ? 1 : 0], b = px[im.channels == 3 ? 2 : 0];
      reinterpret_cast<uint32_t*>(data + y * stride)[x] = (r << 16) | (g << 8) | b;
    }
  cairo_surface_mark_dirty(s.get());
  return s;
}

imaging::Image image_of(cairo_surface_t* s) {
  cairo_surface_flush(s);
  const int w = cairo_image_surface_get_width(s), h = cairo_image_surface_get_height(s);
  const int stride = cairo_image_surface_get_stride(s);
  const uint8_t* data = cairo_image_surface_get_data(s);
  imaging::Image im{w, h, 3, std::vector<uint8_t>(static_cast<size_t>(w) * h * 3)};
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      const uint32_t v = reinterpret_cast<const uint32_t*>(data + y * stride)[x];
      uint8_t* out = &im.pixels[(static_cast<size_t>(y) * w + x) * 3];
      out[0] = (v >> 16) & 255, out[1] = (v >> 8) & 255, out[2] = v & 255;
    }
  return im;
}

}  // namespace

imaging::Image render(const Montage& m) {
  check(m);
  const double cell_w = static_cast<double>(m.rows[0][0].width * m.scale);
  const double cell_h = static_cast<double>(m.rows[0][0].height * m.scale);
  Surface probe(cairo_image_surface_create(CAIRO_FORMAT_RGB24, 1, 1), cairo_surface_destroy);
  Context measure = context_on(probe.get());
  double label_w = 0, widest_column_label = 0;
  for (const std::string& l : m.row_labels)
    label_w = std::max(label_w, text_width(measure.get(), l) + kGap);
  for (const std::string& l : m.column_labels)
    widest_column_label = std::max(widest_column_label, text_width(measure.get(), l));
  const double col_w = std::max(cell_w, widest_column_label) + kGap;
  const double top = kMargin + (m.title.empty() ? 0 : kFontSize * 1.6) +
                     (m.column_labels.empty() ? 0 : kFontSize * 1.4);
  const size_t cols = m.rows[0].size();
  const double title_w = m.title.empty() ? 0 : text_width(measure.get(), m.title);
  const int width = static_cast<int>(
      std::ceil(std::max({2 * kMargin + label_w + cols * col_w - kGap, 2 * kMargin + title_w,
                          static_cast<double>(m.min_width)})));
  const int height =
      static_cast<int>(std::ceil(top + m.rows.size() * (cell_h + kGap) - kGap + kMargin));

  Surface canvas = checked_surface(width, height);
  Context cr = context_on(canvas.get());
  cairo_set_source_rgb(cr.get(), 1, 1, 1);
  cairo_paint(cr.get());
  cairo_set_source_rgb(cr.get(), 0, 0, 0);
  if (!m.title.empty()) centred_text(cr.get(), m.title, width / 2.0, kMargin + kFontSize);
  const double x0 = kMargin + label_w;
  for (size_t c = 0; c < m.column_labels.size(); ++c)
    centred_text(cr.get(), m.column_labels[c], x0 + c * col_w + (col_w - kGap) / 2,
                 top - kFontSize * 0.4);
  for (size_t r = 0; r < m.rows.size(); ++r) {
    const double y = top + r * (cell_h + kGap);
    if (!m.row_labels.empty()) {
      cairo_set_source_rgb(cr.get(), 0, 0, 0);
      cairo_move_to(cr.get(), kMargin, y + cell_h / 2 + kFontSize * 0.35);
      cairo_show_text(cr.get(), m.row_labels[r].c_str());
    }
    for (size_t c = 0; c < cols; ++c) {
      Surface picture = surface_of(m.rows[r][c]);
      cairo_save(cr.get());
      cairo_translate(cr.get(), x0 + c * col_w + (col_w - kGap - cell_w) / 2, y);
      cairo_scale(cr.get(), static_cast<double>(m.scale), static_cast<double>(m.scale));
      cairo_set_source_surface(cr.get(), picture.get(), 0, 0);
      cairo_pattern_set_filter(cairo_get_source(cr.get()), CAIRO_FILTER_NEAREST);
      cairo_paint(cr.get());
      cairo_restore(cr.get());
    }
  }
  return image_of(canvas.get());
}

}  // namespace plotting
