namespace MambaByte.Data;

/// <summary>One source given to <c>prepare</c>: the path as given, the requested format, and what was read from it.</summary>
public sealed record StoreSourceInfo(string Path, string Format, int Files, long InputBytes);
