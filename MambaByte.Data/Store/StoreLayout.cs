namespace MambaByte.Data;

/// <summary>File names inside a store directory and the fixed split names.</summary>
public static class StoreLayout
{
    public const string Train = "train";
    public const string Validation = "validation";
    public const string Test = "test";

    /// <summary>The splits every store has, in this order (a split may hold no documents).</summary>
    public static readonly IReadOnlyList<string> SplitNames = [Train, Validation, Test];

    /// <summary>Bytes per document entry in <c>.idx</c>: int64 start and int64 length, little-endian.</summary>
    public const int IndexEntryBytes = 16;

    public static string DataFile(string directory, string split) => Path.Combine(directory, split + ".bin");

    public static string IndexFile(string directory, string split) => Path.Combine(directory, split + ".idx");

    public static string ManifestFile(string directory) => Path.Combine(directory, StoreManifest.FileName);
}
