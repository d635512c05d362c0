// FinServerless libtorch shim: a multilayer perceptron for binary classification, and a dense autoencoder whose
// reconstruction error is an outlier score, trained in C++ and driven from C# through a flat extern "C" surface.
// Only the stable C++ frontend is used (modules, Adam, tensors) so the same file builds against Debian's CPU libtorch 1.13 and a CUDA libtorch from a PyTorch installation.
//
// Every entry point returns 0 on success and -1 on failure with the message written to `error` (never throws
// across the boundary). Parameters are exchanged as one float buffer: for each Linear layer in order, its weight
// [out, in] row-major, then its bias [out].
#include <torch/torch.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <exception>
#include <memory>
#include <string>
#include <vector>

namespace {

struct Mlp {
  explicit Mlp(torch::Device d) : device(d) {}
  torch::nn::Sequential net;
  std::vector<torch::nn::Linear> linears;
  std::unique_ptr<torch::optim::Adam> optimizer;
  torch::Device device;
  torch::Tensor x;
  torch::Tensor y;
  // An autoencoder reconstructs its input (last layer as wide as the input, mean squared error) instead of
  // predicting a label; its "prediction" is each row's mean squared reconstruction error.
  bool autoencoder = false;
};

int report(char* error, int32_t capacity, const std::string& message) {
  if (error != nullptr && capacity > 0) {
    const auto n = std::min<size_t>(message.size(), static_cast<size_t>(capacity - 1));
    std::memcpy(error, message.data(), n);
    error[n] = '\0';
  }
  return -1;
}

template <typename F>
int guarded(char* error, int32_t capacity, F&& body) {
  try {
    body();
    return 0;
  } catch (const c10::Error& e) {
    return report(error, capacity, e.what_without_backtrace());
  } catch (const std::exception& e) {
    return report(error, capacity, e.what());
  } catch (...) {
    return report(error, capacity, "unknown C++ exception in the libtorch shim");
  }
}

torch::Tensor host_matrix(const float* data, int64_t rows, int64_t columns) {
  return torch::from_blob(const_cast<float*>(data), {rows, columns}, torch::kFloat32);
}

// Hidden Linear + ReLU (+ Dropout) layers, then a Linear of `outputs`; Adam over all of it. Shared by the MLP and the
// autoencoder, which differ in their last layer's width and their loss.
void build(int64_t inputs, const int64_t* hidden, int32_t layers, float dropout, int64_t outputs, float learning_rate,
           float weight_decay, uint64_t seed, int32_t use_cuda, int32_t threads, bool autoencoder, void** handle) {
  if (inputs <= 0) throw std::invalid_argument(autoencoder ? "the autoencoder needs at least one input feature" : "the MLP needs at least one input feature");
  if (use_cuda != 0 && !torch::cuda::is_available())
    throw std::runtime_error("device cuda was requested but libtorch sees no CUDA device");
  if (threads > 0) torch::set_num_threads(threads);
  torch::manual_seed(seed);
  auto model = std::make_unique<Mlp>(use_cuda != 0 ? torch::Device(torch::kCUDA) : torch::Device(torch::kCPU));
  model->autoencoder = autoencoder;
  int64_t width = inputs;
  for (int32_t i = 0; i < layers; ++i) {
    if (hidden[i] <= 0) throw std::invalid_argument("hidden layer sizes must be positive");
    auto linear = torch::nn::Linear(width, hidden[i]);
    model->linears.push_back(linear);
    model->net->push_back(linear);
    model->net->push_back(torch::nn::ReLU());
    if (dropout > 0) model->net->push_back(torch::nn::Dropout(dropout));
    width = hidden[i];
  }
  auto last = torch::nn::Linear(width, outputs);
  model->linears.push_back(last);
  model->net->push_back(last);
  model->net->to(model->device);
  model->optimizer = std::make_unique<torch::optim::Adam>(
      model->net->parameters(), torch::optim::AdamOptions(learning_rate).weight_decay(weight_decay));
  *handle = model.release();
}

}  // namespace

