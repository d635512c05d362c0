namespace FinServerless.Native;

/// <summary>A native engine the platform loads, with where to look for it and how to install it.</summary>
public sealed record NativeEngine(
    string DisplayName,
    string PathSetting,
    IReadOnlyList<string> FileNames,
    IReadOnlyList<string> RepositoryRelativePaths,
    string InstallHint)
{
    /// <summary>XGBoost 1.7 from Debian's libxgboost0 (a CUDA build in the GPU image).</summary>
    public static NativeEngine XGBoost { get; } = new(
        "XGBoost",
        "FINSERVERLESS_XGBOOST_PATH",
        ["libxgboost.so.0", "libxgboost.so"],
        [],
        "run ./eng/setup.sh, or `sudo apt-get install libxgboost0 libxgboost-dev`, or set FINSERVERLESS_XGBOOST_PATH to a libxgboost.so");

    /// <summary>Our libtorch shim, compiled by the setup from training-container/native.</summary>
    public static NativeEngine TorchShim { get; } = new(
        "libtorch shim",
        "FINSERVERLESS_TORCH_SHIM_PATH",
        ["libfinserverless_torch.so"],
        ["training-container/native/build/libfinserverless_torch.so"],
        "run ./eng/setup.sh (it installs libtorch-dev and builds training-container/native), or set FINSERVERLESS_TORCH_SHIM_PATH");
}
