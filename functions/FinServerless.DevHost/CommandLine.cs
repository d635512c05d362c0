using FinServerless.Azurite;

namespace FinServerless.DevHost;

/// <summary>The dev host's verbs.</summary>
internal static class CommandLine
{
    private const string Usage = """
        finserverless-devhost <verb> [options]

          demo [--sample PATH]   end-to-end demo on a real sample file (Azurite started and stopped for you)
          azurite                start Azurite on free ports and print its connection string until Ctrl+C
        """;

    public static async Task<int> RunAsync(string[] args)
    {
        using var cancel = new CancellationTokenSource();
        Console.CancelKeyPress += (_, e) =>
        {
            e.Cancel = true;
            cancel.Cancel();
        };

        try
        {
            return args.FirstOrDefault() switch
            {
                "demo" => await Demo.RunAsync(Option(args, "--sample"), Console.Out, cancel.Token),
                "azurite" => await RunAzuriteAsync(cancel.Token),
                null or "-h" or "--help" or "help" => PrintUsage(0),
                var other => PrintUsage(2, $"Unknown verb '{other}'."),
            };
        }
        catch (OperationCanceledException) when (cancel.IsCancellationRequested)
        {
            Console.Error.WriteLine("Cancelled.");
            return 130;
        }
        catch (Exception ex) when (ex is InvalidOperationException or FinServerless.Native.NativeLibraryNotFoundException or IOException or Azure.RequestFailedException)
        {
            Console.Error.WriteLine($"error: {ex.Message}");
            return 1;
        }
    }

    private static string? Option(string[] args, string name)
    {
        var i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
    }

    private static int PrintUsage(int code, string? problem = null)
    {
        if (problem is not null)
        {
            Console.Error.WriteLine(problem);
        }

        (code == 0 ? Console.Out : Console.Error).WriteLine(Usage);
        return code;
    }

    private static async Task<int> RunAzuriteAsync(CancellationToken cancellationToken)
    {
        await using var azurite = await AzuriteServer.StartAsync(cancellationToken: cancellationToken);
        Console.WriteLine(azurite);
        Console.WriteLine($"AzureWebJobsStorage={azurite.ConnectionString}");
        Console.WriteLine("Press Ctrl+C to stop.");
        try
        {
            await Task.Delay(Timeout.Infinite, cancellationToken);
        }
        catch (OperationCanceledException)
        {
        }

        return 0;
    }
}
