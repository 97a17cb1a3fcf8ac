namespace MambaByte.Data;

/// <summary>How a source file is read. <see cref="Auto"/> decides by extension (.parquet, .csv/.tsv, .jsonl/.ndjson, else text).</summary>
public enum SourceFormat
{
    Auto,
    Text,
    Parquet,
    Csv,
    Jsonl,
}
