using FinServerless.Benchmarks;

return args.FirstOrDefault() switch
{
    "storage" => await StorageBenchmark.RunAsync(args[1..]),
    "storage-worker" => await StorageBenchmark.WorkerAsync(args[1..]),
    "ingest" => await IngestBenchmark.RunAsync(args[1..]),
    "score" => await ScoreBenchmark.RunAsync(args[1..]),
    "durable" => await DurableBenchmark.RunAsync(args[1..]),
    "train" => await TrainBenchmark.RunAsync(args[1..]),
    "train-memory" => await TrainMemoryBenchmark.RunAsync(args[1..]),
    _ => Usage(),
};

static int Usage()
{
    Console.Error.WriteLine("""
        finserverless-bench <benchmark> [options]

          storage [--size-mib N] [--repeat N]   1 GiB upload/download: Azure.Storage.Blobs vs @azure/storage-blob, same Azurite
          ingest [--rows N] [--large-gib N]      5M-row validate+normalize: our ingest vs pandas; then a 2 GiB file for memory
          score [--rows N] [--rounds N]          5M rows, 300-tree XGBoost: our ORT scorer vs bare Run vs pandas + XGBoost
          durable                                work items/s of the Durable Task backend (the Durable extension under the local host), on Azurite
          train [--folds N]                      5-fold CV AUC and time of our trainers vs the Python twins (same folds)
          train-memory [SCALE[:ROUNDS] ...]      the function app's memory during TrainModel on Taiwan ×1, ×10, ×30 (and ×1 trained as long as ×30)
        """);
    return 2;
}
