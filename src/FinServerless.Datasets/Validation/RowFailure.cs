namespace FinServerless.Datasets.Validation;

/// <summary>Rules a row can break; their names appear in rejected.csv and report.json.</summary>
public static class Rules
{
    /// <summary>The row has a different number of fields than the header.</summary>
    public const string FieldCount = "field_count";
    /// <summary>A required value is missing.</summary>
    public const string NotNull = "not_null";
    /// <summary>The value does not parse as the column's type.</summary>
    public const string Type = "type";
    /// <summary>The value is below the column's minimum.</summary>
    public const string Min = "min";
    /// <summary>The value is above the column's maximum.</summary>
    public const string Max = "max";
    /// <summary>The value is not one of the allowed values.</summary>
    public const string Allowed = "allowed";
    /// <summary>The target's value is not one the contract maps to a label (targetValues).</summary>
    public const string TargetValue = "target_value";
    /// <summary>The row is not valid UTF-8.</summary>
    public const string Encoding = "encoding";
}

/// <summary>One broken rule in one cell.</summary>
public readonly record struct RowFailure(int ColumnIndex, string Rule, string Detail);
