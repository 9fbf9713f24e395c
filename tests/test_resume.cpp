// train_mnist's runs can be trusted to continue and to fail safely: --resume
// alone restores every setting (a conflicting flag is a one-line error), a
// run killed with SIGKILL after a checkpoint resumes to the very same
// tensors and loss.csv as a run that never stopped, the Ctrl-C hint works as
// printed, and steps whose loss is not finite change no weight and stop the
// run after ten in a row, leaving the last checkpoint as it was.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <sstream>
#include <thread>

#include "app_helpers.h"
#include "io/safetensors.h"

namespace {

using namespace apps_test;

int train(const std::string& args, const fs::path& log) {
  return run_exe(TRAIN_MNIST_EXE, args, log);
}

fs::path fresh_dir(const std::string& name) {
  const fs::path dir = fs::path(::testing::TempDir()) / name;
  fs::remove_all(dir);
  return dir;
}

// Every tensor of two safetensors files equal bit for bit, and the given
// metadata keys equal.
void expect_same_tensors(const fs::path& a, const fs::path& b,
                         const std::vector<std::string>& keys) {
  const io::SafetensorsFile fa = io::load_safetensors(a.string());
  const io::SafetensorsFile fb = io::load_safetensors(b.string());
  ASSERT_EQ(fa.tensors.size(), fb.tensors.size());
  for (size_t i = 0; i < fa.tensors.size(); ++i) {
    const auto& [name, ta] = fa.tensors[i];
    const auto& [name_b, tb] = fb.tensors[i];
    ASSERT_EQ(name, name_b);
    ASSERT_EQ(ta.shape(), tb.shape()) << name;
    const std::vector<float> va = ta.to_vector<float>(), vb = tb.to_vector<float>();
    EXPECT_EQ(std::memcmp(va.data(), vb.data(), va.size() * sizeof(float)), 0) << name;
  }
  for (const std::string& k : keys) EXPECT_EQ(fa.metadata.at(k), fb.metadata.at(k)) << k;
}

const std::vector<std::string> kStateKeys = {"step",     "adam_step",   "ema_updates",
                                             "rng.data", "rng.dropout", "smoothed_loss"};

// Starts train_mnist with `args` in the background, output to `log`.
pid_t start(const std::string& args, const fs::path& log) {
  const std::string cmd =
      "exec " + std::string(TRAIN_MNIST_EXE) + " " + args + " > " + log.string() + " 2>&1";
  const pid_t pid = fork();
  if (pid == 0) {
    execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  return pid;
}

}  // namespace

TEST(Resume, CheckpointAloneRestoresEverySetting) {
  const fs::path data = make_dataset("resume_settings_data", 16);
  const fs::path out = fresh_dir("resume_settings_run"), log = out.string() + ".log";
  ASSERT_EQ(train("--data " + data.string() + " --out " + out.string() + kSmall +
                      " --steps 2 --lr 1e-3 --var small --warmup 5 --clip 0.5 --ema 0.99 --seed 7"
                      " --subset 12 --final-sampler ddim",
                  log),
            0)
      << read(log);
  const std::string ckpt = (out / "ckpt.safetensors").string();
  const io::Metadata md = io::load_safetensors(ckpt).metadata;
  EXPECT_EQ(md.at("lr"), "0.001");
  EXPECT_EQ(md.at("var"), "small");
  EXPECT_EQ(md.at("seed"), "7");
  EXPECT_EQ(md.at("subset"), "12");
  EXPECT_EQ(md.at("clip"), "0.5");
  EXPECT_EQ(md.at("batch"), "4");
  EXPECT_EQ(md.at("steps"), "2");
  EXPECT_EQ(md.at("threads"), "1");
  EXPECT_EQ(md.at("t_sampler"), "uniform");
  EXPECT_EQ(md.at("hybrid_lambda"), "0.001");
  EXPECT_EQ(md.at("linear_betas"), "scaled");

  // Nothing but the checkpoint and a new budget: the settings come back.
  ASSERT_EQ(train("--resume " + ckpt + " --steps 3", log), 0) << read(log);
  EXPECT_NE(read(log).find(
                "[train] 3 steps, batch 4, lr 0.001 (warm-up 5), clip 0.5, EMA 0.99; "
                "loss simple, t uniform, param eps, var small, schedule linear, T 20; seed 7\n"),
            std::string::npos)
      << read(log);
  EXPECT_EQ(io::load_safetensors(ckpt).metadata.at("step"), "3");
  EXPECT_EQ(lines(out / "loss.csv"), 1 + 3);
  // The same value spelt otherwise is no conflict.
  ASSERT_EQ(train("--resume " + ckpt + " --steps 4 --lr 0.0010 --var small", log), 0) << read(log);

  const std::string before = read(ckpt);
  EXPECT_EQ(train("--resume " + ckpt + " --lr 2e-4", log), 1);
  EXPECT_EQ(read(log), "train_mnist: error: --lr 0.0002 conflicts with " + ckpt +
                           ", trained with --lr 0.001 (on --resume only --steps, --minutes, "
                           "--ckpt-every, --sample-every, --device, --threads and --out may "
                           "change)\n");
  EXPECT_EQ(train("--resume " + ckpt + " --var large", log), 1);
  EXPECT_NE(read(log).find("--var large conflicts with " + ckpt + ", trained with --var small"),
            std::string::npos)
      << read(log);
  EXPECT_EQ(train("--resume " + ckpt + " --preset small", log), 1);
  EXPECT_NE(read(log).find("--preset small conflicts"), std::string::npos) << read(log);
  EXPECT_EQ(read(ckpt), before);  // refused runs leave the checkpoint alone
}

// A checkpoint from before the settings were stored (only the diffusion
// settings) still resumes, with the command line's values for the rest.
TEST(Resume, OldCheckpointTakesTheCommandLine) {
  const fs::path data = make_dataset("resume_old_data", 16);
  const fs::path out = fresh_dir("resume_old_run"), log = out.string() + ".log";
  ASSERT_EQ(train("--data " + data.string() + " --out " + out.string() + kSmall + " --steps 1" +
                      " --final-sampler ddim",
                  log),
            0)
      << read(log);
  const std::string ckpt = (out / "ckpt.safetensors").string();
  io::SafetensorsFile f = io::load_safetensors(ckpt);
  io::Metadata old;
  for (const char* k : {"config", "step", "adam_step", "ema_updates", "rng.data", "rng.dropout",
                        "schedule", "T", "param", "var", "loss", "dataset"})
    old[k] = f.metadata.at(k);
  io::save_safetensors(ckpt, f.tensors, old);
  ASSERT_EQ(train("--resume " + ckpt + kSmall + " --steps 2 --final-sampler ddim", log), 0)
      << read(log);
  // Written before the linear schedule scaled with T: its T = 20 keeps the
  // unscaled betas, and says so in the checkpoint it writes now.
  EXPECT_EQ(io::load_safetensors(ckpt).metadata.at("linear_betas"), "unscaled");
  EXPECT_NE(read(log).find("does not store --preset --subset --resolution --channels --flip --cond "
                           "--p-uncond --batch --lr"),
            std::string::npos)
      << read(log);
  EXPECT_NE(read(log).find("resumed " + ckpt + " at step 1"), std::string::npos) << read(log);
  EXPECT_EQ(train("--resume " + ckpt + kSmall + " --steps 3 --var small", log), 1);
  EXPECT_NE(read(log).find("--var small conflicts"), std::string::npos) << read(log);
}

// 8 steps straight vs 4 steps, SIGKILL (no handler runs) as soon as the
// step-4 checkpoint is on disk, then --resume: the final checkpoint's model,
// EMA and Adam tensors, the samples and loss.csv (cut back to step 4 on
// resume, whatever the killed run logged after it) are bit for bit the same.
TEST(Resume, KilledRunResumesBitwise) {
  const fs::path data = make_dataset("resume_kill_data", 40);
  const std::string flags =
      std::string(" --data ") + data.string() + kSmall + " --ckpt-every 4 --final-sampler ddim";
  const fs::path straight = fresh_dir("resume_kill_straight");
  ASSERT_EQ(train("--out " + straight.string() + flags + " --steps 8", straight.string() + ".log"),
            0)
      << read(straight.string() + ".log");

  const fs::path killed = fresh_dir("resume_kill_run"), log = killed.string() + ".log";
  const fs::path ckpt = killed / "ckpt.safetensors";
  const pid_t pid = start("--out " + killed.string() + flags + " --steps 100000", log);
  ASSERT_GT(pid, 0);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(5);
  while (!fs::exists(ckpt) && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFSIGNALED(status)) << read(log);
  ASSERT_TRUE(fs::exists(ckpt)) << read(log);
  const int64_t at = std::stoll(io::load_safetensors(ckpt.string()).metadata.at("step"));
  ASSERT_EQ(at, 4) << "the run passed step 8 before it was killed";

  ASSERT_EQ(train("--resume " + ckpt.string() + " --steps 8", log), 0) << read(log);
  EXPECT_NE(read(log).find("resumed " + ckpt.string() + " at step " + std::to_string(at)),
            std::string::npos)
      << read(log);
  expect_same_tensors(straight / "ckpt.safetensors", ckpt, kStateKeys);
  expect_same_tensors(straight / "samples.safetensors", killed / "samples.safetensors", {});
  EXPECT_EQ(read(straight / "loss.csv"), read(killed / "loss.csv"));
  EXPECT_EQ(lines(killed / "loss.csv"), 1 + 8);
}

// Ctrl-C prints the command that goes on; run as printed, it resumes.
TEST(Resume, InterruptHintWorksAsPrinted) {
  const fs::path data = make_dataset("resume_hint_data", 16);
  const fs::path out = fresh_dir("resume_hint_run"), log = out.string() + ".log";
  const std::string exe = "timeout --preserve-status -s INT 3 " + std::string(TRAIN_MNIST_EXE);
  ASSERT_EQ(run_exe(exe.c_str(),
                    "--data " + data.string() + " --out " + out.string() + kSmall +
                        " --steps 100000000 --lr 1e-3 --var small",
                    log),
            130)
      << read(log);
  const std::string printed = read(log);
  const std::string tag = "interrupted; to go on: ";
  const auto at = printed.find(tag);
  ASSERT_NE(at, std::string::npos) << printed;
  const std::string command =
      printed.substr(at + tag.size(), printed.find('\n', at) - at - tag.size());
  const fs::path log2 = out.string() + "_2.log";
  EXPECT_EQ(run_exe(("timeout --preserve-status -s INT 3 " + command).c_str(), "", log2), 130)
      << read(log2);
  EXPECT_NE(read(log2).find("[train] resumed "), std::string::npos) << read(log2);
  EXPECT_NE(read(log2).find("lr 0.001 (warm-up 200)"), std::string::npos) << read(log2);
  EXPECT_NE(read(log2).find("var small"), std::string::npos) << read(log2);
}

// A learning rate of 1e30 makes the second step's loss NaN: every later step
// is skipped with a warning (no Adam or EMA update, no checkpoint), and the
// tenth in a row stops the run with a one-line error, leaving the step-1
// checkpoint byte for byte as it was.
TEST(Resume, NonFiniteStepsAreSkippedThenStopTheRun) {
  const fs::path data = make_dataset("nan_data", 16);
  const fs::path out = fresh_dir("nan_run"), log = out.string() + ".log";
  ASSERT_EQ(train("--data " + data.string() + " --out " + out.string() + kSmall +
                      " --steps 1 --warmup 0 --lr 1e30",
                  log),
            0)
      << read(log);
  const fs::path ckpt = out / "ckpt.safetensors";
  const std::string good = read(ckpt);
  EXPECT_EQ(train("--resume " + ckpt.string() + " --steps 40 --ckpt-every 1", log), 1);
  const std::string s = read(log);
  EXPECT_NE(s.find("[train] warning: step 2 skipped (loss"), std::string::npos) << s;
  EXPECT_NE(s.find("not finite); 10 in a row, 10 in all\n"), std::string::npos) << s;
  EXPECT_NE(s.find("train_mnist: error: 10 steps in a row (to step 11) had a loss or gradient "
                   "that is not finite; stopped without saving (" +
                   ckpt.string() + " is the last good checkpoint); try a lower --lr\n"),
            std::string::npos)
      << s;
  EXPECT_EQ(read(ckpt), good);
  EXPECT_EQ(lines(out / "loss.csv"), 1 + 11);
}

// Training on the bound with importance-sampled t keeps the sampler's
// history in the checkpoint: with T = 2 and 4 images a step both terms have
// their 10 values after 5 steps at the earliest (the test checks that both
// do by step 10), after which t is drawn from Eq. 18's p_t. 10 steps
// straight and 5 steps then --resume give the same tensors, loss.csv and
// history.
TEST(Resume, ImportanceSamplerHistoryResumesBitwise) {
  const fs::path data = make_dataset("resume_importance_data", 40);
  const std::string flags = std::string(" --data ") + data.string() +
                            " --T 2 --batch 4 --sample-n 4 --sample-steps 2 --sample-every 0"
                            " --threads 1 --learn-sigma --loss vlb --t-sampler importance"
                            " --ckpt-every 5 --final-sampler ddim";
  const fs::path straight = fresh_dir("resume_importance_straight");
  const fs::path split = fresh_dir("resume_importance_split"), log = split.string() + ".log";
  ASSERT_EQ(train("--out " + straight.string() + flags + " --steps 10", log), 0) << read(log);
  ASSERT_EQ(train("--out " + split.string() + flags + " --steps 5", log), 0) << read(log);
  const fs::path ckpt = split / "ckpt.safetensors";
  ASSERT_EQ(train("--resume " + ckpt.string() + " --steps 10", log), 0) << read(log);
  std::vector<std::string> keys = kStateKeys;
  keys.push_back("t_sampler_history");
  expect_same_tensors(straight / "ckpt.safetensors", ckpt, keys);
  EXPECT_EQ(read(straight / "loss.csv"), read(split / "loss.csv"));
  // Both terms hold their 10 values: "10 v1 ... v10" per line.
  std::istringstream history(io::load_safetensors(ckpt.string()).metadata.at("t_sampler_history"));
  std::string line;
  int terms = 0;
  while (std::getline(history, line)) {
    EXPECT_EQ(line.rfind("10 ", 0), 0u) << line;
    ++terms;
  }
  EXPECT_EQ(terms, 2);
  // While p is uniform the draws are uniform t's very draws (the same
  // uniforms, the same inversion), so a --t-sampler uniform run logs the same
  // first 5 losses; Eq. 18's p_t and its weights change the last.
  const fs::path uniform = fresh_dir("resume_importance_uniform");
  std::string flags_uniform = flags;
  const std::string importance = "--t-sampler importance";
  flags_uniform.replace(flags_uniform.find(importance), importance.size(), "--t-sampler uniform");
  ASSERT_EQ(train("--out " + uniform.string() + flags_uniform + " --steps 10", log), 0)
      << read(log);
  std::istringstream a(read(straight / "loss.csv")), b(read(uniform / "loss.csv"));
  std::string row_a, row_b;
  for (int row = 0; row <= 10; ++row) {
    ASSERT_TRUE(std::getline(a, row_a) && std::getline(b, row_b)) << row;
    if (row <= 5) {
      EXPECT_EQ(row_a, row_b) << row;
    }
  }
  EXPECT_NE(row_a, row_b);
}
