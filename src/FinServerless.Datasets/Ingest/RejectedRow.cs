namespace FinServerless.Datasets.Ingest;

/// <summary>One failure of a rejected row, ready for rejected.csv (value already masked and neutralized).</summary>
internal readonly record struct RejectedCell(string Column, string Rule, string Detail, string Value);

/// <summary>A rejected row as a worker saw it: where it is, its ids, and every failure.</summary>
internal sealed record RejectedRow(long Row, long Line, IReadOnlyDictionary<string, string> Ids, IReadOnlyList<RejectedCell> Failures);
