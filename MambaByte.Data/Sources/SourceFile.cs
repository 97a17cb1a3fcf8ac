namespace MambaByte.Data;

/// <summary>One input file found in a source, with its resolved format and the split its folders name, if any.</summary>
public sealed record SourceFile(string FullPath, string RelativePath, SourceFormat Format, string? SplitHint, long Length);
