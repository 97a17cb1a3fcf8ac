namespace MambaByte.Data;

/// <summary>
/// How sources are read. <see cref="Column"/> picks the Parquet/CSV column by name or zero-based index (default
/// <c>text</c>); <see cref="Field"/> the JSONL field (default <c>text</c>); <see cref="Delimiter"/> the CSV separator
/// (default: detected); <see cref="Glob"/> filters the files of folder sources by relative path (default: all files).
/// </summary>
public sealed record SourceOptions(
    SourceFormat Format = SourceFormat.Auto,
    string? Column = null,
    string? Field = null,
    char? Delimiter = null,
    string? Glob = null)
{
    public const string DefaultColumn = "text";

    public static SourceOptions Default { get; } = new();
}