extern "C" {

const char* fs_torch_version() { return TORCH_VERSION; }

int32_t fs_torch_cuda_available() { return torch::cuda::is_available() ? 1 : 0; }

int32_t fs_mlp_create(int64_t inputs, const int64_t* hidden, int32_t layers, float dropout, float learning_rate,
                      float weight_decay, uint64_t seed, int32_t use_cuda, int32_t threads, void** handle,
                      char* error, int32_t capacity) {
  return guarded(error, capacity, [&] {
    build(inputs, hidden, layers, dropout, 1, learning_rate, weight_decay, seed, use_cuda, threads, false, handle);
  });
}

int32_t fs_ae_create(int64_t inputs, const int64_t* hidden, int32_t layers, float learning_rate, float weight_decay,
                     uint64_t seed, int32_t use_cuda, int32_t threads, void** handle, char* error, int32_t capacity) {
  return guarded(error, capacity, [&] {
    if (layers <= 0) throw std::invalid_argument("the autoencoder needs at least one hidden layer");
    build(inputs, hidden, layers, 0, inputs, learning_rate, weight_decay, seed, use_cuda, threads, true, handle);
  });
}

int32_t fs_mlp_set_data(void* handle, const float* x, const float* y, int64_t rows, char* error, int32_t capacity) {
  return guarded(error, capacity, [&] {
    auto* model = static_cast<Mlp*>(handle);
    const auto inputs = model->linears.front()->options.in_features();
    model->x = host_matrix(x, rows, inputs).to(model->device, /*non_blocking=*/false, /*copy=*/true);
    if (!model->autoencoder) {
      if (y == nullptr) throw std::invalid_argument("a classifier needs labels");
      model->y = host_matrix(y, rows, 1).to(model->device, false, true);
    }
  });
}

int32_t fs_mlp_train_epoch(void* handle, int64_t batch, float positive_weight, double* mean_loss, char* error,
                           int32_t capacity) {
  return guarded(error, capacity, [&] {
    auto* model = static_cast<Mlp*>(handle);
    if (!model->x.defined()) throw std::runtime_error("fs_mlp_set_data was not called");
    model->net->train();
    const auto rows = model->x.size(0);
    auto order = torch::randperm(rows, torch::TensorOptions().dtype(torch::kLong)).to(model->device);
    auto loss_options = torch::nn::functional::BinaryCrossEntropyWithLogitsFuncOptions();
    if (positive_weight != 1.0f)
      loss_options.pos_weight(torch::full({1}, positive_weight, torch::TensorOptions().device(model->device)));
    double total = 0;
    for (int64_t start = 0; start < rows; start += batch) {
      auto index = order.slice(0, start, std::min(start + batch, rows));
      auto input = model->x.index_select(0, index);
      auto output = model->net->forward(input);
      auto loss = model->autoencoder
                      ? torch::mse_loss(output, input)
                      : torch::nn::functional::binary_cross_entropy_with_logits(output, model->y.index_select(0, index),
                                                                                loss_options);
      model->optimizer->zero_grad();
      loss.backward();
      model->optimizer->step();
      total += loss.item<double>() * static_cast<double>(index.size(0));
    }
    *mean_loss = total / static_cast<double>(rows);
  });
}

int32_t fs_mlp_predict(void* handle, const float* x, int64_t rows, float* probabilities, char* error,
                       int32_t capacity) {
  return guarded(error, capacity, [&] {
    auto* model = static_cast<Mlp*>(handle);
    torch::NoGradGuard no_grad;
    model->net->eval();
    const auto inputs = model->linears.front()->options.in_features();
    constexpr int64_t chunk = 65536;
    for (int64_t start = 0; start < rows; start += chunk) {
      const auto n = std::min(chunk, rows - start);
      auto input = host_matrix(x + start * inputs, n, inputs).to(model->device);
      auto output = model->net->forward(input);
      auto p = (model->autoencoder ? (output - input).pow(2).mean(1) : torch::sigmoid(output).reshape({n}))
                   .to(torch::kCPU)
                   .contiguous();
      std::memcpy(probabilities + start, p.data_ptr<float>(), static_cast<size_t>(n) * sizeof(float));
    }
  });
}

int64_t fs_mlp_parameter_count(void* handle) {
  auto* model = static_cast<Mlp*>(handle);
  int64_t count = 0;
  for (auto& linear : model->linears) count += linear->weight.numel() + linear->bias.numel();
  return count;
}

int32_t fs_mlp_get_parameters(void* handle, float* buffer, int64_t count, char* error, int32_t capacity) {
  return guarded(error, capacity, [&] {
    auto* model = static_cast<Mlp*>(handle);
    if (count != fs_mlp_parameter_count(handle)) throw std::invalid_argument("parameter buffer has the wrong size");
    int64_t offset = 0;
    for (auto& linear : model->linears) {
      for (const auto& t : {linear->weight, linear->bias}) {
        auto host = t.detach().to(torch::kCPU).contiguous();
        std::memcpy(buffer + offset, host.data_ptr<float>(), static_cast<size_t>(host.numel()) * sizeof(float));
        offset += host.numel();
      }
    }
  });
}

int32_t fs_mlp_set_parameters(void* handle, const float* buffer, int64_t count, char* error, int32_t capacity) {
  return guarded(error, capacity, [&] {
    auto* model = static_cast<Mlp*>(handle);
    if (count != fs_mlp_parameter_count(handle)) throw std::invalid_argument("parameter buffer has the wrong size");
    torch::NoGradGuard no_grad;
    int64_t offset = 0;
    for (auto& linear : model->linears) {
      for (auto t : {linear->weight, linear->bias}) {
        auto source = torch::from_blob(const_cast<float*>(buffer + offset), t.sizes(), torch::kFloat32);
        t.copy_(source.to(t.device()));
        offset += t.numel();
      }
    }
  });
}

void fs_mlp_free(void* handle) { delete static_cast<Mlp*>(handle); }

}  // extern "C"
