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
    public void A_missing_ONNX_Runtime_says_which_setting_and_how_to_install_it()
    {
        var error = Assert.Throws<NativeLibraryNotFoundException>(() =>
            NativeLibraries.LoadUncached(NativeEngine.OnnxRuntime, name => name == "FINSERVERLESS_ORT_PATH" ? "/opt/missing/libonnxruntime.so.1" : null));

        Assert.Contains("ONNX Runtime", error.Message);
        Assert.Contains("FINSERVERLESS_ORT_PATH", error.Message);
        Assert.Contains("./eng/setup.sh", error.Message);
    }

    [Fact]
    public void The_setting_overrides_every_other_place()
    {
        var candidates = NativeLibraries.Candidates(NativeEngine.OnnxRuntime, name => name == "FINSERVERLESS_ORT_PATH" ? "/opt/ort/libonnxruntime.so" : null);

        Assert.Equal(["/opt/ort/libonnxruntime.so"], candidates);
    }

    [Fact]
    public void Without_a_setting_the_repository_copy_installed_by_setup_is_a_candidate()
    {
        var candidates = NativeLibraries.Candidates(NativeEngine.OnnxRuntime, _ => null);

        Assert.Contains(candidates, c => c.EndsWith("eng/node_modules/onnxruntime-node/bin/napi-v6/linux/x64/libonnxruntime.so.1", StringComparison.Ordinal));
    }
}
