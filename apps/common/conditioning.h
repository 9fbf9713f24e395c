// Class labels as the programs take them (Ho & Salimans 2022, classifier-free
// guidance): --label's text, the names of a dataset's classes, and the
// denoiser a sampler calls for a conditional model.
#pragma once
#include <CLI/CLI.hpp>
#include <cstdint>
#include <string>
#include <vector>

#include "diffusion/guidance.h"
#include "nn/unet.h"

namespace apps {

// The guidance weight w when --guidance is not given: eps~ = (1 + w) eps(x, y)
// - w eps(x, no label). docs/evaluation.md measures other values.
constexpr double kDefaultGuidance = 1.0;

// Throws "<flag>: this checkpoint is unconditional (trained without --cond)"
// for a model of no classes.
void require_conditional(const std::string& flag, int64_t num_classes);

// --label: "7", "0,3,7" or "all" (every class in order) for a model of
// num_classes classes (0: unconditional). Throws a one-line error for an
// unconditional model, a label outside [0, num_classes) or text that is not
// such a list.
std::vector<int32_t> parse_labels(const std::string& text, int64_t num_classes);

// The name of class k of a dataset as train_mnist's --data names it:
// Fashion-MNIST's ("T-shirt/top", ..., "Ankle boot") for "fashion", the
// number k otherwise (MNIST's digits).
std::string class_name(const std::string& dataset, int64_t k);

// The images per label when n images are split evenly between `labels`;
// a one-line error naming --label `text` when they do not split so.
int64_t per_label(int64_t n, const std::vector<int32_t>& labels, const std::string& text);

// Each label `per` times in a row: the labels of a grid with one row per label.
std::vector<int32_t> repeat_each(const std::vector<int32_t>& labels, int64_t per);

// The denoiser the samplers call: the model itself when `labels` is empty
// (a conditional model then sees the null label), else classifier-free
// guidance of weight w towards one label per image.
diffusion::Denoiser denoiser_of(const nn::UNet& model, const std::vector<int32_t>& labels = {},
                                double w = 0);

// sample's and evaluate's --label TEXT and --guidance W.
void add_label_flags(CLI::App& app, std::string& label, double& guidance);

}  // namespace apps
