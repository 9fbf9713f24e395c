// Class-conditional DDPM with classifier-free guidance through the programs:
// label dropout's rate, --label's grammar, train_mnist --cond's checkpoint
// and exact resume, sample --label's grid and labels, evaluate's agreement
// with the asked label (on samples whose answer is known) and its guidance
// sweep, and the one-line errors of each.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "app_helpers.h"
#include "apps/common/conditioning.h"
#include "apps/common/training.h"
#include "apps/dataset/dataset.h"
#include "apps/imaging/image.h"
#include "apps/metrics/scores.h"
#include "io/safetensors.h"
#include "nn/checkpoint.h"
#include "nn/unet.h"

namespace conditional_apps_test {

using namespace apps_test;

fs::path empty_dir(const std::string& name) {
  const fs::path dir = fs::path(::testing::TempDir()) / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

// Exit code 1 and the error as the last line a program printed (train_mnist
// says which data it loads first).
void expect_error(const char* exe, const std::string& args, const fs::path& log,
                  const std::string& message) {
  EXPECT_EQ(run_exe(exe, args, log), 1) << args;
  const std::string s = read(log);
  const size_t last = s.rfind('\n', s.size() >= 2 ? s.size() - 2 : 0);
  EXPECT_EQ(last == std::string::npos ? s : s.substr(last + 1), message) << args;
}

TEST(LabelDropout, DropsEachLabelWithProbabilityPUncond) {
  ag::Generator gen(7);
  std::vector<int32_t> labels(100000);
  for (size_t i = 0; i < labels.size(); ++i) labels[i] = static_cast<int32_t>(i % 10);
  const std::vector<int32_t> dropped = apps::drop_labels(labels, 0.1, 10, gen);
  int64_t nulls = 0;
  for (size_t i = 0; i < labels.size(); ++i) {
    if (dropped[i] == 10) {
      ++nulls;
    } else {
      ASSERT_EQ(dropped[i], labels[i]) << i;  // kept labels are the data's
    }
  }
  // Binomial(1e5, 0.1): standard deviation 95; 5 of them either side.
  EXPECT_NEAR(static_cast<double>(nulls), 10000.0, 475.0);
  EXPECT_EQ(apps::drop_labels(labels, 0.0, 10, gen), labels);
  EXPECT_EQ(apps::drop_labels({1, 2, 3}, 1.0, 10, gen), (std::vector<int32_t>{10, 10, 10}));
}

TEST(LabelFlags, ParseCountAndName) {
  EXPECT_EQ(apps::parse_labels("7", 10), (std::vector<int32_t>{7}));
  EXPECT_EQ(apps::parse_labels("0,3,7", 10), (std::vector<int32_t>{0, 3, 7}));
  EXPECT_EQ(apps::parse_labels("all", 3), (std::vector<int32_t>{0, 1, 2}));
  const std::pair<const char*, const char*> bad[] = {
      {"10", "--label 10 is not a class of this checkpoint, which has 10 (0 to 9)"},
      {"-1", "--label: '-1' is not a class label (give 7, 0,3,7 or all)"},
      {"x", "--label: 'x' is not a class label (give 7, 0,3,7 or all)"},
      {"1,,2", "--label: '' is not a class label (give 7, 0,3,7 or all)"},
      {"1,", "--label: '1,' is not a list of labels (give 7, 0,3,7 or all)"},
      {"3.5", "--label: '3.5' is not a class label (give 7, 0,3,7 or all)"}};
  for (const auto& [text, message] : bad) {
    try {
      apps::parse_labels(text, 10);
      ADD_FAILURE() << text << " was accepted";
    } catch (const std::runtime_error& e) {
      EXPECT_EQ(std::string(e.what()), message) << text;
    }
  }
  EXPECT_THROW(apps::parse_labels("7", 0), std::runtime_error);
  EXPECT_EQ(apps::per_label(20, {0, 1}, "0,1"), 10);
  EXPECT_THROW(apps::per_label(7, {0, 1}, "0,1"), std::runtime_error);
  EXPECT_EQ(apps::repeat_each({4, 2}, 3), (std::vector<int32_t>{4, 4, 4, 2, 2, 2}));
  EXPECT_EQ(apps::class_name("fashion", 0), "T-shirt/top");
  EXPECT_EQ(apps::class_name("fashion", 9), "Ankle boot");
  EXPECT_EQ(apps::class_name("mnist", 7), "7");
}

TEST(LabelAgreement, CountsArgmaxesThatMatchTheAskedLabel) {
  // Four images of 3 classes: argmaxes 0, 1, 1, 2 for asked labels 0, 1, 0, 0.
  const std::vector<double> probs = {0.8, 0.1, 0.1, 0.2, 0.7, 0.1, 0.3, 0.6, 0.1, 0.1, 0.2, 0.7};
  const metrics::Agreement a = metrics::label_agreement(probs, {0, 1, 0, 0}, 3);
  EXPECT_DOUBLE_EQ(a.overall, 0.5);
  EXPECT_DOUBLE_EQ(a.per_class[0], 1.0 / 3.0);
  EXPECT_DOUBLE_EQ(a.per_class[1], 1.0);
  EXPECT_TRUE(std::isnan(a.per_class[2]));  // nobody asked for class 2
  EXPECT_EQ(a.asked, (std::vector<int64_t>{3, 1, 0}));
  EXPECT_THROW(metrics::label_agreement(probs, {0, 1, 0}, 3), std::runtime_error);
  EXPECT_THROW(metrics::label_agreement(probs, {0, 1, 0, 3}, 3), std::runtime_error);
}

// The programs' denoiser for labels and w is (1 + w) eps(x, t, y) - w eps(x,
// t, no label) of the very model, and the model alone without labels.
TEST(ConditionalDenoiser, GuidesTheModelTowardsItsLabels) {
  nn::UNetConfig c = nn::unet_preset("tiny", 1, 28);
  c.num_classes = 10;
  nn::UNet model(c, 3);
  model.eval();
  ag::Generator gen(5);
  // The last convolution of each block and of the network start at zero (as
  // the paper's), so a fresh model ignores t and y: perturb every weight, so
  // that the output clearly depends on the input and the label.
  {
    ag::NoGradGuard no_grad;
    for (const ag::Tensor& p : model.parameters())
      p.copy_(p + ag::randn(p.shape(), &gen) * 0.05);
  }
  const ag::Tensor x = ag::randn({2, 1, 28, 28}, &gen);
  const ag::Tensor t = ag::from_vector(std::vector<int32_t>{10, 700}, {2});
  auto eps = [&](std::vector<int32_t> y) {
    return model.forward(x, t, ag::from_vector(y, {2})).to_vector<float>();
  };
  const std::vector<float> cond = eps({3, 8}), none = eps({10, 10});
  const std::vector<float> guided = apps::denoiser_of(model, {3, 8}, 2.0)(x, t).to_vector<float>();
  ASSERT_EQ(guided.size(), cond.size());
  double differs = 0;
  for (size_t i = 0; i < cond.size(); ++i) {
    EXPECT_NEAR(guided[i], 3.0 * cond[i] - 2.0 * none[i], 1e-4) << i;
    differs = std::max(differs, std::abs(double(cond[i]) - none[i]));
  }
  EXPECT_GT(differs, 1e-3);  // the labels matter, so the test could fail
  const std::vector<float> plain = apps::denoiser_of(model)(x, t).to_vector<float>();
  for (size_t i = 0; i < none.size(); ++i) ASSERT_FLOAT_EQ(plain[i], none[i]) << i;
}

// evaluate --quality on test images saved as "samples" with labels: the
// right labels agree everywhere, labels shifted by one nowhere.
TEST(LabelAgreement, EvaluateScoresSamplesFilesWithLabels) {
  const fs::path data = make_dataset("cond_eval_data", 200);
  const fs::path dir = empty_dir("cond_eval");
  const fs::path log = dir / "log.txt", classifier = dir / "clf.safetensors";
  const data::Dataset test = data::load_split(data.string(), false);
  std::vector<int64_t> idx;
  std::vector<int32_t> right, shifted;
  for (int i = 0; i < 20; ++i) {
    idx.push_back(i);
    right.push_back(test.labels.labels[i]);
    shifted.push_back((test.labels.labels[i] + 1) % 10);
  }
  const ag::Tensor images = data::to_tensor(test.images, idx);
  const std::string args = "--quality --data " + data.string() + " --classifier " +
                           classifier.string() + " --classifier-epochs 6 --samples ";
  for (const auto& [labels, expected] :
       {std::pair{right, "agreement with the asked label: 1.0000 of 20 samples"},
        std::pair{shifted, "agreement with the asked label: 0.0000 of 20 samples"}}) {
    const fs::path file = dir / "s.safetensors";
    io::save_safetensors(file.string(),
                         {{"samples", images}, {"labels", ag::from_vector(labels, {20})}});
    ASSERT_EQ(run_exe(EVALUATE_EXE, args + file.string(), log), 0) << read(log);
    EXPECT_NE(read(log).find("test accuracy 1.0000"), std::string::npos) << read(log);
    EXPECT_NE(read(log).find(expected), std::string::npos) << read(log);
  }
  io::save_safetensors(
      (dir / "bad.safetensors").string(),
      {{"samples", images}, {"labels", ag::from_vector(right, {20}).to(ag::DType::F32)}});
  expect_error(EVALUATE_EXE, args + (dir / "bad.safetensors").string(), log,
               "evaluate: error: " + (dir / "bad.safetensors").string() +
                   ": labels must be (N) int32, got float32 [20]\n");
}

// A conditional run of a few steps on the synthetic labelled set, shared by
// the tests below.
fs::path conditional_checkpoint(const fs::path& data, const fs::path& out,
                                const std::string& extra = "") {
  const fs::path log = out.string() + ".log";
  EXPECT_EQ(run_exe(TRAIN_MNIST_EXE,
                    "--data " + data.string() + " --out " + out.string() + kSmall +
                        " --steps 4 --cond --final-sampler ddim" + extra,
                    log),
            0)
      << read(log);
  EXPECT_NE(read(log).find("T 20; 10 classes, labels dropped with p 0.1; seed 0"),
            std::string::npos)
      << read(log);
  return out / "ckpt.safetensors";
}

TEST(ConditionalTraining, CheckpointRecordsTheClassesAndResumesExactly) {
  const fs::path data = make_dataset("cond_train_data", 40);
  const fs::path dir = empty_dir("cond_train");
  const fs::path ckpt = conditional_checkpoint(data, dir / "straight");
  const io::SafetensorsFile f = io::load_safetensors(ckpt.string());
  EXPECT_EQ(f.metadata.at("cond"), "true");
  EXPECT_EQ(f.metadata.at("p_uncond"), "0.1");
  EXPECT_NE(f.metadata.at("config").find("\"num_classes\":10"), std::string::npos);
  bool found = false;
  for (const auto& [name, t] : f.tensors)
    if (name == "model.label_emb.weight") {
      EXPECT_EQ(t.size(0), 11);  // ten classes and "no label"
      found = true;
    }
  EXPECT_TRUE(found);
  // Training reached the label embedding: rows moved from their initial values.
  const nn::UNet init(nn::checkpoint_config(ckpt.string()), 0);
  std::vector<float> before, after;
  for (const auto& [name, t] : init.named_parameters())
    if (name == "label_emb.weight") before = t.to_vector<float>();
  for (const auto& [name, t] : f.tensors)
    if (name == "model.label_emb.weight") after = t.to_vector<float>();
  ASSERT_EQ(before.size(), after.size());
  int64_t moved = 0;
  for (size_t i = 0; i < before.size(); ++i) moved += before[i] != after[i];
  EXPECT_GT(moved, 0);
  // The final samples carry the label each was drawn for: class i % 10.
  const io::SafetensorsFile s =
      io::load_safetensors((dir / "straight" / "samples.safetensors").string());
  ASSERT_EQ(s.tensors.size(), 2u);
  EXPECT_EQ(s.tensors[0].first, "labels");
  EXPECT_EQ(s.tensors[0].second.to_vector<int32_t>(), (std::vector<int32_t>{0, 1, 2, 3}));

  // 2 steps, then 2 more from the checkpoint: the same losses as 4 in one go
  // (the label draws continue the saved data stream).
  const fs::path log = dir / "log.txt", half = dir / "half";
  ASSERT_EQ(run_exe(TRAIN_MNIST_EXE,
                    "--data " + data.string() + " --out " + half.string() + kSmall +
                        " --steps 2 --cond --final-sampler ddim",
                    log),
            0)
      << read(log);
  ASSERT_EQ(run_exe(TRAIN_MNIST_EXE,
                    "--resume " + (half / "ckpt.safetensors").string() + " --steps 4", log),
            0)
      << read(log);
  EXPECT_EQ(read(half / "loss.csv"), read(dir / "straight" / "loss.csv"));
}

TEST(ConditionalTraining, MisusesAreOneLineErrors) {
  const fs::path dir = empty_dir("cond_errors");
  const fs::path data = make_dataset("cond_errors_data", 8), log = dir / "log.txt";
  expect_error(TRAIN_MNIST_EXE,
               "--data " + data.string() + " --out " + (dir / "c").string() + kSmall +
                   " --steps 1 --cond --p-uncond 0",
               log,
               "train_mnist: error: --p-uncond 0: guidance needs both the conditional and the "
               "unconditional model trained, so p must lie strictly between 0 and 1\n");
  expect_error(TRAIN_MNIST_EXE,
               "--data " + data.string() + " --out " + (dir / "a").string() + kSmall +
                   " --steps 1 --p-uncond 0.2",
               log,
               "train_mnist: error: --p-uncond drops labels of class-conditional training: add "
               "--cond\n");
  const fs::path pictures = dir / "pictures";
  fs::create_directories(pictures);
  for (const char* name : {"a.png", "b.png"})
    imaging::write_png((pictures / name).string(),
                       imaging::Image{28, 28, 1, std::vector<uint8_t>(28 * 28, 128)});
  expect_error(TRAIN_MNIST_EXE,
               "--data " + pictures.string() + " --out " + (dir / "b").string() + kSmall +
                   " --steps 1 --cond",
               log,
               "train_mnist: error: --cond trains on labels, and " + pictures.string() +
                   " has none (a folder of images): train without --cond\n");
}

TEST(ConditionalSampling, LabelsGridsAndErrors) {
  const fs::path data = make_dataset("cond_sample_data", 40);
  const fs::path dir = empty_dir("cond_sample");
  const fs::path ckpt = conditional_checkpoint(data, dir / "run"), log = dir / "log.txt";
  const std::string base =
      "--ckpt " + ckpt.string() + " --sampler ddim --sample-steps 2 --threads 1 --out ";
  const fs::path all = dir / "all";
  ASSERT_EQ(run_exe(SAMPLE_EXE, base + all.string() + " --label all -n 20 --save-tensor", log), 0)
      << read(log);
  EXPECT_NE(read(log).find("2 per class, guidance w = 1"), std::string::npos) << read(log);
  const io::SafetensorsFile s = io::load_safetensors((all / "samples.safetensors").string());
  ASSERT_EQ(s.tensors.size(), 2u);
  EXPECT_EQ(s.tensors[0].second.to_vector<int32_t>(),
            apps::repeat_each({0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, 2));
  EXPECT_EQ(s.tensors[1].second.size(0), 20);
  // Ten labelled rows of two: taller than wide.
  const auto [w, h] = png_size(all / "samples.png");
  EXPECT_GT(h, 2 * w) << w << "x" << h;

  const fs::path one = dir / "one";
  ASSERT_EQ(run_exe(SAMPLE_EXE, base + one.string() + " --label 3 -n 4 --guidance 2", log), 0)
      << read(log);
  EXPECT_NE(read(log).find("4 per class, guidance w = 2"), std::string::npos) << read(log);
  ASSERT_EQ(run_exe(SAMPLE_EXE, base + one.string() + " -n 2", log), 0) << read(log);  // no label

  const std::string e = "sample: error: ";
  expect_error(SAMPLE_EXE, base + one.string() + " --label 10", log,
               e + "--label 10 is not a class of this checkpoint, which has 10 (0 to 9)\n");
  expect_error(SAMPLE_EXE, base + one.string() + " --label 0,1 -n 3", log,
               e + "-n 3 does not split evenly between the 2 labels of --label 0,1\n");
  expect_error(SAMPLE_EXE, base + one.string() + " --guidance 2", log,
               e + "--guidance weighs the labels of --label: give --label too\n");
  const fs::path plain = dir / "plain";
  ASSERT_EQ(run_exe(TRAIN_MNIST_EXE,
                    "--data " + data.string() + " --out " + plain.string() + kSmall +
                        " --steps 1 --final-sampler ddim",
                    log),
            0)
      << read(log);
  const std::string plain_ckpt = (plain / "ckpt.safetensors").string();
  expect_error(SAMPLE_EXE, "--ckpt " + plain_ckpt + " --label 7 --out " + one.string(), log,
               e + "--label: this checkpoint is unconditional (trained without --cond)\n");
  expect_error(SAMPLE_EXE, "--ckpt " + plain_ckpt + " --guidance 1 --out " + one.string(), log,
               e + "--guidance: this checkpoint is unconditional (trained without --cond)\n");
  // Many images of one label wrap into rows of at most 16.
  ASSERT_EQ(run_exe(SAMPLE_EXE, base + one.string() + " --label 1,2 -n 40", log), 0) << read(log);
  const auto [w40, h40] = png_size(one / "samples.png");
  EXPECT_LT(w40, 3 * h40) << w40 << "x" << h40;  // 4 rows of 10 (645x258), not 2 of 20
}

TEST(ConditionalEvaluation, AgreementAndGuidanceSweep) {
  const fs::path data = make_dataset("cond_sweep_data", 200);
  const fs::path dir = empty_dir("cond_sweep");
  const fs::path ckpt = conditional_checkpoint(data, dir / "run", " --lr 0.01"),
                 log = dir / "log.txt";
  const std::string args = "--quality --ckpt " + ckpt.string() + " --data " + data.string() +
                           " --classifier " + (dir / "clf.safetensors").string() +
                           " --classifier-epochs 2 --sampler ddim --sample-steps 2 --threads 1 "
                           "--out " +
                           dir.string();
  ASSERT_EQ(run_exe(EVALUATE_EXE, args + " --label 0,5 -n 4", log), 0) << read(log);
  EXPECT_NE(read(log).find("agreement with the asked label:"), std::string::npos) << read(log);
  EXPECT_NE(read(log).find(" of 4 samples; per class:\n  0: "), std::string::npos) << read(log);

  ASSERT_EQ(run_exe(EVALUATE_EXE, args + " --guidance-sweep 0,2 -n 10", log), 0) << read(log);
  const std::string csv = read(dir / "guidance_sweep.csv");
  EXPECT_EQ(csv.rfind("w,agreement,worst_class,confidence,inception_score,frechet,agreement_0,", 0),
            0u)
      << csv;
  EXPECT_EQ(lines(dir / "guidance_sweep.csv"), 3);
  // Rows for w = 0 and w = 2, whose scores differ (guidance changed the samples).
  const size_t row0 = csv.find("\n0,"), row2 = csv.find("\n2,");
  ASSERT_NE(row0, std::string::npos) << csv;
  ASSERT_NE(row2, std::string::npos) << csv;
  EXPECT_NE(csv.substr(row0 + 3, csv.find('\n', row0 + 1) - row0 - 3),
            csv.substr(row2 + 3, csv.find('\n', row2 + 1) - row2 - 3))
      << csv;
  EXPECT_TRUE(fs::exists(dir / "guidance_sweep.png"));

  const std::string e = "evaluate: error: ";
  expect_error(
      EVALUATE_EXE, args + " --guidance-sweep 0,x", log,
      e + "--guidance-sweep: 'x' is not a guidance weight in [0, 100] (give e.g. 0,0.5,1,2,4)\n");
  expect_error(EVALUATE_EXE, args + " --label all --guidance 1 --guidance-sweep 0,1", log,
               e + "give one of --guidance or --guidance-sweep\n");
  expect_error(EVALUATE_EXE, args + " --guidance 1", log,
               e + "--guidance weighs the labels of --label: give --label too\n");
  expect_error(EVALUATE_EXE, "--nll --ckpt " + ckpt.string() + " --label 3", log,
               e + "--label, --guidance and --guidance-sweep are for --quality\n");
  // Without --data, the checkpoint's own training data.
  ASSERT_EQ(
      run_exe(EVALUATE_EXE, "--nll --ckpt " + ckpt.string() + " -n 2 --batch 2 --threads 1", log),
      0)
      << read(log);
  EXPECT_NE(read(log).find("[evaluate] --data " + data.string() + ", as " + ckpt.string() +
                           " was trained on"),
            std::string::npos)
      << read(log);
  EXPECT_NE(read(log).find("2 test images, T = 20"), std::string::npos) << read(log);
}

}  // namespace conditional_apps_test
