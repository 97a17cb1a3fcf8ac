namespace MambaByte.Data;

/// <summary>One file of a shipped dataset: path relative to the dataset folder ('/'-separated), size and SHA-256.</summary>
public sealed record DatasetFile(string Path, long Bytes, string Sha256);
