using FinServerless.Native;

namespace FinServerless.Onnx.Tests;

public sealed class NativeLibrariesTests
{
    private static readonly NativeEngine Missing = new(
        "Imaginary engine", "FINSERVERLESS_IMAGINARY_PATH", ["libfinserverless-imaginary.so.9"], ["eng/nowhere/libimaginary.so"], "install the imaginary package");

    [Fact]
    public void A_missing_engine_fails_with_where_it_looked_and_how_to_install_it()
    {
        var error = Assert.Throws<NativeLibraryNotFoundException>(() => NativeLibraries.Load(Missing, _ => null));

        Assert.Contains("Imaginary engine could not be found", error.Message);
        Assert.Contains("libfinserverless-imaginary.so.9", error.Message);
        Assert.Contains("install the imaginary package", error.Message);
    }

    [Fact]
    public void A_setting_that_points_nowhere_names_the_setting()
    {
        var error = Assert.Throws<NativeLibraryNotFoundException>(() =>
            NativeLibraries.Load(Missing, name => name == "FINSERVERLESS_IMAGINARY_PATH" ? "/no/such/lib.so" : null));

        Assert.Contains("FINSERVERLESS_IMAGINARY_PATH", error.Message);
        Assert.Contains("/no/such/lib.so", error.Message);
    }

    [Fact]
    public void A_missing_XGBoost_says_which_setting_and_how_to_install_it()
    {
        var error = Assert.Throws<NativeLibraryNotFoundException>(() =>
            NativeLibraries.LoadUncached(NativeEngine.XGBoost, name => name == "FINSERVERLESS_XGBOOST_PATH" ? "/opt/missing/libxgboost.so.0" : null));

        Assert.Contains("XGBoost", error.Message);
        Assert.Contains("FINSERVERLESS_XGBOOST_PATH", error.Message);
        Assert.Contains("./eng/setup.sh", error.Message);
    }

    [Fact]
    public void The_setting_overrides_every_other_place()
    {
        var candidates = NativeLibraries.Candidates(NativeEngine.XGBoost, name => name == "FINSERVERLESS_XGBOOST_PATH" ? "/opt/xgb/libxgboost.so" : null);

        Assert.Equal(["/opt/xgb/libxgboost.so"], candidates);
    }

    [Fact]
    public void Without_a_setting_the_repository_copy_installed_by_setup_is_a_candidate()
    {
        var candidates = NativeLibraries.Candidates(NativeEngine.TorchShim, _ => null);

        Assert.Contains(candidates, c => c.EndsWith("training-container/native/build/libfinserverless_torch.so", StringComparison.Ordinal));
    }
}
