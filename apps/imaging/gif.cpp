#include "apps/imaging/gif.h"

#include <gif_lib.h>

#include <cstdint>
#include <stdexcept>

#include "io/atomic_file.h"

namespace imaging {
namespace {

int append(GifFileType* gif, const GifByteType* data, int size) {
  auto* out = static_cast<std::vector<uint8_t>*>(gif->UserData);
  out->insert(out->end(), data, data + size);
  return size;
}

// 256 greys, or the 3-3-2 bit colour cube for RGB frames.
std::vector<GifColorType> palette(int64_t channels) {
  std::vector<GifColorType> colours(256);
  for (int i = 0; i < 256; ++i) {
    const auto level = [](int v, int bits) { return static_cast<GifByteType>(v * 255 / ((1 << bits) - 1)); };
    colours[i] = channels == 1 ? GifColorType{static_cast<GifByteType>(i), static_cast<GifByteType>(i),
                                              static_cast<GifByteType>(i)}
                               : GifColorType{level(i >> 5, 3), level((i >> 2) & 7, 3), level(i & 3, 2)};
  }
  return colours;
}

// The frame's pixels as palette indices.
std::vector<GifByteType> indices(const Image& im) {
  std::vector<GifByteType> out(static_cast<size_t>(im.width * im.height));
  for (size_t p = 0; p < out.size(); ++p) {
    const uint8_t* px = &im.pixels[p * im.channels];
    out[p] = im.channels == 1 ? px[0]
                              : static_cast<GifByteType>((px[0] >> 5) << 5 | (px[1] >> 5) << 2 | px[2] >> 6);
  }
  return out;
}

// Thrown with giflib's reason for error code `code`.
[[noreturn]] void fail(const std::string& path, int code) {
  const char* why = GifErrorString(code);
  throw std::runtime_error(path + ": GIF encoding failed: " + (why ? why : "unknown error"));
}

class Encoder {
 public:
  Encoder(const std::string& path, std::vector<uint8_t>& out) : path_(path) {
    int code = 0;
    gif_ = EGifOpen(&out, append, &code);
    if (!gif_) fail(path_, code);
  }
  ~Encoder() {
    if (gif_) EGifCloseFile(gif_, nullptr);
  }
  Encoder(const Encoder&) = delete;
  Encoder& operator=(const Encoder&) = delete;
  GifFileType* get() { return gif_; }
  void check(int status) {
    if (status != GIF_OK) fail(path_, gif_->Error);
  }
  void close() {
    int code = 0;
    GifFileType* gif = gif_;
    gif_ = nullptr;
    if (EGifCloseFile(gif, &code) != GIF_OK) fail(path_, code);
  }

 private:
  std::string path_;
  GifFileType* gif_ = nullptr;
};

// The NETSCAPE2.0 application block: loop forever.
void put_loop_forever(Encoder& e) {
  static const GifByteType kApplication[] = "NETSCAPE2.0";
  static const GifByteType kLoops[] = {1, 0, 0};
  e.check(EGifPutExtensionLeader(e.get(), APPLICATION_EXT_FUNC_CODE));
  e.check(EGifPutExtensionBlock(e.get(), 11, kApplication));
  e.check(EGifPutExtensionBlock(e.get(), 3, kLoops));
  e.check(EGifPutExtensionTrailer(e.get()));
}

void put_frame(Encoder& e, const Image& im, int delay_cs) {
  GraphicsControlBlock gcb{DISPOSAL_UNSPECIFIED, false, delay_cs, NO_TRANSPARENT_COLOR};
  GifByteType extension[4];
  EGifGCBToExtension(&gcb, extension);
  e.check(EGifPutExtension(e.get(), GRAPHICS_EXT_FUNC_CODE, 4, extension));
  const int w = static_cast<int>(im.width), h = static_cast<int>(im.height);
  e.check(EGifPutImageDesc(e.get(), 0, 0, w, h, false, nullptr));
  std::vector<GifByteType> pixels = indices(im);
  for (int y = 0; y < h; ++y) e.check(EGifPutLine(e.get(), &pixels[static_cast<size_t>(y) * w], w));
}

}  // namespace

void write_gif(const std::string& path, const std::vector<Image>& frames, int delay_cs,
               int last_delay_cs) {
  if (frames.empty()) throw std::runtime_error(path + ": a GIF needs at least one frame");
  const Image& first = frames.front();
  for (const Image& f : frames)
    if (f.width != first.width || f.height != first.height || f.channels != first.channels ||
        (f.channels != 1 && f.channels != 3) || f.width > 65535 || f.height > 65535 ||
        f.pixels.size() != static_cast<size_t>(f.width * f.height * f.channels))
      throw std::runtime_error(path + ": GIF frames must share one size (at most 65535 a side) " +
                               "and have 1 or 3 channels");
  std::vector<uint8_t> encoded;
  {
    Encoder e(path, encoded);
    EGifSetGifVersion(e.get(), true);
    std::vector<GifColorType> colours = palette(first.channels);
    ColorMapObject* map = GifMakeMapObject(256, colours.data());
    const int status = EGifPutScreenDesc(e.get(), static_cast<int>(first.width),
                                         static_cast<int>(first.height), 8, 0, map);
    GifFreeMapObject(map);
    e.check(status);
    put_loop_forever(e);
    for (size_t i = 0; i < frames.size(); ++i)
      put_frame(e, frames[i], i + 1 == frames.size() ? last_delay_cs : delay_cs);
    e.close();
  }
  io::write_file_atomically(path, encoded.data(), encoded.size());
}

}  // namespace imaging
