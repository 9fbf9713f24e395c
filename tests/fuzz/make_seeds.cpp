// Writes the seed corpora of the harnesses (tests/fuzz/corpus/<harness>/):
// a few small valid files of each kind, so that the fuzzers start from
// inputs that get past the first checks. Run once and committed:
//   build-fuzz/tests/fuzz/fuzz_make_seeds tests/fuzz/corpus
#include <zlib.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "autograd/ops.h"
#include "nn/checkpoint.h"
#include "tests/fuzz/fuzz_input.h"

namespace {

namespace fs = std::filesystem;
using Bytes = std::vector<uint8_t>;

void put_be32(Bytes& out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<uint8_t>(v >> shift));
}

Bytes idx_file(uint32_t magic, const std::vector<uint32_t>& dims) {
  Bytes out;
  put_be32(out, magic);
  size_t n = 1;
  for (uint32_t d : dims) put_be32(out, d), n *= d;
  for (size_t i = 0; i < n; ++i) out.push_back(static_cast<uint8_t>(i * 37 % 256));
  return out;
}

void write(const fs::path& path, const Bytes& bytes) {
  std::ofstream(path, std::ios::binary)
      .write(reinterpret_cast<const char*>(bytes.data()),
             static_cast<std::streamsize>(bytes.size()));
}

void write_gzip(const fs::path& path, const Bytes& bytes) {
  gzFile file = gzopen(path.c_str(), "wb9");
  gzwrite(file, bytes.data(), static_cast<unsigned>(bytes.size()));
  gzclose(file);
}

void idx_seeds(const fs::path& dir) {
  write(dir / "images_2x3x4", idx_file(0x803, {2, 3, 4}));
  write(dir / "labels_5", idx_file(0x801, {5}));
  write_gzip(dir / "images_1x4x4.gz", idx_file(0x803, {1, 4, 4}));
  write_gzip(dir / "labels_3.gz", idx_file(0x801, {3}));
}

// CIFAR-10 batches of one and two records (labels 3; 0 and 9).
void cifar10_seeds(const fs::path& dir) {
  const auto batch = [](const std::vector<uint8_t>& labels) {
    Bytes out;
    for (uint8_t label : labels) {
      out.push_back(label);
      for (size_t k = 0; k < 3072; ++k) out.push_back(static_cast<uint8_t>((k * 37 + label) % 256));
    }
    return out;
  };
  write(dir / "batch_1", batch({3}));
  write(dir / "batch_2", batch({0, 9}));
}

void safetensors_seeds(const fs::path& dir) {
  io::save_safetensors((dir / "empty").string(), {});
  io::save_safetensors((dir / "three_dtypes").string(),
                       {{"b", ag::from_vector(std::vector<float>{1, -2}, {2})},
                        {"a", ag::from_vector(std::vector<int32_t>{258}, {1, 1})},
                        {"c", ag::from_vector(std::vector<double>{0.5, 1, 2, 3}, {2, 2})}},
                       {{"k", "v"}});
  io::save_safetensors(
      (dir / "scalar_and_empty").string(),
      {{"s", ag::from_vector(std::vector<float>{3}, {})}, {"z", ag::zeros({0, 3})}});
}

void checkpoint_seeds(const fs::path& dir) {
  nn::UNet model(fuzz::tiny_config(), 0);
  nn::Adam optimizer(model.parameters());
  nn::EMA ema(model.named_parameters(), 0.999);
  ag::Generator data(7);
  data.set_state(7, 12);
  nn::TrainingState state{model, optimizer, ema, {{"data", &data}}, 3, {{"T", "20"}}};
  nn::save_training_checkpoint((dir / "tiny_step3").string(), state);
}

void unet_config_seeds(const fs::path& dir) {
  nn::UNetConfig two_levels = fuzz::tiny_config();
  two_levels.ch_mult = {1, 2};
  two_levels.resolution = 8;
  two_levels.num_groups = 2;
  two_levels.ch = 4;
  for (const auto& [name, c] : {std::pair{"tiny", fuzz::tiny_config()},
                                {"two_levels", two_levels},
                                {"preset_tiny", nn::unet_preset("tiny")}}) {
    const std::string text = nn::unet_config_to_json(c);
    write(dir / name, Bytes(text.begin(), text.end()));
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s <corpus dir>\n", argv[0]);
    return 2;
  }
  const fs::path root = argv[1];
  for (const char* h : {"idx", "cifar10", "safetensors", "checkpoint", "unet_config"})
    fs::create_directories(root / h);
  idx_seeds(root / "idx");
  cifar10_seeds(root / "cifar10");
  safetensors_seeds(root / "safetensors");
  checkpoint_seeds(root / "checkpoint");
  unet_config_seeds(root / "unet_config");
  return 0;
}
