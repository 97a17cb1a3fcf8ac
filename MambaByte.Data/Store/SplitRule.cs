namespace MambaByte.Data;

/// <summary>
/// How documents were assigned to splits: by the sources' own train/validation/test folders where a document had
/// one (<see cref="FolderDocuments"/>), else by a stable hash of (seed, document bytes) against <see cref="Fractions"/>.
/// </summary>
public sealed record SplitRule(IReadOnlyList<string> Names, IReadOnlyList<double> Fractions, ulong Seed, long FolderDocuments, long HashedDocuments);
